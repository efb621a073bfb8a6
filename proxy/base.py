"""The Proxy contract.

A proxy turns an app's routes (``AppRoutes``: its listeners, port map, domains and
certificate, gathered and validated by the core) and its own proxy properties into
configuration, and applies it safely: a rejected config never replaces a working one. The
routes arrive as data, so a driver never reaches back into the core's orchestration and
works the same whichever scheduler produced the listeners.

The core reaches every driver through these methods only. Driver-specific commands
(``nginx:set``, ``nginx:start`` …) go through the optional methods at the bottom, which
raise ``NotSupported`` unless a driver implements them, so the core never imports a driver.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from dockyard.core.errors import NotSupported, ProxyError
from dockyard.core.models import Listener, PortMapping
from dockyard.propstores.base import PropertyStore

Listeners = Mapping[str, Sequence[Listener]]


@dataclass(frozen=True)
class ApplyResult:
    """What happened to one app's config.

    ``changed``: a new config replaced the old one. ``active``: the proxy is running and
    serves what is on disk (False means routing is not active, e.g. nginx is stopped).
    ``ok``: False when this app's config was rejected and its previous one kept; only
    ``build_all`` reports a rejection this way (``build_config`` raises ProxyError).
    """

    app: str
    changed: bool
    active: bool
    message: str = ""
    ok: bool = True


@dataclass(frozen=True)
class TlsPair:
    """Files for the app's certificate and key, the names it covers, and the PEM text.

    The file names are derived from the content, so a new pair never has the live pair's
    names; the proxy writes the files when it stages a config and keeps them while a live
    config refers to them. The PEM text is left out of every repr (the key is secret).
    """

    certificate: str
    certificate_key: str
    hostnames: tuple[str, ...] = ()
    certificate_pem: str = field(default="", repr=False)
    key_pem: str = field(default="", repr=False)


@dataclass(frozen=True)
class AppRoutes:
    """Everything a proxy needs for one app, gathered (and validated) by the core."""

    app: str
    listeners: Mapping[str, Sequence[Listener]]
    ports: tuple[PortMapping, ...]
    domains: tuple[str, ...]
    tls: TlsPair | None = None
    #: a directory whose files answer ``/.well-known/acme-challenge/`` (http-01) on the app's
    #: http servers while it has an ACME certificate or one is being issued; None otherwise
    acme_challenge_dir: str | None = None
    #: the domains the certificate covers (matched by the core, wildcards included)
    tls_domains: tuple[str, ...] = ()


class Proxy(abc.ABC):
    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: False for a proxy that routes nothing on purpose (null): no "routing is not active" warning
    routes_traffic: ClassVar[bool] = True

    def __init__(self, store: PropertyStore) -> None:
        self.store = store

    @abc.abstractmethod
    def build_config(self, routes: AppRoutes, force: bool = True) -> ApplyResult:
        """Render, validate and (only if valid) apply and reload one app's config.

        A config the proxy rejects raises ProxyError with the proxy's reason in one line; the
        previous config stays active. With ``force`` False an unchanged rendering is left
        alone (no validation, no reload); the event listener relies on that to stay cheap.
        """

    def build_all(self, routes: Sequence[AppRoutes], force: bool = True) -> list[ApplyResult]:
        """Rebuild many apps, one result each in order: a rejected app is ``ok=False`` with
        the reason and does not stop the others. Drivers should validate and reload once,
        not per app, as this default (one ``build_config`` each) does not."""
        results = []
        for r in routes:
            try:
                results.append(self.build_config(r, force))
            except ProxyError as exc:
                results.append(ApplyResult(r.app, False, self.status()[0], str(exc), ok=False))
        return results

    def check_all(self, routes: Sequence[AppRoutes]) -> dict[str, str]:
        """Would these apps' configs, rendered from the store as it is now, be accepted?

        Nothing is installed; returns app -> why not. Used before a global setting is stored.
        A proxy that cannot tell accepts everything.
        """
        return {}

    @abc.abstractmethod
    def clear_config(self, app: str) -> None:
        """Remove the app's config and reload."""

    def remove_app(self, app: str) -> None:
        """Remove every file the proxy keeps for ``app``: apps:destroy, and the old name in
        apps:rename, call it before the app's properties go (they may name those files).

        By default that is the app's config (``clear_config``); a driver that also keeps
        certificate files or logs per app removes them here too.
        """
        self.clear_config(app)

    def report(self, app: str) -> dict[str, str]:
        return {}

    def status(self) -> tuple[bool, str]:
        """(routing active?, why not) for the proxy as a whole."""
        return True, ""

    # ---- optional, driver-specific commands ---------------------------------------------
    def show_config(self, app: str) -> str:
        raise NotSupported(f"the {self.name} proxy has no config to show")

    def validate(self, app: str | None = None, clean: bool = False,
                 warn: Callable[[str], None] | None = None) -> str:
        raise NotSupported(f"the {self.name} proxy cannot validate configs")

    def set_property(self, scope: str, key: str, value: str) -> None:
        raise NotSupported(f"the {self.name} proxy has no properties")

    def start(self) -> str:
        raise NotSupported(f"the {self.name} proxy cannot be started by dockyard")

    def stop(self) -> str:
        raise NotSupported(f"the {self.name} proxy cannot be stopped by dockyard")

    def reload(self) -> str:
        """Check the whole running config, then have the server load it again."""
        raise NotSupported(f"the {self.name} proxy cannot be reloaded by dockyard")
