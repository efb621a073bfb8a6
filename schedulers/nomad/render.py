"""DeployPlan -> a Nomad job in the HTTP API's JSON form. Pure: no client, no agent.

``nomad:job`` and ``deploy`` both call ``render_job``, so the command prints exactly what
deploy registers (``POST /v1/jobs``).

* one ``service`` job per app, ID = the app name, in the configured region, namespace and
  datacenters (``*`` by default);
* one task group per process type, ``Count`` from the scale, the group's ``RestartPolicy``
  from ``ps:set restart-policy`` (``on-failure:N`` -> N attempts then fail; ``always`` and
  ``unless-stopped`` -> ``delay`` mode, restarting forever; ``no`` -> no restarts). Nomad
  restarts a service task whatever its exit code, so ``on-failure`` also counts clean exits;
* one ``docker`` task per group: the image, the Procfile argv as ``command`` + ``args``
  (Docker's CMD, as docker-local runs it; none means the image's CMD), env from config with
  ``PORT`` for web;
* for process types with entries in the port map, a group ``network`` with one dynamic port
  per container port (``To`` = the container port) and one Nomad-native ``service``
  (``Provider: nomad``) per port, named ``APP-PROC`` and tagged ``process-type=PROC``; the
  listeners are those registrations' address and port. By default (property
  ``address-mode driver``) they register the container's address and port, which is what
  docker-local's listeners are, so nginx on the node routes the same way; ``address-mode
  host`` registers the node's address and the dynamic host port instead, for a proxy
  elsewhere;
* the ``update`` blocks are the zero-downtime rollout: blue/green, with as many canaries as
  the group's count running beside the old allocations, healthy after ``MinHealthyTime`` =
  checks ``wait`` (Dokku's "running without restarts for that long"; a checks ``path``
  becomes an HTTP service check on web). They are promoted by Dockyard, not automatically:
  once healthy, the proxy switches to them, and only then does promotion stop the old
  ones (``Rollout.finish``); a switch that failed fails the deployment instead
  (``Rollout.abort``), and ``AutoRevert`` sends the job back to its last stable version, as
  for a deployment that failed on its own. A change of count alone is an in-place update.

Networks. Nomad's docker driver puts a task on exactly one network, chosen at creation
(``network_mode``), and cannot attach another one later. So ``initial-network`` maps onto
``network_mode`` (and the services then register the container's address on that network,
``AddressMode: driver``), while ``attach-post-create``, ``attach-post-deploy`` and several
networks cannot be honoured: the driver does not declare those capabilities and the core
refuses such a plan with one clear line before anything is registered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.core.errors import ValidationError
from dockyard.core.models import DeployPlan, ProcessSpec
from dockyard.schedulers.names import platform_name

Job = dict[str, Any]

SECOND = 1_000_000_000
MINUTE = 60 * SECOND


@dataclass(frozen=True)
class NomadSettings:
    """The driver's properties under ``scheduler-nomad`` (see ``client.read_settings``)."""

    address: str = "http://127.0.0.1:4646"
    region: str | None = None
    namespace: str | None = None
    token: str | None = None
    datacenters: tuple[str, ...] = ("*",)
    #: ``driver``: services register the container's address and port, as docker-local's
    #: listeners are; ``host``: the node's address and the dynamic host port
    address_mode: str = "driver"


def restart_policy(policy: str) -> dict[str, Any]:
    """Docker's restart policy names -> Nomad's group restart block."""
    name, _, count = policy.partition(":")
    base = {"Interval": 30 * MINUTE, "Delay": 15 * SECOND}
    if name == "no":
        return {**base, "Attempts": 0, "Mode": "fail"}
    if name in ("always", "unless-stopped") or (name == "on-failure" and not count):
        return {**base, "Attempts": 2, "Mode": "delay"}
    if name == "on-failure" and count.isdigit():
        return {**base, "Interval": 24 * 60 * MINUTE, "Attempts": int(count), "Mode": "fail"}
    raise ValidationError(f"invalid restart policy {policy!r}: expected no, always, unless-stopped or on-failure[:N]")


def group_name(process_type: str) -> str:
    return process_type.lower().replace("_", "-")


#: Nomad's service names are RFC 1123 labels: no dot, at most 63 characters
_SERVICE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def service_name(app: str, process_type: str) -> str:
    """``APP-PROC``, mapped by ``platform_name`` when Dokku's name does not fit Nomad's rule
    (``test.dokku.test``); the job ID stays the app name, which Nomad accepts with dots."""
    return platform_name(f"{app}-{group_name(process_type)}", _SERVICE_NAME)


def port_label(port: int) -> str:
    return f"p{port}"


def listener_ports(plan: DeployPlan, process_type: str) -> list[int]:
    ports: list[int] = []
    for m in plan.ports:
        if m.process_type == process_type and m.container_port not in ports:
            ports.append(m.container_port)
    return ports


def _meta(plan: DeployPlan, process_type: str | None = None) -> dict[str, str]:
    meta = {"dockyard.app": plan.app, "dockyard.release": plan.release, "dockyard.image": plan.image}
    if process_type:
        meta["dockyard.process-type"] = process_type
    return meta


