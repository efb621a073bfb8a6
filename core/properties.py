"""The app registry, app locks and property helpers core's commands share.

Dokku resolves a setting as the app's value, then ``--global``, then a built-in default,
and reports all three; those lookups live in ``core.lookup`` (pure, so drivers may use
them) and are re-exported here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from dockyard.core.errors import AppNotFound, ValidationError
from dockyard.core.lookup import as_bool, computed, computed_float, computed_int, report_triplet
from dockyard.core.names import GLOBAL_SCOPE, validate_app_name
from dockyard.propstores.base import PropertyStore

__all__ = ["as_bool", "computed", "computed_float", "computed_int", "report_triplet"]

APPS_PLUGIN = "apps"


def set_or_unset(store: PropertyStore, plugin: str, scope: str, key: str, value: str | None) -> bool:
    """Dokku's rule: an empty value unsets. Returns True if something was set."""
    if value:
        store.set(plugin, scope, key, value)
        return True
    store.delete(plugin, scope, key)
    return False


def check_property(plugin: str, key: str, allowed: Iterable[str], scope: str,
                   global_allowed: Iterable[str] | None = None) -> None:
    allowed = sorted(allowed)
    if key not in allowed:
        raise ValidationError(
            f"invalid {plugin} property {key!r}; valid properties: {', '.join(allowed)}"
        )
    if scope == GLOBAL_SCOPE and global_allowed is not None and key not in set(global_allowed):
        raise ValidationError(f"{plugin} property {key!r} cannot be set globally")


# ---- the app registry -------------------------------------------------------------
def app_exists(store: PropertyStore, app: str) -> bool:
    return store.exists(APPS_PLUGIN, validate_app_name(app), "created-at")


def require_app(store: PropertyStore, app: str) -> str:
    validate_app_name(app)
    if not app_exists(store, app):
        raise AppNotFound(f"App {app} does not exist")
    return app


def create_app(store: PropertyStore, app: str) -> None:
    validate_app_name(app)
    with store.lock("app-registry"):
        if app_exists(store, app):
            raise ValidationError(f"app {app} already exists")
        store.set(APPS_PLUGIN, app, "created-at", str(int(time.time())))


def list_apps(store: PropertyStore) -> list[str]:
    return [s for s in store.scopes(APPS_PLUGIN) if s != GLOBAL_SCOPE]


def selected_scheduler(store: PropertyStore, app: str | None, fallback: str) -> str:
    """Scheduler precedence: app selection, global selection, then --scheduler/env default."""
    return computed(store, "scheduler", app, "selected", fallback)


#: ``apps/<app>/deploy-lock`` = "true" while ``apps:lock`` holds the app (Dokku's .deploy.lock)
LOCK_KEY = "deploy-lock"


def deploy_lock(app: str) -> str:
    """The store lock every rollout, rename and retire of ``app`` holds."""
    return f"deploy-{app}"


def letsencrypt_lock(app: str) -> str:
    """The store lock one letsencrypt issue, renewal or revocation of ``app`` holds."""
    return f"letsencrypt-{app}"


#: the store locks named after an app, forgotten when it is destroyed
APP_LOCKS = (deploy_lock, letsencrypt_lock)


def is_locked(store: PropertyStore, app: str) -> bool:
    """A locked app refuses deploys (and rebuilds) until ``apps:unlock``, as in Dokku."""
    return store.get(APPS_PLUGIN, app, LOCK_KEY) == "true"
