"""Dockyard's core: settings, plugin loading, orchestration and the CLI.

The public Python API is ``open_propstore(url)`` and ``load_scheduler(name, store)``. Both
load exactly one driver through stevedore, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dockyard.core.errors import ValidationError

if TYPE_CHECKING:
    from dockyard.propstores.base import PropertyStore
    from dockyard.proxy.base import Proxy
    from dockyard.schedulers.base import Scheduler

__all__ = ["load_proxy", "load_scheduler", "open_propstore"]


def open_propstore(url: str) -> PropertyStore:
    """Open the store named by ``url``; its scheme picks the driver."""
    from dockyard.core.plugins import PROPSTORES, load_driver

    scheme = urlsplit(url).scheme if "://" in url else ""
    if not scheme:
        raise ValidationError(f"invalid store URL {url!r}: expected SCHEME://…, e.g. file:///var/lib/dockyard")
    cls = load_driver(PROPSTORES, scheme)
    store: PropertyStore = cls(url)
    return store


def load_scheduler(name: str, store: PropertyStore) -> Scheduler:
    """Instantiate the scheduler driver ``name`` on ``store``."""
    from dockyard.core.plugins import SCHEDULERS, load_driver

    cls = load_driver(SCHEDULERS, name)
    sched: Scheduler = cls(store)
    return sched


def load_proxy(name: str, store: PropertyStore) -> Proxy:
    from dockyard.core.plugins import PROXIES, load_driver

    cls = load_driver(PROXIES, name)
    proxy: Proxy = cls(store)
    return proxy