def _task(plan: DeployPlan, name: str, argv: Sequence[str] | None, env: dict[str, str],
          ports: Sequence[int], process_type: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "image": plan.image,
        "labels": {"com.dockyard.app": plan.app, "com.dockyard.process-type": process_type,
                   "com.dockyard.release": plan.release},
    }
    if argv:
        config["command"] = argv[0]
        if len(argv) > 1:
            config["args"] = list(argv[1:])
    if ports:
        config["ports"] = [port_label(p) for p in ports]
    if plan.networks.initial_network:
        config["network_mode"] = plan.networks.initial_network
    return {
        "Name": name,
        "Driver": "docker",
        "Config": config,
        "Env": dict(sorted(env.items())),
        "Meta": _meta(plan, process_type),
        "Resources": {"CPU": 100, "MemoryMB": 256},
        "KillTimeout": 10 * SECOND,
    }


def _group(plan: DeployPlan, spec: ProcessSpec, settings: NomadSettings) -> dict[str, Any]:
    ports = listener_ports(plan, spec.name)
    group: dict[str, Any] = {
        "Name": group_name(spec.name),
        "Count": spec.scale,
        "RestartPolicy": restart_policy(plan.restart_policy),
        "Meta": _meta(plan, spec.name),
        "Tasks": [_task(plan, group_name(spec.name), spec.command, plan.env_for(spec.name), ports, spec.name)],
    }
    if spec.scale > 0 and plan.checks.zero_downtime_for(spec.name):
        # blue/green: as many canaries as the count run beside the old allocations; Dockyard
        # promotes them (which stops the old ones) once the proxy has switched to them, and
        # fails the deployment (the job reverts) if it could not
        group["Update"] = {"Canary": spec.scale, "MaxParallel": spec.scale, "AutoPromote": False,
                           "AutoRevert": True}
    elif spec.scale > 0:
        # checks:disable: no canaries, so Nomad's rolling update stops old allocations first
        group["Update"] = {"Canary": 0, "MaxParallel": spec.scale, "AutoRevert": True}
    if ports:
        group["Networks"] = [{"Mode": "host", "DynamicPorts": [{"Label": port_label(p), "To": p} for p in ports]}]
        services = []
        for port in ports:
            service: dict[str, Any] = {
                "Name": service_name(plan.app, spec.name),
                "PortLabel": port_label(port),
                "Provider": "nomad",
                "AddressMode": "driver" if plan.networks.initial_network else settings.address_mode,
                "Tags": ["dockyard", f"app={plan.app}", f"process-type={spec.name}", f"port={port}"],
            }
            checks = plan.checks
            if spec.name == "web" and checks.path and checks.enabled_for("web") and port == plan.web_port:
                service["Checks"] = [{"Name": f"{plan.app}-web-http", "Type": "http", "Path": checks.path,
                                      "PortLabel": port_label(port), "Interval": 2 * SECOND,
                                      "Timeout": max(1, int(checks.timeout)) * SECOND}]
            services.append(service)
        group["Services"] = services
    return group


def render_job(plan: DeployPlan, settings: NomadSettings) -> Job:
    """``{"Job": ...}``, the body of ``POST /v1/jobs``."""
    checks = plan.checks
    min_healthy = int(checks.wait * SECOND) if not checks.skip_all else 0
    healthy_deadline = max(5 * MINUTE, min_healthy + MINUTE)
    job: dict[str, Any] = {
        "ID": plan.app,
        "Name": plan.app,
        "Type": "service",
        "Datacenters": list(settings.datacenters),
        "Meta": _meta(plan),
        "Update": {
            "MaxParallel": 1,
            "HealthCheck": "checks",
            "MinHealthyTime": min_healthy,
            "HealthyDeadline": healthy_deadline,
            "ProgressDeadline": healthy_deadline + 5 * MINUTE,
            "AutoRevert": True,
            "Canary": 0,
        },
        "TaskGroups": [_group(plan, spec, settings) for spec in plan.processes],
    }
    if settings.region:
        job["Region"] = settings.region
    if settings.namespace:
        job["Namespace"] = settings.namespace
    return {"Job": job}


def render_run_job(plan: DeployPlan, command: Sequence[str], settings: NomadSettings, job_id: str,
                   env: dict[str, str] | None = None) -> Job:
    """A one-off ``batch`` job: the release's image and env, no restarts, no rescheduling."""
    full_env = {**plan.env, **(env or {})}
    job: dict[str, Any] = {
        "ID": job_id,
        "Name": job_id,
        "Type": "batch",
        "Datacenters": list(settings.datacenters),
        "Meta": {**_meta(plan), "dockyard.run": "1"},
        "TaskGroups": [{
            "Name": "run",
            "Count": 1,
            "RestartPolicy": {"Attempts": 0, "Mode": "fail", "Interval": 30 * MINUTE, "Delay": 15 * SECOND},
            "ReschedulePolicy": {"Attempts": 0, "Unlimited": False},
            "Meta": _meta(plan, "run"),
            "Tasks": [_task(plan, "run", list(command), full_env, (), "run")],
        }],
    }
    if settings.region:
        job["Region"] = settings.region
    if settings.namespace:
        job["Namespace"] = settings.namespace
    return {"Job": job}
