"""The event stream's ordering guarantee, against a scripted engine (no dockerd needed): a
start waiting for its task to run does not hold back the events behind it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from dockyard_swarm import events


class ScriptedEngine:
    """Two containers' events: a start whose task runs only after 1.5 s, then a die."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def events(self, decode: bool, filters: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for action, cid, task in (("start", "c-slow", "t-slow"), ("die", "c-dead", "t-dead")):
            yield {"Action": action, "timeNano": time.time_ns(), "Actor": {"ID": cid, "Attributes": {
                "com.dockyard.app": "shop", "com.dockyard.process-type": "web",
                "com.docker.swarm.service.id": "svc", "com.docker.swarm.task.id": task, "exitCode": "137"}}}

    def inspect_task(self, task_id: str) -> dict[str, Any]:
        late = task_id == "t-slow" and time.monotonic() - self.started < 1.5
        state = "starting" if late else ("running" if task_id == "t-slow" else "failed")
        return {"ID": task_id, "Slot": 1, "Status": {"State": state}, "Spec": {"ContainerSpec": {"Labels": {}}}}

    def inspect_service(self, service_id: str) -> dict[str, Any]:
        return {"Spec": {"TaskTemplate": {"RestartPolicy": {"Condition": "on-failure", "MaxAttempts": 10}}}}

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return []


def test_a_start_waiting_for_its_task_does_not_hold_back_a_later_die() -> None:
    seen = list(events.stream(ScriptedEngine()))
    assert [(e.action, e.instance_id) for e in seen] == [("die", "c-dead"), ("start", "c-slow")]
    die, start = seen
    assert (die.restart_policy, die.max_retries, die.exit_code, die.restart_count) == ("on-failure", 10, 137, 1)
    assert start.process_type == "web" and start.app == "shop"
