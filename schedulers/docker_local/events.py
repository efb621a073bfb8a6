"""Docker's event stream as SchedulerEvents, for the event listener.

Only containers carrying Dockyard's app label are followed. The restart policy and
counts come from inspecting the container at the time of the event, so the listener can
tell an exhausted on-failure policy from one still retrying. Engines newer than 20.10
drop the top-level ``id`` field, so the id is read from ``Actor.ID``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dockyard.core.models import SchedulerEvent
from dockyard.schedulers.docker_local import labels as L

ACTIONS = {"start": "start", "restart": "restart", "die": "die", "stop": "stop", "destroy": "destroy"}


def normalise(api: Any, event: dict[str, Any]) -> SchedulerEvent | None:
    action = str(event.get("Action") or event.get("status") or "")
    kind = "health" if action.startswith("health_status") else ACTIONS.get(action)
    if kind is None:
        return None
    actor = event.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    app = attrs.get(L.APP)
    if not app or attrs.get(L.CONTAINER_TYPE, "deploy") != "deploy":
        return None
    cid = str(actor.get("ID") or event.get("id") or "")
    policy, count, max_retries = "", 0, 0
    if kind != "destroy":
        try:
            info = api.inspect_container(cid)
            rp = info["HostConfig"].get("RestartPolicy") or {}
            policy = str(rp.get("Name") or "")
            max_retries = int(rp.get("MaximumRetryCount") or 0) if policy == "on-failure" else 0
            count = int(info.get("RestartCount") or 0)
        except Exception:  # gone between the event and the inspect
            pass
    exit_code = attrs.get("exitCode")
    return SchedulerEvent(
        action=kind,
        app=app,
        process_type=attrs.get(L.PROCESS, ""),
        instance_id=cid,
        time=float(event.get("timeNano") or 0) / 1e9 or float(event.get("time") or 0),
        restart_policy=policy,
        restart_count=count,
        max_retries=max_retries,
        exit_code=int(exit_code) if exit_code is not None and str(exit_code).lstrip("-").isdigit() else None,
    )


def stream(api: Any) -> Iterator[SchedulerEvent]:
    for event in api.events(decode=True, filters={"type": "container", "label": [L.APP]}):
        normalised = normalise(api, event)
        if normalised is not None:
            yield normalised
