"""Dockerfile builds through the SDK (no BuildKit needed).

docker build takes a single network for its intermediate containers, so the app's first
``attach-post-create`` network is used, else its ``initial-network``. The RUN containers
are on that network from the moment they are created, which is before they start: the
post-create phase holds for build containers. Dokku fires no post-container-create for
Dockerfile builds (no container exists to hand to a hook), and neither does Dockyard.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dockyard.core.errors import DeployError, ValidationError
from dockyard.core.models import NetworkSettings
from dockyard.schedulers.base import Progress
from dockyard.schedulers.docker_local import labels as L


def build_network(networks: NetworkSettings) -> str | None:
    if networks.attach_post_create:
        return networks.attach_post_create[0]
    return networks.initial_network


def build(api: Any, app: str, context: Path, networks: NetworkSettings, progress: Progress) -> str:
    if not (context / "Dockerfile").is_file():
        raise ValidationError(f"no Dockerfile in {context}")
    tag = f"dockyard/{app}:" + time.strftime("%Y%m%d%H%M%S", time.gmtime()) + f"{int(time.time() * 1000) % 1000:03d}"
    network = build_network(networks)
    lines = 0
    tail: list[str] = []
    for chunk in api.build(path=str(context), tag=tag, rm=True, forcerm=True, decode=True,
                           network_mode=network, labels={L.APP: app, L.MARKER: "1"}):
        if "error" in chunk:
            detail = "".join(f"\n    {line}" for line in tail[-10:])
            raise DeployError(f"build of {app} failed: {str(chunk['error']).strip()}{detail}")
        text = str(chunk.get("stream") or "").rstrip()
        if text:
            lines += 1
            tail.append(text)
            progress(text, lines, 0)
    return tag
