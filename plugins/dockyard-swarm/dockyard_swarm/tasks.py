"""An app's services and tasks as Dockyard sees them: instances, addresses, listeners.

A task is an instance: its slot is the instance index, its container id the instance id
(what engine events name), and only tasks swarm wants running count (``DesiredState
running``): a task being replaced, or a failed one kept in swarm's task history, is not.

Where the host reaches a task: a task on no network sits on the engine's default bridge, and
one on overlay networks also on ``docker_gwbridge``; both addresses are reachable from this
host, as docker-local's containers are. Either is read from the local engine, so on a
multi-node swarm only this node's tasks are found (see the README).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dockyard.core.models import Exposure, Instance, Listener
from dockyard_swarm import labels as L

GWBRIDGE = "docker_gwbridge"
#: task states that end a task for good
ENDED = ("complete", "shutdown", "failed", "rejected", "remove", "orphaned")


def services(api: Any, app: str) -> list[dict[str, Any]]:
    """Every service of ``app`` this driver made."""
    return list(api.services(filters={"label": [f"{L.APP}={app}", f"{L.SCHEDULER}=swarm"]}))


def proc_of(service: dict[str, Any]) -> str:
    return str(((service.get("Spec") or {}).get("Labels") or {}).get(L.PROCESS, ""))


def tasks_of(api: Any, service_id: str) -> list[dict[str, Any]]:
    return list(api.tasks(filters={"service": service_id}))


def release_of(task: dict[str, Any]) -> str:
    spec = ((task.get("Spec") or {}).get("ContainerSpec") or {})
    return str((spec.get("Labels") or {}).get(L.RELEASE, ""))


def container_of(task: dict[str, Any]) -> str:
    return str(((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID") or "")


def state_of(task: dict[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State") or "")


def wanted(found: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tasks swarm wants running (not those being shut down or kept as history)."""
    return [t for t in found if t.get("DesiredState") == "running"]


def attachment_addresses(task: dict[str, Any]) -> dict[str, str]:
    """network name -> the task's address on it, from swarm's own record (any node)."""
    result: dict[str, str] = {}
    for att in task.get("NetworksAttachments") or []:
        name = ((att.get("Network") or {}).get("Spec") or {}).get("Name")
        addrs = att.get("Addresses") or []
        if name and addrs:
            result[str(name)] = str(addrs[0]).split("/")[0]
    return result


def instance(app: str, proc: str, task: dict[str, Any]) -> Instance:
    slot = int(task.get("Slot") or 0)
    return Instance(app=app, process_type=proc, index=slot, id=container_of(task) or str(task["ID"]),
                    name=L.live_name(app, proc, slot), state=state_of(task), restart_count=0,
                    release=release_of(task), addresses=attachment_addresses(task))


def gwbridge_addresses(api: Any) -> dict[str, str]:
    """container id -> its ``docker_gwbridge`` address on this node ({} before swarm made it)."""
    try:
        info = api.inspect_network(GWBRIDGE)
    except Exception:
        return {}
    return {cid: str(c.get("IPv4Address") or "").split("/")[0]
            for cid, c in (info.get("Containers") or {}).items() if c.get("IPv4Address")}


def host_address(api: Any, container_id: str, gateways: dict[str, str]) -> str:
    """Where this host reaches the task's container: default bridge, else docker_gwbridge."""
    if container_id in gateways:
        return gateways[container_id]
    try:
        nets = (api.inspect_container(container_id).get("NetworkSettings") or {}).get("Networks") or {}
    except Exception:  # gone, or on another node
        return ""
    return str((nets.get("bridge") or {}).get("IPAddress") or "")


def listeners_of(api: Any, running: Iterable[tuple[str, dict[str, Any]]],
                 exposure: Exposure) -> dict[str, list[Listener]]:
    """``{process_type: [Listener]}`` for (process type, task) pairs, each task at the port
    its type listens on; a task the host cannot reach is left out."""
    gateways = gwbridge_addresses(api)
    result: dict[str, list[Listener]] = {}
    for proc, task in running:
        result.setdefault(proc, [])
        host = host_address(api, container_of(task), gateways)
        if host:
            result[proc].append(Listener(host, exposure.port_of(proc)))
    for found in result.values():
        found.sort(key=lambda x: (x.host, x.port))
    return result
