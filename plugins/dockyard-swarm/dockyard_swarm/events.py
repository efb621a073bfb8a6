"""The engine's events about this driver's tasks, as SchedulerEvents for ``events:listen``.

Swarm's engine reports no task events of its own, but every task's container carries the
service's labels and ``com.docker.swarm.*``, so the container events are followed. A
container ``start`` is reported once swarm's manager marks the task running (for a task
with a healthcheck: healthy): the listener then reads listeners, which list only running
tasks, and would otherwise miss the replacement of a killed task. The restart policy and
retry limit are the service's (the containers themselves have none: swarm restarts by
starting a new task in the same slot, counted here as the slot's restarts).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from dockyard.core.models import SchedulerEvent
from dockyard_swarm import labels as L
from dockyard_swarm import spec as S
from dockyard_swarm import tasks as T

ACTIONS = {"start": "start", "die": "die", "stop": "stop", "destroy": "destroy"}
#: how long a start waits for the manager to mark its task running
RUNNING_WAIT = 30.0


def _until_running(api: Any, task_id: str, timeout: float = RUNNING_WAIT) -> bool:
    """True once the task is running; False if it ended first (or it cannot be read)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = T.state_of(api.inspect_task(task_id))
        except Exception:
            return False
        if state == "running":
            return True
        if state in T.ENDED:
            return False
        time.sleep(0.1)
    return False


def _slot_restarts(api: Any, service_id: str, task: dict[str, Any] | None) -> int:
    """Earlier tasks of the same release in the task's slot that ended (swarm's restarts)."""
    if not task:
        return 0
    release, slot = T.release_of(task), task.get("Slot")
    return sum(1 for t in T.tasks_of(api, service_id)
               if t.get("Slot") == slot and t["ID"] != task["ID"] and T.release_of(t) == release
               and T.state_of(t) in ("failed", "complete", "shutdown"))


def normalise(api: Any, event: dict[str, Any]) -> SchedulerEvent | None:
    action = str(event.get("Action") or event.get("status") or "")
    kind = "health" if action.startswith("health_status") else ACTIONS.get(action)
    if kind is None:
        return None
    attrs = (event.get("Actor") or {}).get("Attributes") or {}
    app, service_id, task_id = attrs.get(L.APP), attrs.get(L.SWARM_SERVICE_ID), attrs.get(L.SWARM_TASK_ID)
    if not app or not service_id or attrs.get(L.CONTAINER_TYPE, "deploy") != "deploy":
        return None
    if kind == "start" and task_id and not _until_running(api, task_id):
        return None  # it never served (a failed check): nothing to route to
    policy, max_retries, count = "", 0, 0
    try:
        spec = api.inspect_service(service_id)["Spec"]
        policy, max_retries = S.dokku_policy((spec.get("TaskTemplate") or {}).get("RestartPolicy") or {})
        if kind == "die":
            count = _slot_restarts(api, service_id, api.inspect_task(task_id) if task_id else None) + 1
    except Exception:  # the service went (destroy) between the event and the inspect
        pass
    exit_code = attrs.get("exitCode")
    return SchedulerEvent(
        action=kind, app=app, process_type=attrs.get(L.PROCESS, ""),
        instance_id=str((event.get("Actor") or {}).get("ID") or event.get("id") or ""),
        time=float(event.get("timeNano") or 0) / 1e9 or float(event.get("time") or 0),
        restart_policy=policy, restart_count=count, max_retries=max_retries,
        exit_code=int(exit_code) if exit_code is not None and str(exit_code).lstrip("-").isdigit() else None)


def stream(api: Any) -> Iterator[SchedulerEvent]:
    """Follow the engine's events. Each one is normalised on a thread of its own, so a start
    waiting for its task to run (up to ``RUNNING_WAIT``) never holds back the events behind
    it; the generator ends when the engine's stream does."""
    found: queue.Queue[SchedulerEvent | None] = queue.Queue()
    events = api.events(decode=True, filters={"type": "container", "label": [L.APP, L.SWARM_SERVICE_ID]})
    pending: list[threading.Thread] = []

    def one(event: dict[str, Any]) -> None:
        normalised = normalise(api, event)
        if normalised is not None:
            found.put(normalised)

    def read() -> None:
        try:
            for event in events:
                worker = threading.Thread(target=one, args=(event,), daemon=True)
                worker.start()
                pending.append(worker)
                pending[:] = [w for w in pending if w.is_alive()]
        finally:
            for worker in list(pending):
                worker.join(RUNNING_WAIT)
            found.put(None)

    threading.Thread(target=read, daemon=True, name="dockyard-swarm-events").start()
    try:
        while (item := found.get()) is not None:
            yield item
    finally:
        with contextlib.suppress(Exception):
            events.close()
