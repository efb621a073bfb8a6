"""Routing: gather an app's routes for its proxy, and rebuild proxy configs.

The proxy reads listeners only through ``scheduler.listeners(app)``, so routing works the
same whichever scheduler runs the app. Deploys reach ``rebuild`` through the
``core-post-deploy`` hook (``subscribe``), the same road a third-party plugin would take:
new instances have passed their checks and joined their post-deploy networks, and the old
ones have not retired yet, so nginx switches before anything it routes to goes away.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from dockyard.core.names import GLOBAL_SCOPE
from dockyard.core.properties import computed

if TYPE_CHECKING:
    from pathlib import Path

    from dockyard.core.hooks import Hooks
    from dockyard.propstores.base import PropertyStore
    from dockyard.proxy.base import ApplyResult, AppRoutes, Listeners, Proxy
    from dockyard.schedulers.base import Scheduler

log = logging.getLogger("dockyard.routing")

PLUGIN = "proxy"
DEFAULT_TYPE = "nginx"


def proxy_type(store: PropertyStore, app: str) -> str:
    return computed(store, PLUGIN, app, "type", DEFAULT_TYPE)


def proxy_for(store: PropertyStore, app: str) -> Proxy:
    from dockyard.core import load_proxy

    return load_proxy(proxy_type(store, app), store)


def gather(store: PropertyStore, app: str, listeners: Listeners, root: Path | None = None,
           may_have_cert: bool = True) -> AppRoutes:
    """Port map, domains and certificate files of ``app``, each validated on the way."""
    from dockyard.core.certs import materialize
    from dockyard.core.domains import read_domains
    from dockyard.core.ports import read_port_map
    from dockyard.core.settings import default_root
    from dockyard.proxy.base import AppRoutes, TlsPair

    # may_have_cert=False: the caller listed the store's certs scopes once for a whole build
    tls = materialize(store, app, root if root is not None else default_root()) if may_have_cert else None
    return AppRoutes(
        app=app,
        listeners={proc: tuple(ls) for proc, ls in listeners.items()},
        ports=tuple(read_port_map(store, app)),
        domains=tuple(read_domains(store, app)),
        tls=TlsPair(str(tls.certificate), str(tls.certificate_key), tls.hostnames) if tls else None,
    )


def _warn_inactive(proxy: Proxy, result: ApplyResult) -> None:
    """Say when routing is meant to be on but is not (nginx missing or stopped)."""
    if proxy.routes_traffic and result.ok and not result.active:
        log.warning("routing is not active for %s: %s", result.app, result.message)


def rebuild(store: PropertyStore, scheduler: Scheduler, app: str, force: bool = True) -> ApplyResult:
    """Rebuild one app's proxy config from its scheduler's listeners.

    Raises ProxyError if the new config is rejected (the old one keeps serving); when the
    proxy is not running, the config is written and a warning says routing is not active.
    """
    proxy = proxy_for(store, app)
    result = proxy.build_config(app, scheduler.listeners(app), force)
    _warn_inactive(proxy, result)
    return result


def rebuild_many(store: PropertyStore, apps: Iterable[str], scheduler_for: Callable[[str], Scheduler],
                 force: bool = True) -> list[ApplyResult]:
    """Rebuild several apps, one ``build_all`` (one validation, one reload) per proxy type."""
    by_type: dict[str, dict[str, Listeners]] = defaultdict(dict)
    fallback = store.get(PLUGIN, GLOBAL_SCOPE, "type") or DEFAULT_TYPE  # read once, not per app
    for app in apps:
        by_type[store.get(PLUGIN, app, "type") or fallback][app] = scheduler_for(app).listeners(app)
    results: list[ApplyResult] = []
    from dockyard.core import load_proxy

    for name, listeners_by_app in by_type.items():
        proxy = load_proxy(name, store)
        built = proxy.build_all(listeners_by_app, force)
        for result in built:
            _warn_inactive(proxy, result)
        results.extend(built)
    return results


def subscribe(hooks: Hooks, store: PropertyStore, scheduler: Scheduler) -> None:
    """Rebuild the proxy on ``core-post-deploy`` (deploy, scale, rebuild)."""

    def proxy_build_config(app: str | None = None, plan: Any = None, **_: Any) -> None:
        name = app or getattr(plan, "app", None)
        if not name:
            raise ValueError("core-post-deploy fired without an app")
        result = rebuild(store, scheduler, name)
        if result.changed:
            log.info("Proxy config of %s switched to the new instances", name)

    hooks.subscribe("core-post-deploy", proxy_build_config)
