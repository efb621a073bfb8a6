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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import DockyardError
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.core.plan import app_listeners
from dockyard.core.properties import computed
from dockyard.propstores.base import Delete, Op, Property, PropertyStore, Put, Value
from dockyard.proxy.base import ApplyResult

if TYPE_CHECKING:
    from pathlib import Path

    from dockyard.core.hooks import Hooks
    from dockyard.proxy.base import AppRoutes, Listeners, Proxy
    from dockyard.schedulers.base import Scheduler

log = logging.getLogger("dockyard.routing")

PLUGIN = "proxy"
DEFAULT_TYPE = "nginx"


#: ``proxy:disable APP`` sets it to ``true`` (Dokku's property); ``proxy:enable`` deletes it
DISABLED = "disabled"


def proxy_enabled(store: PropertyStore, app: str) -> bool:
    """False after ``proxy:disable APP``: Dokku's ``disabled`` property is ``true``."""
    return app == GLOBAL_SCOPE or store.get(PLUGIN, app, DISABLED) != "true"


def configured_type(store: PropertyStore, app: str) -> str:
    """The proxy type as set (app, global, default), whether or not the proxy is disabled."""
    return computed(store, PLUGIN, app, "type", DEFAULT_TYPE)


def proxy_type(store: PropertyStore, app: str) -> str:
    """The proxy that routes ``app``: ``null`` while it is ``proxy:disable``d.

    Everything that builds configs (deploys, ``proxy:build-config``, the event listener, a
    global setting's check) loads the proxy by this name, so a disabled app is routed by no
    one and its configured type comes back with ``proxy:enable``.
    """
    return configured_type(store, app) if proxy_enabled(store, app) else "null"


def proxy_for(store: PropertyStore, app: str) -> Proxy:
    from dockyard.core import load_proxy

    return load_proxy(proxy_type(store, app), store)


def gather(store: PropertyStore, app: str, listeners: Listeners, root: Path | None = None,
           may_have_cert: bool = True) -> AppRoutes:
    """Port map, domains and certificate files of ``app``, each validated on the way."""
    from dockyard.core.certs import matches, tls_files
    from dockyard.core.domains import read_domains
    from dockyard.core.letsencrypt import challenge_dir_if_active
    from dockyard.core.ports import read_port_map
    from dockyard.core.settings import default_root
    from dockyard.proxy.base import AppRoutes, TlsPair

    root = root if root is not None else default_root()
    # may_have_cert=False: the caller listed the store's certs scopes once for a whole build
    tls = tls_files(store, app, root) if may_have_cert else None
    domains = tuple(read_domains(store, app))
    return AppRoutes(
        app=app,
        listeners={proc: tuple(ls) for proc, ls in listeners.items()},
        ports=tuple(read_port_map(store, app)),
        domains=domains,
        tls=TlsPair(str(tls.certificate), str(tls.certificate_key), tls.hostnames, tls.certificate_pem,
                    tls.key_pem) if tls else None,
        acme_challenge_dir=challenge_dir_if_active(root, app),  # a stat, no store read
        tls_domains=tuple(d for d in domains if any(matches(d, c) for c in tls.hostnames)) if tls else (),
    )


def routes_for(proxy: Proxy, store: PropertyStore, app: str, listeners: Listeners, root: Path | None = None,
               may_have_cert: bool = True) -> AppRoutes:
    """``gather``, with a stored value that no longer validates reported as the proxy's failure."""
    from dockyard.core.errors import ProxyError, ValidationError

    try:
        return gather(store, app, listeners, root, may_have_cert)
    except ValidationError as exc:
        raise ProxyError(f"cannot build the {proxy.name} config of {app}: {exc}") from exc


#: from this many apps, a build lists the certs scopes once instead of reading each app's
_LIST_CERT_SCOPES_FROM = 16


