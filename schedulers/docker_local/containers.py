"""Creating, finding and describing an app's containers through the low-level API.

The low-level API is used because it takes the endpoint config (aliases on the initial
network) at create time and returns plain dicts that are cheap to list in bulk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from dockyard.core.errors import ValidationError
from dockyard.core.models import DeployPlan, Exposure, Instance, Listener, ProcessSpec
from dockyard.schedulers.docker_local import labels as L

RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


def parse_restart_policy(policy: str) -> dict[str, Any]:
    """``on-failure[:N]`` / ``always`` / ``unless-stopped`` / ``no`` -> docker's dict."""
    name, _, count = policy.strip().partition(":")
    if name not in RESTART_POLICIES:
        raise ValidationError(
            f"invalid restart policy {policy!r}: use no, always, unless-stopped or on-failure[:N]"
        )
    if count and (name != "on-failure" or not count.isdigit()):
        raise ValidationError(f"invalid restart policy {policy!r}: only on-failure takes a retry count")
    result: dict[str, Any] = {"Name": name}
    if name == "on-failure":
        result["MaximumRetryCount"] = int(count) if count else 0
    return result


def deploy_aliases(app: str, proc: str, tld: str | None, container_id: str | None = None) -> list[str]:
    """Dokku's deploy-phase aliases: ``APP.PROC[.TLD]`` and ``<hostname>.APP.PROC[.TLD]``."""
    base = f"{app}.{proc}" + (f".{tld}" if tld else "")
    aliases = [base]
    if container_id:
        aliases.append(f"{container_id[:12]}.{base}")
    return aliases


def create(api: Any, plan: DeployPlan, spec: ProcessSpec, index: int, name: str, init: bool = True) -> str:
    """Create (not start) one deploy container on the initial network; return its id.

    ``init``: docker's tini as PID 1 (Dokku's ``init-process``, on unless set to false)."""
    proc = spec.name
    env = plan.env_for(proc)
    env["DYNO"] = f"{proc}.{index}"
    initial = plan.networks.initial_network
    publish = proc == "web" and plan.networks.bind_all_interfaces
    host_config = api.create_host_config(
        restart_policy=parse_restart_policy(plan.restart_policy),
        init=init,
        network_mode=initial or None,
        port_bindings={plan.web_port: None} if publish else None,
    )
    networking = None
    if initial and initial not in ("bridge", "host", "none"):
        networking = api.create_networking_config(
            {initial: api.create_endpoint_config(aliases=deploy_aliases(plan.app, proc, plan.networks.tld))}
        )
    created = api.create_container(
        image=plan.image,
        command=list(spec.command) if spec.command is not None else None,
        name=name,
        labels=L.deploy_labels(plan.app, proc, index, plan.release),
        environment=env,
        host_config=host_config,
        networking_config=networking,
        ports=[plan.web_port] if publish else None,
        detach=True,
    )
    return str(created["Id"])


def connect(api: Any, container_id: str, network: str, aliases: Sequence[str] | None = None) -> None:
    api.connect_container_to_network(container_id, network, aliases=list(aliases) if aliases else None)


def listing(api: Any, app: str, container_type: str | None = "deploy") -> list[dict[str, Any]]:
    """Every container of ``app`` (of one type), running or not, as the engine lists them."""
    wanted = [f"{L.APP}={app}"]
    if container_type:
        wanted.append(f"{L.CONTAINER_TYPE}={container_type}")
    return list(api.containers(all=True, filters={"label": wanted}))


def name_of(summary: dict[str, Any]) -> str:
    names = summary.get("Names") or [""]
    return str(names[0]).lstrip("/")


def index_of(summary_labels: dict[str, str]) -> int:
    dyno = summary_labels.get(L.DYNO, "")
    tail = dyno.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def addresses(networks: dict[str, Any]) -> dict[str, str]:
    return {name: str(n.get("IPAddress") or "") for name, n in (networks or {}).items() if n.get("IPAddress")}


def listener_ip(networks: dict[str, Any], initial: str | None) -> str:
    """Dokku's rule: the initial network's address if set, else the default bridge's."""
    addrs = addresses(networks)
    if initial and addrs.get(initial):
        return addrs[initial]
    if addrs.get("bridge"):
        return addrs["bridge"]
    return next(iter(addrs.values()), "")


def instance(api: Any, container_id: str) -> Instance:
    info = api.inspect_container(container_id)
    labels = info["Config"].get("Labels") or {}
    return Instance(
        app=labels.get(L.APP, ""),
        process_type=labels.get(L.PROCESS, ""),
        index=index_of(labels),
        id=info["Id"],
        name=info["Name"].lstrip("/"),
        state=info["State"].get("Status", ""),
        restart_count=int(info.get("RestartCount") or 0),
        release=labels.get(L.RELEASE, ""),
        addresses=addresses(info["NetworkSettings"].get("Networks") or {}),
    )


def last_log_lines(api: Any, container_id: str, lines: int = 20) -> list[str]:
    try:
        raw = api.logs(container_id, stdout=True, stderr=True, tail=lines)
    except Exception:
        return []
    return raw.decode(errors="replace").splitlines()[-lines:]


def remove(api: Any, container_id: str) -> None:
    with contextlib.suppress(Exception):
        api.remove_container(container_id, force=True)


def retire(api: Any, container_id: str, stop_timeout: int) -> None:
    """Stop gracefully (no restart on the way down), then remove."""
    with contextlib.suppress(Exception):
        api.update_container(container_id, restart_policy={"Name": "no"})
    with contextlib.suppress(Exception):
        api.stop(container_id, timeout=stop_timeout)
    remove(api, container_id)


def listeners_of(found: Iterable[dict[str, Any]], exposure: Exposure) -> dict[str, list[Listener]]:
    """``{process_type: [Listener]}`` of listed containers: each one's address on the initial
    network (else its first), at the port its type listens on; one with no address is left out."""
    result: dict[str, list[Listener]] = {}
    for c in found:
        proc = (c.get("Labels") or {}).get(L.PROCESS, "")
        if not proc:
            continue
        ip = listener_ip((c.get("NetworkSettings") or {}).get("Networks") or {}, exposure.initial_network)
        result.setdefault(proc, [])
        if ip:
            result[proc].append(Listener(ip, exposure.port_of(proc)))
    for lst in result.values():
        lst.sort(key=lambda x: (x.host, x.port))
    return result
