"""App domains (Dokku's ``domains`` plugin), kept as list properties.

``domains/<app>/vhosts`` holds the app's names; ``domains/--global/vhosts`` holds the
server's global domains. As in Dokku, an app created while global domains exist is given
``APP.DOMAIN`` for each (``default_domains``), written into its own list, so a later
``domains:add`` keeps them; ``domains:reset`` writes them again. ``domains/<app>/disabled``
(``domains:disable``) keeps the names but routes none. Every name is validated as a DNS
name when stored *and* when read, because
a store can be written by ``props:import`` or another host: a name reaches nginx's
``server_name`` and must never carry a directive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dockyard.core.names import GLOBAL_SCOPE, validate_dns_name
from dockyard.propstores.base import PropertyStore

PLUGIN = "domains"
KEY = "vhosts"


def validate_domains(names: Iterable[str]) -> list[str]:
    """Validated, lower-cased, de-duplicated names in their given order."""
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(validate_dns_name(name.strip()), None)
    return list(seen)


def stored_domains(store: PropertyStore, scope: str) -> list[str]:
    return validate_domains(store.list_get(PLUGIN, scope, KEY))


DISABLED_KEY = "disabled"


def default_domains(store: PropertyStore, app: str) -> list[str]:
    """``APP.DOMAIN`` for each global domain (a wildcard global gives none), as Dokku's default."""
    return validate_domains(f"{app}.{d}" for d in stored_domains(store, GLOBAL_SCOPE) if not d.startswith("*."))


def domains_enabled(store: PropertyStore, app: str) -> bool:
    return store.get(PLUGIN, app, DISABLED_KEY) != "true"


def read_domains(store: PropertyStore, app: str) -> list[str]:
    """The names an app answers to: its stored ones, or none while its domains are disabled."""
    return stored_domains(store, app) if domains_enabled(store, app) else []


def write_domains(store: PropertyStore, scope: str, names: Iterable[str]) -> list[str]:
    items = validate_domains(names)
    store.list_write(PLUGIN, scope, KEY, items)
    return items


def update_domains(store: PropertyStore, scope: str, change: Callable[[list[str]], list[str]]) -> list[str]:
    """Apply ``change`` to the stored names atomically: concurrent domains:add calls all keep theirs."""
    return store.list_update(PLUGIN, scope, KEY, lambda items: validate_domains(change(validate_domains(items))))
