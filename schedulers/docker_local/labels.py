"""Labels and container names: how Dockyard finds its own objects on a shared engine.

Naming during a redeploy: new containers are created as ``APP.PROC.N.upcoming-RELEASE`` so
they never collide with the serving ``APP.PROC.N``. Once they pass their checks and are on
their post-deploy networks, each old ``APP.PROC.N`` is renamed ``APP.PROC.N.retired-ID``
(ID: its short container id) and each new one takes the plain name, all before
``core-post-deploy`` fires, so the proxy sees only the new release under the live names.
Dokku does the same rename in its core-post-deploy step.
"""

from __future__ import annotations

import re

PREFIX = "com.dockyard"
MARKER = PREFIX  # every Dockyard container carries it
APP = f"{PREFIX}.app"
PROCESS = f"{PREFIX}.process-type"
DYNO = f"{PREFIX}.dyno"
RELEASE = f"{PREFIX}.release"
CONTAINER_TYPE = f"{PREFIX}.container-type"  # deploy | run | helper
NETWORK_NAME = f"{PREFIX}.network-name"  # on networks made by network:create

# Dokku's app names hold dots (test.dokku.test.web.1); a process type never does, so the
# last two dot-separated parts are the process and its index
_LIVE = re.compile(r"^/?(?P<app>[a-z0-9][a-z0-9.-]*)\.(?P<proc>[A-Za-z0-9_-]+)\.(?P<index>\d+)$")


def live_name(app: str, proc: str, index: int) -> str:
    return f"{app}.{proc}.{index}"


def upcoming_name(app: str, proc: str, index: int, release: str) -> str:
    return f"{live_name(app, proc, index)}.upcoming-{release}"


def retired_name(app: str, proc: str, index: int, container_id: str) -> str:
    return f"{live_name(app, proc, index)}.retired-{container_id[:12]}"


def run_name(app: str, index: int) -> str:
    return f"{app}.run.{index}"


def is_live(name: str) -> bool:
    """True for ``APP.PROC.N`` (the serving name), False for upcoming/retired ones."""
    return _LIVE.match(name) is not None


def dokku_labels(app: str, proc: str, container_type: str) -> dict[str, str]:
    """Dokku's own labels, so tools that read them (``com.dokku.app-name`` and kin) keep
    working; Dockyard itself finds its containers by the ``com.dockyard.*`` ones."""
    return {
        "com.dokku.app-name": app,
        "com.dokku.process-type": proc,
        "com.dokku.container-type": container_type,
        "dokku": "",
    }


def deploy_labels(app: str, proc: str, index: int, release: str) -> dict[str, str]:
    return {
        MARKER: "1",
        APP: app,
        PROCESS: proc,
        DYNO: f"{proc}.{index}",
        RELEASE: release,
        CONTAINER_TYPE: "deploy",
        **dokku_labels(app, proc, "deploy"),
        "com.dokku.dyno": f"{proc}.{index}",
    }
