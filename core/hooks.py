"""Lifecycle hooks with Dokku's trigger names.

The core subscribes its own wiring (proxy rebuild on ``core-post-deploy``) to the same
points that third-party plugins reach through the ``dockyard.hooks`` entry-point group,
so a plugin can do what the core does by the same road. A failing ``pre-*`` or
``*-create`` hook aborts the step; a failing ``post-*`` hook is logged and the rest runs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from dockyard.core.errors import DockyardError

log = logging.getLogger("dockyard.hooks")

Hook = Callable[..., Any]

KNOWN = (
    "post-create",
    "post-app-clone",
    "post-app-rename",
    "post-stop",
    "pre-deploy",
    "post-container-create",
    "core-post-deploy",
    "post-deploy",
    "pre-delete",
    "post-delete",
    "network-build-config",
    "proxy-build-config",
)


def _aborts(name: str) -> bool:
    return name.startswith("pre-") or name.endswith("-create")


class Hooks:
    """Subscribers per trigger name: in-process ones first, then installed plugins."""

    def __init__(self, load_entry_points: bool = True) -> None:
        self._subs: dict[str, list[Hook]] = defaultdict(list)
        self._tags: set[str] = set()
        self._eps_loaded = not load_entry_points

    def subscribe(self, name: str, fn: Hook) -> None:
        self._subs[name].append(fn)

    def subscribed_once(self, tag: str) -> bool:
        """True if ``tag`` was seen before: lets wiring subscribe once per Hooks object."""
        seen = tag in self._tags
        self._tags.add(tag)
        return seen

    def _load_entry_points(self) -> None:
        self._eps_loaded = True
        from dockyard.core.plugins import HOOKS, entry_points

        names = entry_points(HOOKS)
        if not names:
            return  # nothing installed: don't pay for stevedore
        from stevedore import hook

        for name in names:
            mgr: hook.HookManager = hook.HookManager("dockyard.hooks", name, invoke_on_load=False)
            for ext in mgr:
                self._subs[name].append(ext.plugin)

    def fire(self, name: str, **kwargs: Any) -> list[Exception]:
        """Run every subscriber of ``name``; return the failures of the ones that may fail.

        A failure of a ``post-*`` hook is logged and the rest still run; the failures are
        returned so the step that fired it can act on them (core aborts a rollout whose
        ``core-post-deploy`` failed: the old release keeps serving).
        """
        if not self._eps_loaded:
            self._load_entry_points()
        failed: list[Exception] = []
        for fn in list(self._subs.get(name, ())):
            try:
                fn(**kwargs)
            except Exception as exc:
                if _aborts(name):
                    if isinstance(exc, DockyardError):
                        raise
                    raise DockyardError(f"{name} hook {getattr(fn, '__name__', fn)} failed: {exc}") from exc
                log.warning("%s hook %s failed: %s", name, getattr(fn, "__name__", fn), exc)
                failed.append(exc)
        return failed
