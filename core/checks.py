"""Zero-downtime switches per process type (Dokku's checks:disable/enable/skip/run).

Dokku keeps two comma-separated lists in the checks properties: ``disabled`` (no zero
downtime: old containers stop before new ones start, and no checks) and ``skipped`` (zero
downtime kept, checks not run). ``_all_`` stands for every type. A type is in at most one
list, so each command moves types between them exactly as Dokku's do; the Python API and the
CLI share these functions so neither can leave the lists inconsistent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from dockyard.core.errors import NotFound, ValidationError
from dockyard.core.plan import CHECKS, build_plan, is_deployed
from dockyard.core.procfile import _TYPE_RE
from dockyard.core.properties import require_app, set_or_unset
from dockyard.propstores.base import PropertyStore

if TYPE_CHECKING:
    from dockyard.schedulers.base import Scheduler

ALL = "_all_"


def parse_types(value: str | None) -> list[str]:
    """``web,worker`` -> ["web", "worker"]; nothing -> ["_all_"]."""
    if not value:
        return [ALL]
    types = [t.strip() for t in value.split(",") if t.strip()]
    for t in types:
        base = t.split(".", 1)[0]
        if t != ALL and not _TYPE_RE.match(base):
            raise ValidationError(f"invalid process type {t!r}: process types or _all_, comma-separated")
    return types or [ALL]


def _read(store: PropertyStore, app: str, prop: str) -> list[str]:
    return [t for t in (store.get(CHECKS, app, prop) or "").split(",") if t]


def _write(store: PropertyStore, app: str, prop: str, items: Sequence[str]) -> None:
    set_or_unset(store, CHECKS, app, prop, ",".join(items))


def _move(store: PropertyStore, app: str, types: Sequence[str], into: str | None) -> None:
    """Put ``types`` into the list ``into`` (or neither, for None) and out of the other."""
    require_app(store, app)
    if types == [ALL]:
        for prop in ("disabled", "skipped"):
            _write(store, app, prop, [ALL] if prop == into else [])
        return
    for prop in ("disabled", "skipped"):
        items = [t for t in _read(store, app, prop) if t != ALL or prop != into]
        if prop == into:
            items += [t for t in types if t not in items]
        else:
            items = [t for t in items if t not in types]
        _write(store, app, prop, items)


def disable(store: PropertyStore, app: str, types: Sequence[str]) -> None:
    _move(store, app, types, "disabled")


def skip(store: PropertyStore, app: str, types: Sequence[str]) -> None:
    _move(store, app, types, "skipped")


def enable(store: PropertyStore, app: str, types: Sequence[str]) -> None:
    _move(store, app, types, None)


def run(store: PropertyStore, scheduler: Scheduler, app: str,
        types: Sequence[str]) -> Iterator[tuple[str, str, str | None]]:
    """Check the running instances now: yields ("skip", "APP.TYPE", None) for a type whose
    checks are off, and ("checked", instance, None or why it failed) for each instance."""
    require_app(store, app)
    if not is_deployed(store, app):
        raise NotFound(f"App {app} has not been deployed: there are no containers to check")
    plan = build_plan(store, app, warn=False)
    running = [p.name for p in plan.processes if p.scale > 0]
    wanted: list[tuple[str, int | None]] = []
    for t in types:
        if t == ALL:
            wanted += [(name, None) for name in running]
            continue
        name, _, digits = t.partition(".")
        if plan.process(name) is None:
            raise NotFound(f"Invalid process type specified ({app}.{name})")
        if digits and not (digits.isascii() and digits.isdigit()):
            raise ValidationError(f"Invalid container index specified ({app}.{t})")
        wanted.append((name, int(digits) if digits else None))
    for name, index in wanted:
        if not plan.checks.enabled_for(name):
            yield "skip", f"{app}.{name}", None
            continue
        results = scheduler.run_checks(plan, name, index)
        if index is not None and not results:
            raise NotFound(f"Invalid container index specified ({app}.{name}.{index})")
        for instance, reason in results:
            yield "checked", instance, reason
