"""One-off containers (``dockyard run``): ``APP.run.N`` on the app's attachable networks.

Swarm has no one-off tasks that stream their output back, so, as the issue asks, a one-off
is a plain container on this engine: created with the app's labels and environment, joined
to the app's networks (attachable overlays accept plain containers) before it starts, its
output copied to ours, removed afterwards; its exit code is passed through. Stdin is not
forwarded (a limitation of this driver, not of swarm).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import DockyardError
from dockyard.core.hooks import Hooks
from dockyard.core.models import DeployPlan, Phase
from dockyard.schedulers.runs import run_argv, stream_output
from dockyard_swarm import labels as L
from dockyard_swarm import spec as S

if TYPE_CHECKING:
    from dockyard_swarm.driver import SwarmScheduler


def _create(api: Any, plan: DeployPlan, argv: list[str], tty: bool, env: dict[str, str] | None) -> str:
    """Create the container under the first free ``APP.run.N`` name; return its id."""
    for _attempt in range(20):  # another run may take the same index between list and create
        used = {(c.get("Labels") or {}).get(L.DYNO, "") for c in api.containers(
            all=True, filters={"label": [f"{L.APP}={plan.app}", f"{L.CONTAINER_TYPE}=run"]})}
        index = next(n for n in range(1, len(used) + 2) if f"run.{n}" not in used)
        environment = {**plan.env, **(env or {}), "DYNO": f"run.{index}"}
        try:
            created = api.create_container(
                image=plan.image, command=argv, labels=L.run_labels(plan.app, index, plan.release),
                environment=environment, tty=tty, detach=True, name=f"{plan.app}.run.{index}",
                host_config=api.create_host_config(init=True))
            return str(created["Id"])
        except Exception as exc:
            if "Conflict" not in str(exc) and "409" not in str(exc):
                raise
    raise DockyardError(f"could not find a free run container name for {plan.app}")


def run(scheduler: SwarmScheduler, plan: DeployPlan, command: Sequence[str], hooks: Hooks, tty: bool,
        env: dict[str, str] | None) -> int:
    api = scheduler.api
    argv = run_argv(plan, command)
    cid = _create(api, plan, argv, tty, env)
    try:
        for net in S.networks_of(plan):
            api.connect_container_to_network(cid, net)
        hooks.fire("post-container-create", container_type="app", container_id=cid, app=plan.app,
                   phase=Phase.RUN, process_type="run", scheduler=scheduler)
        api.start(cid)
        stream_output(api, cid, tty)
        return int(api.wait(cid).get("StatusCode", 1))
    finally:
        with contextlib.suppress(Exception):
            api.remove_container(cid, force=True)
