"""A plan's process type as a swarm service spec: pure functions, no engine calls.

What maps where:

- replicas: the type's scale (``Mode.Replicated.Replicas``);
- the restart policy: ``ps``'s ``restart-policy`` (``no`` -> ``none``, ``always`` and
  ``unless-stopped`` -> ``any``, ``on-failure:N`` -> ``on-failure`` with ``MaxAttempts N``);
- zero downtime: ``UpdateConfig`` with ``Order start-first`` (``stop-first`` where
  ``checks:disable`` turned it off), ``FailureAction rollback`` and no tolerated failure;
- the checks: a healthcheck whose interval is the checks' ``wait`` (an HTTP ``GET`` of the
  ``checks path`` for web, else ``exit 0``). Swarm counts a task with a healthcheck as
  running only once it is healthy, and start-first stops an old task only when its
  replacement is running: so a new task that dies within ``wait`` fails the update and the
  old task never stopped. ``Monitor`` is only ``MONITOR`` (1 s): swarm counts a failure only
  within the monitor period after a task's update, and a failed check ends the task before
  it runs, at once; a monitor of ``wait`` would watch the new task *after* the old one had
  already stopped, and add ``wait`` to every deploy;
- networks: ``attach-post-create`` and ``attach-post-deploy`` networks are the task's
  networks from creation (see the README for why post-deploy maps there), with Dokku's
  ``APP.PROC[.TLD]`` alias;
- endpoints: ``dnsrr``, because service virtual IPs need IPVS.
"""

from __future__ import annotations

from typing import Any

from dockyard.core.errors import ValidationError
from dockyard.core.models import DeployPlan, ProcessSpec
from dockyard_swarm import labels as L

NS = 1_000_000_000
#: seconds before swarm replaces a task that exited (swarm's own default is 5 s)
RESTART_DELAY = 1.0
#: seconds after each task's update in which swarm counts its failure (and rolls back)
MONITOR = 1.0


def restart_policy(policy: str) -> dict[str, Any]:
    """Dokku's ``ps`` restart policy as swarm's ``RestartPolicy``."""
    name, _, count = policy.strip().partition(":")
    if count and (name != "on-failure" or not count.isdigit()):
        raise ValidationError(f"invalid restart policy {policy!r}: only on-failure takes a retry count")
    conditions = {"no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}
    if name not in conditions:
        raise ValidationError(f"invalid restart policy {policy!r}: use no, always, unless-stopped or on-failure[:N]")
    result: dict[str, Any] = {"Condition": conditions[name], "Delay": int(RESTART_DELAY * NS)}
    if name == "on-failure" and count and int(count) > 0:
        result["MaxAttempts"] = int(count)
    return result


def dokku_policy(restart: dict[str, Any]) -> tuple[str, int]:
    """swarm's ``RestartPolicy`` back as (Dokku policy name, maximum retries), for events."""
    condition = str(restart.get("Condition") or "any")
    if condition == "on-failure":
        return "on-failure", int(restart.get("MaxAttempts") or 0)
    return ("no" if condition == "none" else "always"), 0


def healthcheck(plan: DeployPlan, proc: str) -> dict[str, Any] | None:
    """The zero-downtime checks as a healthcheck, or None where there is nothing to check."""
    checks = plan.checks
    if not checks.enabled_for(proc):
        return None
    http = bool(checks.path) and proc == "web"
    if not http and checks.wait <= 0:
        return None  # "running" is all the check asks, and swarm's own running state says it
    if http:
        path = checks.path if checks.path and checks.path.startswith("/") else f"/{checks.path}"
        test = ["CMD-SHELL", f"wget -q -O /dev/null http://127.0.0.1:{plan.web_port}{path} || exit 1"]
    else:
        test = ["CMD-SHELL", "exit 0"]
    return {"Test": test, "Interval": max(int(checks.wait * NS), NS // 1000),
            "Timeout": int(max(checks.timeout, 1.0) * NS), "Retries": max(1, checks.attempts)}


def aliases(app: str, proc: str, tld: str | None) -> list[str]:
    """Dokku's deploy-phase alias ``APP.PROC[.TLD]`` on every network."""
    return [f"{app}.{proc}" + (f".{tld}" if tld else "")]


def networks_of(plan: DeployPlan) -> list[str]:
    """The task's networks: post-create, then post-deploy ones, each once."""
    seen: list[str] = []
    for net in (*plan.networks.attach_post_create, *plan.networks.attach_post_deploy):
        if net not in seen:
            seen.append(net)
    return seen


def service_spec(plan: DeployPlan, spec: ProcessSpec, *, init: bool = True,
                 stop_timeout: int = 10) -> dict[str, Any]:
    """The keyword arguments of ``APIClient.create_service``/``update_service`` for one type.

    Deterministic (sorted environment): the same plan gives the same task template, so a
    scale of the running release changes only the replica count and swarm restarts nothing.
    """
    proc = spec.name
    env = plan.env_for(proc)
    env["DYNO"] = f"{proc}.{{{{.Task.Slot}}}}"  # swarm fills in each task's slot
    labels = L.service_labels(plan.app, proc, plan.release)
    container: dict[str, Any] = {
        "Image": plan.image,
        "Env": [f"{k}={v}" for k, v in sorted(env.items())],
        "Labels": labels,
        "Init": init,
        "StopGracePeriod": stop_timeout * NS,
    }
    if spec.command is not None:
        container["Args"] = list(spec.command)  # replaces CMD, keeps the image's ENTRYPOINT
    check = healthcheck(plan, proc)
    if check is not None:
        container["Healthcheck"] = check
    task_template: dict[str, Any] = {
        "ContainerSpec": container,
        "RestartPolicy": restart_policy(plan.restart_policy),
        "Networks": [{"Target": net, "Aliases": aliases(plan.app, proc, plan.networks.tld)}
                     for net in networks_of(plan)],
    }
    order = "start-first" if plan.checks.zero_downtime_for(proc) else "stop-first"
    update = {"Parallelism": max(1, plan.parallelism), "Order": order, "FailureAction": "rollback",
              "Monitor": int(MONITOR * NS), "MaxFailureRatio": 0}
    return {
        "name": L.service_name(plan.app, proc),
        "labels": labels,
        "task_template": task_template,
        "mode": {"Replicated": {"Replicas": spec.scale}},
        "update_config": update,
        "rollback_config": {**update, "FailureAction": "pause", "Monitor": 1},
        "endpoint_spec": {"Mode": "dnsrr"},
    }


def from_inspect(spec: dict[str, Any]) -> dict[str, Any]:
    """A service's inspected ``Spec`` back as ``update_service`` keyword arguments: what
    ``undo`` writes back to roll a service to the spec it had before the rollout."""
    return {
        "name": spec.get("Name"),
        "labels": spec.get("Labels") or {},
        "task_template": spec.get("TaskTemplate") or {},
        "mode": spec.get("Mode") or {},
        "update_config": spec.get("UpdateConfig"),
        "rollback_config": spec.get("RollbackConfig"),
        "endpoint_spec": spec.get("EndpointSpec"),
    }
