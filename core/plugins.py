"""Driver loading through entry points.

Only the driver that was chosen is imported. Resolving that one entry point reads the
installed distributions' ``entry_points.txt`` directly (``entry_point_table``): stevedore's
``DriverManager`` and ``importlib.metadata`` cost about 33 ms of imports (``email`` and
friends), more than a whole ``config:get`` may take. Enumerating paths (``plugins:list``,
lifecycle hooks) use stevedore itself, and the names, targets and errors are the same
either way because both read the same metadata.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
from typing import Any, NamedTuple

from dockyard.core.errors import PluginError

PROPSTORES = "dockyard.propstores"
SCHEDULERS = "dockyard.schedulers"
PROXIES = "dockyard.proxies"
HOOKS = "dockyard.hooks"
COMMANDS = "dockyard.commands"
GROUPS = (PROPSTORES, SCHEDULERS, PROXIES)

#: what a group's drivers are called in an error line
_KIND = {PROPSTORES: "property store", SCHEDULERS: "scheduler", PROXIES: "proxy", COMMANDS: "command"}


class Entry(NamedTuple):
    """One entry point: ``module:attr``, the distribution that declares it, and the extras
    (``[kubernetes]``) it needs installed: the one place that says which extra a driver needs."""

    target: str
    dist: str
    extras: tuple[str, ...] = ()


_TABLE: dict[str, dict[str, Entry]] | None = None
_EXTRAS = re.compile(r"^(?P<target>[^\[]*?)\s*(?:\[(?P<extras>[^\]]*)\])?\s*$")


def _parse_entry_points(text: str, dist: str, table: dict[str, dict[str, Entry]]) -> None:
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            continue
        if group is None or "=" not in line:
            continue
        name, _, value = line.partition("=")
        m = _EXTRAS.match(value.strip())
        target, extras = (m["target"], m["extras"] or "") if m else (value.strip(), "")
        entry = Entry(target.strip(), dist, tuple(x.strip() for x in extras.split(",") if x.strip()))
        # the first distribution on sys.path wins, as with importlib.metadata
        table.setdefault(group, {}).setdefault(name.strip(), entry)


def entry_point_table() -> dict[str, dict[str, Entry]]:
    """group -> {name: Entry} for every installed distribution (cached per process)."""
    global _TABLE
    if _TABLE is not None:
        return _TABLE
    table: dict[str, dict[str, Entry]] = {}
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in sorted(names):
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            dist = name.rsplit("-", 1)[0] if name.endswith(".dist-info") else name[: -len(".egg-info")]
            dist = dist.split("-")[0].lower().replace("_", "-")
            if dist in seen:
                continue
            seen.add(dist)
            try:
                with open(os.path.join(entry or ".", name, "entry_points.txt"), encoding="utf-8") as fh:
                    _parse_entry_points(fh.read(), dist, table)
            except OSError:
                continue
    _TABLE = table
    return table


def entry_points(group: str) -> dict[str, str]:
    """name -> ``module:attr`` in ``group``."""
    return {name: e.target for name, e in entry_point_table().get(group, {}).items()}


def installed_names(group: str) -> list[str]:
    return sorted(entry_point_table().get(group, {}))


def _needs_extra(group: str, name: str, entry: Entry, exc: ImportError) -> PluginError:
    module = (exc.name or "").split(".")[0] or "an optional"
    return PluginError(f"the {name!r} {_KIND.get(group, 'driver')} needs the {module!r} package: "
                       f"pip install '{entry.dist}[{','.join(entry.extras)}]'")


def missing_extra(exc: ImportError) -> PluginError | None:
    """The error naming the extra to install, when ``exc`` is a driver's optional library
    missing; None for any other import error.

    Drivers import their client library when they first need it (so ``k8s:manifests`` or
    ``plugins:list`` need no cluster client), which is past ``load_driver``. The driver is
    found from the traceback instead: the innermost frame running a module of an entry point
    that declares extras. Its entry point says what to install, for a third-party driver too.
    """
    import traceback

    frames = [frame.f_globals.get("__name__", "") for frame, _ in traceback.walk_tb(exc.__traceback__)]
    table = entry_point_table()
    for module in reversed(frames):
        for group in sorted(table):
            for name, entry in sorted(table[group].items()):
                package = entry.target.partition(":")[0].strip()
                if entry.extras and (module == package or module.startswith(package + ".")):
                    return _needs_extra(group, name, entry, exc)
    return None


def load_driver(group: str, name: str) -> Any:
    """Import and return the class registered as ``name`` in ``group``.

    Errors are DockyardErrors: an unknown name lists the installed ones; a missing optional
    dependency names the extra to install. The user never sees a bare ImportError.
    """
    names = installed_names(group)
    if name not in names:
        kind = group.rsplit(".", 1)[-1].rstrip("s").replace("proxie", "proxy")
        raise PluginError(
            f"unknown {kind} {name!r}; installed: {', '.join(names) or 'none'}"
        )
    entry = entry_point_table()[group][name]
    module, _, attr = entry.target.partition(":")
    try:
        obj = importlib.import_module(module.strip())
    except ImportError as exc:
        if entry.extras:
            raise _needs_extra(group, name, entry, exc) from exc
        raise PluginError(f"the {name!r} {_KIND.get(group, 'driver')} in {group} failed to import: {exc}") from exc
    try:
        for part in attr.strip().split("."):
            obj = getattr(obj, part)
    except AttributeError as exc:
        raise PluginError(f"the {name!r} driver in {group} is broken: {exc}") from exc
    return obj


class DriverInfo(NamedTuple):
    group: str
    name: str
    target: str
    loaded: bool
    capabilities: tuple[str, ...] = ()
    error: str | None = None
    load_seconds: float = 0.0


def describe_all() -> list[DriverInfo]:
    """Every installed driver in every group, loading each to read its capabilities.

    Enumeration goes through stevedore's ExtensionManager; a driver that fails to load is
    reported with its reason (the same message ``load_driver`` gives), never dropped.
    """
    from stevedore import extension

    infos: list[DriverInfo] = []
    for group in GROUPS:
        mgr = extension.ExtensionManager(namespace=group, invoke_on_load=False, on_load_failure_callback=_ignore)
        loaded = {ext.name: ext for ext in mgr}
        for name, target in sorted(entry_points(group).items()):
            start = time.perf_counter()
            try:
                cls = loaded[name].plugin if name in loaded else load_driver(group, name)
                caps = tuple(sorted(str(c) for c in getattr(cls, "capabilities", ())))
                infos.append(DriverInfo(group, name, target, True, caps, load_seconds=time.perf_counter() - start))
            except Exception as exc:  # reported, not skipped
                infos.append(DriverInfo(group, name, target, False, error=str(exc),
                                        load_seconds=time.perf_counter() - start))
    return infos


def _ignore(manager: Any, entrypoint: Any, exc: BaseException) -> None:
    """Load failures are re-diagnosed by load_driver so the reason names the extra."""
