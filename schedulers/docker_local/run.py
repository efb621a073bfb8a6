"""One-off containers (``dockyard run``): ``APP.run.N``, the app's labels, env and networks.

The container is created on the initial network, attached to the post-create networks
before it starts, streamed to our stdout/stderr, removed afterwards, and its exit code is
passed through. As in Dokku, a first argument naming a Procfile entry runs that entry.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Sequence
from typing import Any

from dockyard.core.errors import DockyardError
from dockyard.core.hooks import Hooks
from dockyard.core.models import DeployPlan, Phase
from dockyard.schedulers.base import run_argv
from dockyard.schedulers.docker_local import containers
from dockyard.schedulers.docker_local import labels as L


def _free_index(api: Any, app: str) -> int:
    used = {c.get("Labels", {}).get(L.DYNO, "") for c in containers.listing(api, app, "run")}
    n = 1
    while f"run.{n}" in used:
        n += 1
    return n


def run(api: Any, plan: DeployPlan, command: Sequence[str], hooks: Hooks, tty: bool,
        env: dict[str, str] | None, scheduler: Any) -> int:
    argv = run_argv(plan, command)
    initial = plan.networks.initial_network
    for _attempt in range(20):  # another run may take the same index between list and create
        index = _free_index(api, plan.app)
        labels = {L.MARKER: "1", L.APP: plan.app, L.PROCESS: "run", L.DYNO: f"run.{index}",
                  L.RELEASE: plan.release, L.CONTAINER_TYPE: "run"}
        environment = {**plan.env, **(env or {}), "DYNO": f"run.{index}"}
        try:
            cid = str(api.create_container(
                image=plan.image, command=argv, name=L.run_name(plan.app, index), labels=labels,
                environment=environment, tty=tty,
                host_config=api.create_host_config(init=True, network_mode=initial or None),
                detach=True,
            )["Id"])
            break
        except Exception as exc:
            if "Conflict" not in str(exc) and "409" not in str(exc):
                raise
    else:
        raise DockyardError(f"could not find a free run container name for {plan.app}")
    try:
        for net in plan.networks.attach_post_create:
            if net != initial:
                containers.connect(api, cid, net)
        hooks.fire("post-container-create", container_type="app", container_id=cid, app=plan.app,
                   phase=Phase.RUN, process_type="run", scheduler=scheduler)
        api.start(cid)
        _stream(api, cid, tty)
        return int(api.wait(cid).get("StatusCode", 1))
    finally:
        containers.remove(api, cid)


def _write(stream: Any, data: bytes) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode(errors="replace"))
        stream.flush()


def _stream(api: Any, cid: str, tty: bool) -> None:
    """Copy the container's output from its very start until it exits.

    ``logs --follow`` ends when the container stops (an attach stream may not); one
    follower per stream keeps stdout and stderr apart.
    """

    def follow(stdout: bool, target: Any) -> None:
        for chunk in api.logs(cid, stdout=stdout, stderr=not stdout, stream=True, follow=True):
            _write(target, chunk)

    err = threading.Thread(target=follow, args=(False, sys.stderr), daemon=True)
    if not tty:
        err.start()
    with contextlib.suppress(KeyboardInterrupt):
        follow(True, sys.stdout)
    if not tty:
        err.join(timeout=5)