def build(proxy: Proxy, store: PropertyStore, listeners_by_app: Mapping[str, Listeners], force: bool = True,
          hooks: Hooks | None = None, raise_rejected: bool = False) -> list[ApplyResult]:
    """Gather each app's routes and hand them to ``proxy`` in one ``build_all``.

    The one way configs are (re)built: deploys, ``proxy:build-config``, the event listener.
    An app whose routes cannot be gathered (a stored value that no longer validates) fails
    alone, as the proxy would report a config it rejected; the others are still built.
    ``proxy-build-config APP`` fires once for each app whose config was built. With
    ``raise_rejected`` a rejected config raises ProxyError (the proxy's own reason; one app).
    """
    from dockyard.core.certs import PLUGIN as CERTS_PLUGIN
    from dockyard.core.errors import ProxyError
    from dockyard.core.settings import default_root
    from dockyard.proxy.base import AppRoutes

    routes: list[AppRoutes] = []
    failed: dict[str, str] = {}
    if not proxy.routes_traffic:  # null routes nothing: reading the app's settings costs for nothing
        routes = [AppRoutes(app, {}, (), ()) for app in listeners_by_app]
    else:
        root = default_root()  # resolved once for the whole build
        cert_scopes = set(store.scopes(CERTS_PLUGIN)) if len(listeners_by_app) >= _LIST_CERT_SCOPES_FROM else None
        for app, listeners in listeners_by_app.items():
            try:
                routes.append(routes_for(proxy, store, app, listeners, root, cert_scopes is None or app in cert_scopes))
            except ProxyError as exc:
                if raise_rejected:
                    raise ProxyError(f"{exc}; the previous config stays active") from exc
                failed[app] = str(exc)
    if raise_rejected and len(routes) == 1:
        routes_ = routes[0]
        results = [proxy.build_config(routes_, force)]  # raises with the proxy's reason
        _fire_built(hooks, store, [routes_.app])
        return results
    built = {r.app: r for r in proxy.build_all(routes, force)} if routes else {}
    active = next(iter(built.values())).active if built else proxy.status()[0] if failed else True
    results = [built[app] if app in built else ApplyResult(app, False, active, failed[app], ok=False)
               for app in listeners_by_app]
    _fire_built(hooks, store, [r.app for r in results if r.ok])
    return results


def _fire_built(hooks: Hooks | None, store: PropertyStore, apps: Sequence[str]) -> None:
    if not apps:
        return
    from dockyard.core.hooks import Hooks

    hooks = hooks if hooks is not None else Hooks()
    for app in apps:
        hooks.fire("proxy-build-config", app=app, store=store)


def _warn_inactive(proxy: Proxy, result: ApplyResult) -> None:
    """Say when routing is meant to be on but is not (nginx missing or stopped)."""
    if proxy.routes_traffic and result.ok and not result.active:
        log.warning("routing is not active for %s: %s", result.app, result.message)


def rebuild(store: PropertyStore, scheduler: Scheduler, app: str, force: bool = True,
            listeners: Listeners | None = None, hooks: Hooks | None = None) -> ApplyResult:
    """Rebuild one app's proxy config from its listeners (``listeners``, else its scheduler's).

    Raises ProxyError if the new config is rejected (the old one keeps serving); when the
    proxy is not running, the config is written and a warning says routing is not active.
    """
    proxy = proxy_for(store, app)
    if not proxy.routes_traffic:
        listeners = {}  # the null proxy needs none: finding them costs a cluster calls
    elif listeners is None:
        listeners = app_listeners(store, scheduler, app)
    result = build(proxy, store, {app: listeners}, force, hooks, raise_rejected=True)[0]
    _warn_inactive(proxy, result)
    return result


