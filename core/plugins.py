"""Driver loading through stevedore entry points.

Only the driver that was chosen is imported: a ``DriverManager`` loads one entry point by
name. Listing uses entry-point metadata, which imports nothing, so ``--help`` and every
command that does not need a driver stay fast.
"""

from __future__ import annotations

import importlib.metadata as md
import time
from dataclasses import dataclass, field
from typing import Any

from dockyard.core.errors import PluginError

PROPSTORES = "dockyard.propstores"
SCHEDULERS = "dockyard.schedulers"
PROXIES = "dockyard.proxies"
HOOKS = "dockyard.hooks"
COMMANDS = "dockyard.commands"
GROUPS = (PROPSTORES, SCHEDULERS, PROXIES)

#: third-party module -> the dockyard extra that installs it
EXTRA_FOR_MODULE = {
    "redis": "redis",
    "etcd3": "etcd",
    "grpc": "etcd",
    "google": "etcd",
    "kubernetes": "kubernetes",
    "nomad": "nomad",
}


def installed_names(group: str) -> list[str]:
    return sorted({ep.name for ep in md.entry_points(group=group)})


def _missing_dependency_error(group: str, name: str, exc: ImportError) -> PluginError:
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_FOR_MODULE.get(module)
    if extra:
        return PluginError(
            f"the {name!r} driver needs the {module!r} package: pip install 'dockyard[{extra}]'"
        )
    return PluginError(f"the {name!r} driver in {group} failed to import: {exc}")


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
    from stevedore import driver  # stevedore itself is only imported when a driver is loaded

    try:
        mgr = driver.DriverManager(
            namespace=group, name=name, invoke_on_load=False, on_load_failure_callback=_reraise
        )
    except ImportError as exc:
        raise _missing_dependency_error(group, name, exc) from exc
    return mgr.driver


def _reraise(manager: Any, entrypoint: Any, exc: BaseException) -> None:
    raise exc


@dataclass
class DriverInfo:
    group: str
    name: str
    target: str
    loaded: bool
    capabilities: list[str] = field(default_factory=list)
    error: str | None = None
    load_seconds: float = 0.0


def describe_all() -> list[DriverInfo]:
    """Every installed driver in every group, loading each to read its capabilities.

    A driver that fails to load is reported with its reason, never dropped.
    """
    infos: list[DriverInfo] = []
    for group in GROUPS:
        for ep in sorted(md.entry_points(group=group), key=lambda e: e.name):
            start = time.perf_counter()
            try:
                cls = load_driver(group, ep.name)
                caps = sorted(str(c) for c in getattr(cls, "capabilities", ()))
                infos.append(DriverInfo(group, ep.name, ep.value, True, caps,
                                        load_seconds=time.perf_counter() - start))
            except Exception as exc:  # reported, not skipped
                infos.append(DriverInfo(group, ep.name, ep.value, False, error=str(exc),
                                        load_seconds=time.perf_counter() - start))
    return infos
