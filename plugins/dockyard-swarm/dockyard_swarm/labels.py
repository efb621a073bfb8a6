"""Labels and names: how the driver finds its own services, tasks and one-offs.

The label keys are docker-local's (``com.dockyard.*`` and Dokku's ``com.dokku.*``), so tools
that read them from containers keep working whichever scheduler made the container. They
are put on the service (to find it) and on its container spec (so every task's container,
and so every engine event about it, carries them).
"""

from __future__ import annotations

import re

from dockyard.schedulers.names import platform_name

PREFIX = "com.dockyard"
MARKER = PREFIX
APP = f"{PREFIX}.app"
PROCESS = f"{PREFIX}.process-type"
RELEASE = f"{PREFIX}.release"
CONTAINER_TYPE = f"{PREFIX}.container-type"  # deploy | run
DYNO = f"{PREFIX}.dyno"
SCHEDULER = f"{PREFIX}.scheduler"
#: on a stopped service (``ps:stop``): the replica count ``ps:start`` gives back
STOPPED_SCALE = f"{PREFIX}.swarm.stopped-scale"

#: swarmkit's service name rule (no dots; at most 63 characters)
_SERVICE_NAME = re.compile(r"[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*")

# the swarm labels every task's container gets from the engine
SWARM_SERVICE_ID = "com.docker.swarm.service.id"
SWARM_SERVICE_NAME = "com.docker.swarm.service.name"
SWARM_TASK_ID = "com.docker.swarm.task.id"


def service_name(app: str, proc: str) -> str:
    """``APP_PROC``; a Dokku name swarm refuses (one with dots) is mapped the shared way."""
    return platform_name(f"{app}_{proc}", _SERVICE_NAME)


def live_name(app: str, proc: str, slot: int) -> str:
    """The instance name Dokku users know (``APP.PROC.N``); N is the task's slot."""
    return f"{app}.{proc}.{slot}"


def dokku_labels(app: str, proc: str, container_type: str) -> dict[str, str]:
    return {"com.dokku.app-name": app, "com.dokku.process-type": proc,
            "com.dokku.container-type": container_type, "dokku": ""}


def service_labels(app: str, proc: str, release: str) -> dict[str, str]:
    """On the service and on its container spec; the release tells old tasks from new."""
    return {MARKER: "1", APP: app, PROCESS: proc, RELEASE: release, CONTAINER_TYPE: "deploy",
            SCHEDULER: "swarm", **dokku_labels(app, proc, "deploy")}


def run_labels(app: str, index: int, release: str) -> dict[str, str]:
    return {MARKER: "1", APP: app, PROCESS: "run", DYNO: f"run.{index}", RELEASE: release,
            CONTAINER_TYPE: "run", SCHEDULER: "swarm", **dokku_labels(app, "run", "run")}