def rebuild_many(store: PropertyStore, apps: Iterable[str], scheduler_for: Callable[[str], Scheduler],
                 force: bool = True) -> list[ApplyResult]:
    """Rebuild several apps, one ``build_all`` (one validation, one reload) per proxy type."""
    by_type: dict[str, dict[str, Listeners]] = defaultdict(dict)
    fallback = store.get(PLUGIN, GLOBAL_SCOPE, "type") or DEFAULT_TYPE  # read once, not per app
    for app in apps:
        if store.get(PLUGIN, app, DISABLED) == "true":  # proxy:disable'd: routed by no one
            by_type["null"][app] = {}
            continue
        by_type[store.get(PLUGIN, app, "type") or fallback][app] = app_listeners(store, scheduler_for(app), app)
    results: list[ApplyResult] = []
    from dockyard.core import load_proxy
    from dockyard.core.hooks import Hooks

    hooks = Hooks()
    for name, listeners_by_app in by_type.items():
        proxy = load_proxy(name, store)
        built = build(proxy, store, listeners_by_app, force, hooks)
        for result in built:
            _warn_inactive(proxy, result)
        results.extend(built)
    return results


def subscribe(hooks: Hooks, store: PropertyStore, scheduler: Scheduler) -> None:
    """Rebuild the proxy on ``core-post-deploy`` (deploy, scale, rebuild).

    The rollout hands the new release's ``listeners``; without them (an older caller) the
    scheduler is asked.
    """

    def proxy_build_config(app: str | None = None, plan: Any = None, listeners: Listeners | None = None,
                           **_: Any) -> None:
        name = app or getattr(plan, "app", None)
        if not name:
            raise ValueError("core-post-deploy fired without an app")
        result = rebuild(store, scheduler, name, listeners=listeners, hooks=hooks)
        if result.changed:
            log.info("Proxy config of %s switched to the new instances", name)

    hooks.subscribe("core-post-deploy", proxy_build_config)


# ---- validate, then store (issue 10) ---------------------------------------------------------
class PendingView(PropertyStore):
    """The store as it would be after the recorded writes, which nothing else sees yet.

    A proxy-affecting command runs its usual code against this view, the proxy renders and
    validates the app's config from it, and only when that config is live are the writes
    committed to the real store (``commit``, one batch). On failure the view is dropped and
    the store was never touched.
    """

    def __init__(self, base: PropertyStore, held: Iterable[str] = ()) -> None:
        super().__init__(base.url)
        self.base = base
        self.pending: dict[tuple[str, str, str], Op] = {}
        #: what ``commit`` replays, in order: batches of ops, and read-modify-writes
        self.steps: list[list[Op] | tuple[str, str, str, Callable[[Value | None], Value | None]]] = []
        #: locks the caller holds on ``base`` (the ports lock): not taken a second time
        self.held = set(held)

    @property
    def display_url(self) -> str:
        return self.base.display_url

    def read(self, plugin: str, scope: str, key: str) -> Value | None:
        op = self.pending.get((plugin, scope, key))
        if op is None:
            return self.base.read(plugin, scope, key)
        return op.data if isinstance(op, Put) else None

    def _record(self, ops: Iterable[Op]) -> None:
        for op in ops:
            self.pending[(op.plugin, op.scope, op.key)] = op

    def _apply(self, ops: Sequence[Op]) -> None:
        self._record(ops)
        self.steps.append(list(ops))

    def _update(self, plugin: str, scope: str, key: str,
                fn: Callable[[Value | None], Value | None]) -> Value | None:
        new = fn(self.read(plugin, scope, key))
        self._record([Delete(plugin, scope, key) if new is None else Put(plugin, scope, key, new)])
        return new

    def update(self, plugin: str, scope: str, key: str,
               fn: Callable[[Value | None], Value | None]) -> Value | None:
        """Seen at once in the view; replayed on the real store at ``commit``, atomically there,
        so two concurrent ``domains:add`` both keep their names."""
        new = super().update(plugin, scope, key, fn)
        self.steps.append((plugin, scope, key, fn))
        return new

    def iter_properties(self, plugin: str | None = None, scope: str | None = None) -> Iterator[Property]:
        seen = set()
        for prop in self.base.iter_properties(plugin, scope):
            coords = (prop.plugin, prop.scope, prop.key)
            seen.add(coords)
            op = self.pending.get(coords)
            if op is None:
                yield prop
            elif isinstance(op, Put):
                yield _as_property(op)
        for coords, op in self.pending.items():
            if (coords not in seen and isinstance(op, Put) and plugin in (None, coords[0])
                    and scope in (None, coords[1])):
                yield _as_property(op)

    def plugins(self) -> list[str]:
        return sorted(set(self.base.plugins()) | {p for (p, _, _), op in self.pending.items()
                                                  if isinstance(op, Put)})

    def scopes(self, plugin: str | None = None) -> list[str]:
        return sorted(set(self.base.scopes(plugin)) | {s for (p, s, _), op in self.pending.items()
                                                       if isinstance(op, Put) and plugin in (None, p)})

    def lock(self, name: str, timeout: float = 0.0) -> AbstractContextManager[None]:
        return nullcontext() if name in self.held else self.base.lock(name, timeout)

    def commit(self) -> None:
        """Write everything recorded to the real store: plain writes batched, updates replayed."""
        batch: list[Op] = []
        for step in self.steps:
            if isinstance(step, list):
                batch.extend(step)
                continue
            self.base.apply(batch)
            batch = []
            self.base.update(*step)
        self.base.apply(batch)
        self.steps.clear()
        self.pending.clear()


