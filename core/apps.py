"""The one service layer for what changes an app: the CLI and the Python API both call it.

Create, destroy, rename, clone, stop and the proxy switches (``proxy:set``, ``proxy:enable``,
``proxy:disable``) live here with the hooks they fire, so a script calling Python gets what
the command line does (the ``post-create`` default domains, the ``post-delete`` cleanup of
the proxy's and the core's files). Deploy, scale, rebuild, restart, rollback, start, restore,
retire and cleanup are written in ``dockyard.core.deploy`` and re-exported from here, so callers
have one entry point. Drivers never call this module: it calls them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.core.deploy import (
    cleanup_app,
    deploy_app,
    parse_scale,
    rebuild_app,
    restore_app,
    retire_app,
    rollback_app,
    run_app,
    scale_app,
    start_app,
)
from dockyard.core.errors import DockyardError, NotFound, ValidationError
from dockyard.core.hooks import Hooks
from dockyard.core.names import GLOBAL_SCOPE, validate_app_name
from dockyard.core.plan import PS, current_release, is_deployed
from dockyard.core.properties import APP_LOCKS, APPS_PLUGIN, LOCK_KEY, app_exists, deploy_lock, list_apps, require_app
from dockyard.core.properties import create_app as register_app
from dockyard.core.releases import PLUGIN as RELEASES_PLUGIN
from dockyard.propstores.base import Delete, PropertyStore

if TYPE_CHECKING:
    from dockyard.schedulers.base import Scheduler

__all__ = [
    "cleanup_app", "clone_app", "create_app", "deploy_app", "destroy_app", "parse_scale", "rebuild_app",
    "rename_app", "restore_app", "retire_app", "rollback_app", "run_app", "scale_app", "set_proxy_enabled",
    "set_proxy_type", "start_app", "stop_app",
]

log = logging.getLogger("dockyard.apps")

#: how an operation finds the scheduler of an app (the CLI's ``CliContext.scheduler_for``)
SchedulerFor = Callable[[str], "Scheduler"]
#: wraps each step of a long operation (the CLI's ``CliContext.timed``, which logs its duration)
Timed = Callable[[str], AbstractContextManager[object]]


def _untimed(_what: str) -> AbstractContextManager[object]:
    return nullcontext()


def _root(root: Path | None) -> Path:
    from dockyard.core.settings import default_root

    return root if root is not None else default_root()


# ---- create / destroy ---------------------------------------------------------------
def create_app(store: PropertyStore, app: str, hooks: Hooks | None = None) -> None:
    """Register ``app``, give it the global domain as Dokku does at creation, fire ``post-create``."""
    from dockyard.core.domains import default_domains, write_domains

    register_app(store, app)
    if defaults := default_domains(store, app):  # Dokku: APP.GLOBALDOMAIN at creation
        write_domains(store, app, defaults)
    (hooks or Hooks()).fire("post-create", app=app, store=store)


def _teardown(store: PropertyStore, scheduler_for: SchedulerFor, app: str, root: Path, hooks: Hooks) -> None:
    """Remove what runs for ``app`` before its properties go: instances, and every file it
    owns, the proxy's (config, certificate files, logs: ``Proxy.remove_app``) and the core's
    own (the ACME challenge directory, a ``post-delete`` subscriber like any plugin's)."""
    from dockyard.core import letsencrypt
    from dockyard.core.routing import proxy_for

    if is_deployed(store, app):
        scheduler_for(app).destroy(app)
    try:
        proxy_for(store, app).remove_app(app)
    except DockyardError as exc:  # routing is not essential to removing an app
        log.warning("could not remove the proxy files of %s: %s", app, exc)
    if not hooks.subscribed_once("core-challenge-dir"):
        hooks.subscribe("post-delete", lambda app, **_: letsencrypt.remove_challenge_dir(root, app))
    hooks.fire("post-delete", app=app, store=store)


def destroy_app(store: PropertyStore, scheduler_for: SchedulerFor, app: str, hooks: Hooks | None = None,
                root: Path | None = None) -> int:
    """Destroy ``app``: its instances, its proxy files, every property and lock it has.

    ``pre-delete`` fires first and may refuse; ``post-delete`` fires once nothing of the app
    runs, before its properties go (so a subscriber can still read them). Returns how many
    properties were removed.
    """
    require_app(store, app)
    hooks = hooks or Hooks()
    hooks.fire("pre-delete", app=app, store=store)
    _teardown(store, scheduler_for, app, _root(root), hooks)
    removed = store.destroy_scope(app)
    for lock_of in APP_LOCKS:
        store.remove_lock(lock_of(app))
    log.info("Removed %d properties of %s", removed, app)
    return removed


# ---- rename / clone -----------------------------------------------------------------
def _check_target(store: PropertyStore, new: str) -> None:
    validate_app_name(new)
    if app_exists(store, new):
        raise ValidationError(f"app {new} already exists")


def rename_app(store: PropertyStore, scheduler_for: SchedulerFor, old: str, new: str, skip_deploy: bool = False,
               hooks: Hooks | None = None, root: Path | None = None, timed: Timed = _untimed) -> bool:
    """Rename ``old`` to ``new``, moving every property in one batch, then redeploy it as ``new``.

    As in Dokku, the old instances go first (their names carry the old app name), so the app
    is briefly down; ``skip_deploy`` leaves ``new`` undeployed. ``post-app-rename`` fires
    once the properties moved. Returns True if ``new`` was redeployed.
    """
    from dockyard.core import letsencrypt

    require_app(store, old)
    _check_target(store, new)
    hooks = hooks or Hooks()
    base = _root(root)
    deployed = is_deployed(store, old)
    with timed(f"Renamed {old} to {new}"), store.lock(deploy_lock(old)):
        # the challenge directory moves with the app; the proxy's files of OLD go (NEW's
        # are written by its next build, from the certificate the store renames with it)
        letsencrypt.rename_challenge_dir(base, old, new)
        try:
            _teardown(store, scheduler_for, old, base, hooks)
            store.rename_scope(old, new)
        except BaseException:
            letsencrypt.rename_challenge_dir(base, new, old)
            raise
    hooks.fire("post-app-rename", old=old, new=new, store=store)
    if not deployed or skip_deploy:
        return False
    with timed(f"Redeployed {new}"):
        rebuild_app(store, scheduler_for(new), new, hooks)
    return True


def clone_app(store: PropertyStore, scheduler_for: SchedulerFor, old: str, new: str, skip_deploy: bool = False,
              hooks: Hooks | None = None, timed: Timed = _untimed) -> bool:
    """Clone ``old``'s properties into a new app ``new`` and, as Dokku, deploy ``new`` from
    ``old``'s current image. ``post-app-clone`` fires once the properties are copied.
    Returns True if ``new`` was deployed."""
    require_app(store, old)
    _check_target(store, new)
    hooks = hooks or Hooks()
    source = current_release(store, old)
    with timed(f"Cloned {old} to {new}"):
        store.clone_scope(old, new)
        # the clone is a new app, not a copy of the old one's runtime state (nor its lock)
        store.set(APPS_PLUGIN, new, "created-at", str(int(time.time())))
        for plugin, key in (("release", "current"), ("apps", "deployed-image"), (APPS_PLUGIN, LOCK_KEY)):
            store.delete(plugin, new, key)
        # nor of its history: NEW's releases start at v1 with its own first deploy
        store.apply([Delete(p.plugin, p.scope, p.key) for p in store.iter_properties(RELEASES_PLUGIN, new)])
    hooks.fire("post-app-clone", old=old, new=new, store=store)
    if source is None or skip_deploy:
        return False
    with timed(f"Deployed {new} from {old}'s image"):
        deploy_app(store, scheduler_for(new), new, image=source[1], processes=source[2], hooks=hooks)
    return True


# ---- stop ---------------------------------------------------------------------------
def stop_app(store: PropertyStore, scheduler_for: SchedulerFor, app: str, hooks: Hooks | None = None) -> None:
    """Stop ``app``'s instances (kept, not removed); it stays stopped after a reboot
    (``ps:restore``), as Dokku's ``post-stop`` records. ``post-stop`` fires."""
    require_app(store, app)
    if not is_deployed(store, app):
        raise NotFound(f"app {app} has not been deployed yet")
    scheduler_for(app).stop(app)
    store.set(PS, app, "restore", "false")
    (hooks or Hooks()).fire("post-stop", app=app, store=store)


# ---- proxy --------------------------------------------------------------------------
@dataclass(frozen=True)
class ProxySwitch:
    """One app whose proxy type changed: what routes it now."""

    app: str
    proxy: str


def set_proxy_type(store: PropertyStore, scheduler_for: SchedulerFor, scope: str, value: str) -> list[ProxySwitch]:
    """``proxy:set SCOPE type VALUE`` (an empty VALUE unsets; ``scope`` may be the global one).

    Validate, then store: every deployed app whose proxy changes has its config built by
    the new proxy first (a rejection raises and nothing is stored), then the old proxy's
    config goes. Returns the apps that switched.
    """
    from dockyard.core.plugins import PROXIES, installed_names
    from dockyard.core.routing import PLUGIN, PendingView, proxy_for, rebuild

    if value and value not in installed_names(PROXIES):
        raise ValidationError(f"unknown proxy {value!r}; installed: {', '.join(installed_names(PROXIES))}")
    affected = [scope] if scope != GLOBAL_SCOPE else list_apps(store)
    before = {a: proxy_for(store, a) for a in affected}
    view = PendingView(store)  # validate, then store: the new proxy's config goes live first
    if value:
        view.set(PLUGIN, scope, "type", value)
    else:
        view.delete(PLUGIN, scope, "type")
    switched = []
    for name, old in before.items():
        new = proxy_for(view, name)
        if new.name == old.name:
            continue
        if is_deployed(store, name):
            rebuild(view, scheduler_for(name), name)  # raises, nothing stored, if it is rejected
        old.clear_config(name)
        switched.append(ProxySwitch(name, new.name))
    view.commit()
    for one in switched:
        log.info("Proxy of %s is now %s%s", one.app, one.proxy, " (routing off)" if one.proxy == "null" else "")
    return switched


def set_proxy_enabled(store: PropertyStore, scheduler_for: SchedulerFor, app: str, enable: bool,
                      info: Callable[[str], None] = log.info) -> bool:
    """Dokku's ``proxy:enable`` / ``proxy:disable`` of one app; False if it already was.

    Enabling stages the app's config from the store without ``disabled``, has the proxy
    test it, swaps it in and only then stores the change (``apply_routed``): a config the
    proxy rejects leaves the app disabled. Disabling stores ``disabled=true`` first, so no
    rebuild (a deploy, the event listener) routes the app again, then removes its config;
    run again, it removes a config left behind by an interrupted run. ``info`` hears Dokku's
    progress lines.
    """
    from dockyard.core.routing import DISABLED, PLUGIN, apply_routed, proxy_enabled

    require_app(store, app)
    if proxy_enabled(store, app) == enable:
        info("Proxy is already enabled for app" if enable else "Proxy is already disable for app")  # sic, Dokku's
        if not enable:
            _clear_configured(store, app)
        return False
    info("Enabling proxy for app" if enable else "Disabling proxy for app")
    if enable:
        apply_routed(store, scheduler_for, app, lambda view: view.delete(PLUGIN, app, DISABLED))
        return True
    apply_routed(store, scheduler_for, app, lambda view: view.set(PLUGIN, app, DISABLED, "true"))
    _clear_configured(store, app)
    return True


def _clear_configured(store: PropertyStore, app: str) -> None:
    """Remove the config of the proxy the app is set to use (not ``null``, which it now reads as)."""
    from dockyard.core import load_proxy
    from dockyard.core.routing import configured_type

    load_proxy(configured_type(store, app), store).clear_config(app)
