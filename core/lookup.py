"""Dokku's computed settings: the app's value, then ``--global``, then a built-in default.

Pure lookups on a store, with no app registry and no orchestration, so contracts and
drivers may read their own settings (``scheduler-kubernetes``, ``nginx`` ...) through them
too; core's ``properties`` module re-exports them for the rest of core.
"""

from __future__ import annotations

from typing import TypeVar

from dockyard.core.errors import ValidationError
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.propstores.base import PropertyStore


def computed(store: PropertyStore, plugin: str, app: str | None, key: str, default: str = "") -> str:
    if app and app != GLOBAL_SCOPE:
        value = store.get(plugin, app, key)
        if value:
            return value
    value = store.get(plugin, GLOBAL_SCOPE, key)
    return value if value else default


_N = TypeVar("_N", int, float)


def _computed_number(store: PropertyStore, plugin: str, app: str | None, key: str,
                     default: _N, minimum: _N | None, kind: type[_N], expected: str) -> _N:
    raw = computed(store, plugin, app, key, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError as exc:
        raise ValidationError(f"invalid {plugin} property {key} {raw!r}: expected {expected}") from exc
    if minimum is not None and value < minimum:
        raise ValidationError(f"invalid {plugin} property {key} {raw!r}: must be at least {minimum}")
    return value


def computed_float(store: PropertyStore, plugin: str, app: str | None, key: str, default: float,
                   minimum: float | None = None) -> float:
    """A numeric setting (app, then global, then ``default``).

    A stored value that is not a number, or is below ``minimum``, is one clear error naming
    the property rather than a traceback in the middle of a deploy.
    """
    return _computed_number(store, plugin, app, key, default, minimum, float, "a number")


def computed_int(store: PropertyStore, plugin: str, app: str | None, key: str, default: int,
                 minimum: int | None = None) -> int:
    """Like ``computed_float`` for counts (attempts, retries), which must be whole numbers."""
    return _computed_number(store, plugin, app, key, default, minimum, int, "a whole number")


#: Dokku's ``ps`` ``stop-timeout-seconds`` default since 0.36.0 (it was docker's 10 before)
DEFAULT_STOP_TIMEOUT_SECONDS = 30


def stop_timeout_seconds(store: PropertyStore, app: str | None) -> int:
    """Seconds an instance has between SIGTERM and SIGKILL when it stops or retires."""
    return computed_int(store, "ps", app, "stop-timeout-seconds", DEFAULT_STOP_TIMEOUT_SECONDS, minimum=0)


def report_triplet(
    store: PropertyStore, plugin: str, app: str, key: str, default: str = ""
) -> tuple[str, str, str]:
    """(app value, global value, computed value), as Dokku's reports show them."""
    app_value = store.get(plugin, app, key) or ""
    global_value = store.get(plugin, GLOBAL_SCOPE, key) or ""
    return app_value, global_value, app_value or global_value or default


def as_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")