def _as_property(op: Put) -> Property:
    if isinstance(op.data, list):
        return Property(op.plugin, op.scope, op.key, items=tuple(op.data))
    return Property(op.plugin, op.scope, op.key, value=op.data)


def _check_global(view: PendingView, scheduler_for: Callable[[str], Scheduler]) -> None:
    """A global setting is stored only if every deployed app's config, rendered with it, is accepted.

    Nothing is applied here (``proxy:build-config --all`` does that, as in Dokku); a value
    nginx would reject for one app is refused in one line naming the app.
    """
    from dockyard.core import load_proxy
    from dockyard.core.errors import ProxyError
    from dockyard.core.plan import is_deployed
    from dockyard.core.properties import list_apps

    by_type: dict[str, list[str]] = defaultdict(list)
    for name in list_apps(view.base):
        if is_deployed(view.base, name):
            by_type[proxy_type(view, name)].append(name)
    for kind, apps in by_type.items():
        proxy = load_proxy(kind, view)
        if not proxy.routes_traffic:
            continue
        failed = proxy.check_all([routes_for(proxy, view, name, app_listeners(view, scheduler_for(name), name))
                                  for name in apps])
        if failed:
            name = sorted(failed)[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise ProxyError(f"not stored: the config of {name}{more} would be rejected: {failed[name]}")


def apply_routed(store: PropertyStore, scheduler_for: Callable[[str], Scheduler], app: str,
                 change: Callable[[PropertyStore], Any], held: Iterable[str] = ()) -> Any:
    """Run ``change`` on a view of the store, apply the app's proxy config from it, then commit.

    Render, ``nginx -t``, swap, then store: a setting the proxy rejects (a template nginx
    refuses, a port another process holds, a key that does not fit its certificate) is never
    kept, and the running config stays the one before. An app that is not deployed has no
    config to apply; its change is stored at once and validated when the app is deployed.
    ``held`` names locks the caller holds on ``store``. Returns what ``change`` returned.
    """
    from dockyard.core.plan import is_deployed

    view = PendingView(store, held)
    outcome = change(view)
    if view.steps and app == GLOBAL_SCOPE:
        _check_global(view, scheduler_for)
    routed = bool(view.steps) and app != GLOBAL_SCOPE and is_deployed(store, app)
    if routed:
        result = rebuild(view, scheduler_for(app), app)
        if result.changed:
            log.info("Rebuilt the proxy config of %s", app)
    view.commit()
    if routed:
        # a rebuild that ran between the swap and the commit (the event listener) rendered the
        # old settings; rendering once more from the store is free when nothing changed
        try:
            rebuild(store, scheduler_for(app), app, force=False)
        except DockyardError as exc:
            log.warning("the proxy config of %s could not be refreshed after the change: %s", app, exc)
    return outcome
