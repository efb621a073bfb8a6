"""Which capability each app setting needs, and the refusal of a plan a driver cannot honour.

Core calls ``check_plan`` before any change (preflight); a driver may call it again at its
own boundary. Kept out of ``base.py`` so the contract module holds only the contract.
"""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.core.errors import NotSupported
from dockyard.core.models import NetworkSettings, PortMapping
from dockyard.schedulers.base import Capability


def required_capabilities(networks: NetworkSettings, ports: Sequence[PortMapping] = ()) -> dict[str, Capability]:
    """Setting name -> the capability it needs, for the settings a plan actually uses."""
    need: dict[str, Capability] = {}
    if networks.attach_post_create:
        need["attach-post-create"] = Capability.ATTACH_POST_CREATE
    if networks.attach_post_deploy:
        need["attach-post-deploy"] = Capability.ATTACH_POST_DEPLOY
    if networks.initial_network:
        need["initial-network"] = Capability.INITIAL_NETWORK
    total = len(networks.attach_post_create) + len(networks.attach_post_deploy) + bool(networks.initial_network)
    if len(networks.attach_post_create) > 1 or len(networks.attach_post_deploy) > 1 or total > 1:
        need["networks (more than one)"] = Capability.MULTIPLE_NETWORKS
    if any(p.scheme == "tcp" for p in ports):
        need["ports (tcp)"] = Capability.TCP_LISTENERS
    if any(p.scheme == "udp" for p in ports):
        need["ports (udp)"] = Capability.UDP_LISTENERS
    return need


def check_plan(app: str, networks: NetworkSettings, ports: Sequence[PortMapping],
               scheduler_name: str, capabilities: frozenset[Capability]) -> None:
    """Refuse, before any change, a setting the scheduler cannot honour."""
    for setting, cap in required_capabilities(networks, ports).items():
        if cap not in capabilities:
            raise NotSupported(
                f"app {app}: setting {setting} cannot be honoured by the {scheduler_name} scheduler "
                f"(it lacks the {cap} capability)"
            )
