"""Docker networks: Dokku's network:* commands on the engine.

``network:create`` makes an attachable bridge labelled as Dockyard's. ``network:destroy``
refuses while any container is attached, running or stopped (docker itself refuses stopped
ones too, with a less helpful message), and lists them; ``--force`` does not change that,
because removing the containers is the owner's decision, not the network command's.
"""

from __future__ import annotations

from typing import Any

from dockyard.core.errors import DockyardError, NotFound, ValidationError
from dockyard.core.models import NetworkInfo
from dockyard.core.names import validate_network_name
from dockyard.schedulers.docker_local import labels as L


def _find(api: Any, name: str) -> dict[str, Any] | None:
    for net in api.networks(names=[name]):
        if net.get("Name") == name:
            return dict(net)
    return None


def exists(api: Any, name: str) -> bool:
    return _find(api, name) is not None


def attached(api: Any, name: str) -> list[str]:
    """Names of every container on ``name``, including stopped ones."""
    return sorted(str(c["Names"][0]).lstrip("/") for c in api.containers(all=True, filters={"network": name}))


def info(api: Any, name: str) -> NetworkInfo:
    net = _find(api, name)
    if net is None:
        raise NotFound(f"network {name} does not exist")
    return _info(net, tuple(attached(api, name)))


def _info(net: dict[str, Any], containers: tuple[str, ...] = ()) -> NetworkInfo:
    labels = net.get("Labels") or {}
    return NetworkInfo(
        name=str(net["Name"]), id=str(net["Id"]), driver=str(net.get("Driver", "")),
        managed=L.NETWORK_NAME in labels, containers=containers,
        scope=str(net.get("Scope", "")), created_at=str(net.get("Created", "")),
        internal=bool(net.get("Internal")), ipv6=bool(net.get("EnableIPv6")),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
    )


def create(api: Any, name: str) -> NetworkInfo:
    validate_network_name(name)
    if name in ("bridge", "host", "none") or exists(api, name):
        raise ValidationError(f"network {name} already exists")
    api.create_network(name, driver="bridge", attachable=True, labels={L.NETWORK_NAME: name, L.MARKER: "1"})
    return info(api, name)


def destroy(api: Any, name: str) -> None:
    if name in ("bridge", "host", "none"):
        raise ValidationError(f"network {name} is docker's own and cannot be destroyed")
    net = _find(api, name)
    if net is None:
        raise NotFound(f"network {name} does not exist")
    users = attached(api, name)
    if users:
        raise DockyardError(
            f"network {name} still has {len(users)} attached container(s): {', '.join(users)}; "
            "remove them (or their apps) first"
        )
    api.remove_network(net["Id"])


def listing(api: Any) -> list[NetworkInfo]:
    return [_info(dict(net)) for net in sorted(api.networks(), key=lambda n: n.get("Name", ""))]
