"""The kubernetes driver's events: a watch on Dockyard's pods in each namespace its settings
name, reconnecting with backoff, normalised by ``pod_events`` into start/restart/die/destroy.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from dockyard.core.models import SchedulerEvent
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.schedulers.kubernetes import render as R
from dockyard.schedulers.kubernetes.client import PLUGIN
from dockyard.schedulers.kubernetes.objects import KubeObjects, Obj, obj_labels, obj_meta

log = logging.getLogger("dockyard.kubernetes")


class KubeEvents(KubeObjects):
    """``events``: one watch thread per namespace, merged into one stream."""

    def _namespaces(self) -> list[str]:
        """The namespaces this driver's own settings name: the global one and each app's
        ``scheduler-kubernetes/<app>/namespace`` (an app without one deploys to the global
        one). Read from the driver's properties, not core's app registry; an app that set a
        namespace but runs elsewhere only adds a watch that sees nothing."""
        apps = [s for s in self.store.scopes(PLUGIN) if s != GLOBAL_SCOPE]
        return sorted({self._ns(None), *(self._ns(app) for app in apps)})

    def events(self) -> Iterator[SchedulerEvent]:
        """A watch on Dockyard's pods in every namespace in use, as start/restart/die/destroy."""
        from kubernetes import watch

        out: queue.Queue[SchedulerEvent | BaseException] = queue.Queue()
        stop = threading.Event()
        watchers: list[Any] = []

        def follow(ns: str) -> None:
            seen: dict[str, tuple[bool, int]] = {}
            version: str | None = None
            delay = 0.5
            while not stop.is_set():
                w = watch.Watch()
                watchers.append(w)
                try:
                    kwargs: dict[str, Any] = {"label_selector": R.APP_LABEL, "timeout_seconds": 300}
                    if version:
                        kwargs["resource_version"] = version
                    for raw in w.stream(self.kube.core.list_namespaced_pod, ns, **kwargs):
                        if stop.is_set():
                            return
                        pod = self.kube.sanitize(raw["object"])
                        version = obj_meta(pod).get("resourceVersion") or version
                        for event in pod_events(raw["type"], pod, seen):
                            out.put(event)
                    delay = 0.5
                except Exception as exc:
                    if stop.is_set():
                        return
                    log.warning("kubernetes watch on %s ended (%s); reconnecting in %.1fs", ns, exc, delay)
                    version = None
                    time.sleep(delay)
                    delay = min(delay * 2, 30.0)

        for ns in self._namespaces():
            threading.Thread(target=follow, args=(ns,), daemon=True, name=f"dockyard-k8s-watch-{ns}").start()
        try:
            while True:
                item = out.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            for w in watchers:
                with contextlib.suppress(Exception):
                    w.stop()


def pod_events(kind: str, pod: Obj, seen: dict[str, tuple[bool, int]]) -> list[SchedulerEvent]:
    """Watch events for one pod -> normalised lifecycle events, using what was seen before."""
    labels = obj_labels(pod)
    app = labels.get(R.APP_LABEL, "")
    proc = labels.get(R.PROC_LABEL, "")
    uid = str(obj_meta(pod).get("uid", ""))
    policy = str((obj_meta(pod).get("annotations") or {}).get(R.RESTART_ANNOTATION, "always"))
    name, _, limit = policy.partition(":")
    base = {"app": app, "process_type": proc, "instance_id": uid, "time": time.time(),
            "restart_policy": name, "max_retries": int(limit) if name == "on-failure" and limit.isdigit() else 0}
    if kind == "DELETED":
        seen.pop(uid, None)
        return [SchedulerEvent(action="destroy", **base)]  # type: ignore[arg-type]
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    running = bool(statuses) and all((cs.get("state") or {}).get("running") for cs in statuses)
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    was_running, was_restarts = seen.get(uid, (False, 0))
    seen[uid] = (running, restarts)
    events: list[SchedulerEvent] = []
    if restarts > was_restarts:
        events.append(SchedulerEvent(action="restart", restart_count=restarts, **base))  # type: ignore[arg-type]
    elif running and not was_running:
        events.append(SchedulerEvent(action="start", restart_count=restarts, **base))  # type: ignore[arg-type]
    if not running and was_running:
        code = None
        for cs in statuses:
            term = (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get("terminated")
            if term:
                code = int(term.get("exitCode", 1))
        events.append(SchedulerEvent(action="die", exit_code=code, restart_count=restarts, **base))  # type: ignore[arg-type]
    return events
