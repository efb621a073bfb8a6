"""The kubernetes driver's networks: a network is a NetworkPolicy ``dockyard-network-NET``
admitting ingress between pods labelled ``dockyard.io/network-NET: "true"`` (see
``render.py``); its members are the pods carrying that label.
"""

from __future__ import annotations

from dockyard.core.errors import NotFound, ValidationError
from dockyard.core.models import NetworkInfo
from dockyard.core.names import validate_network_name
from dockyard.schedulers.kubernetes import render as R
from dockyard.schedulers.kubernetes.objects import KubeObjects, obj_meta


class KubeNetworks(KubeObjects):
    """``network_*``, in the driver's global namespace."""

    def network_create(self, name: str) -> NetworkInfo:
        validate_network_name(name)
        ns = self._ns(None)
        if self._read("NetworkPolicy", R.network_policy_name(name), ns) is not None:
            raise ValidationError(f"network {name} already exists")
        self.apply(R.render_network_policy(name, ns))
        return self.network_inspect(name)

    def network_destroy(self, name: str) -> None:
        ns = self._ns(None)
        if not self._delete("NetworkPolicy", R.network_policy_name(name), ns):
            raise NotFound(f"network {name} does not exist")

    def network_exists(self, name: str) -> bool:
        return self._read("NetworkPolicy", R.network_policy_name(name), self._ns(None)) is not None

    def network_list(self) -> list[NetworkInfo]:
        ns = self._ns(None)
        infos = []
        for pol in self._list("NetworkPolicy", ns, R.NETWORK_POLICY_LABEL):
            original = (obj_meta(pol).get("annotations") or {}).get("dockyard.io/network-name")
            if original:
                infos.append(self.network_inspect(original))
        return sorted(infos, key=lambda i: i.name)

    def network_inspect(self, name: str) -> NetworkInfo:
        ns = self._ns(None)
        pol = self._read("NetworkPolicy", R.network_policy_name(name), ns)
        if pol is None:
            raise NotFound(f"network {name} does not exist")
        members = self._list("Pod", ns, f"{R.network_label(name)}={R.MEMBER}")
        return NetworkInfo(name=name, id=str(obj_meta(pol).get("uid", "")), driver="networkpolicy", managed=True,
                           containers=tuple(sorted(obj_meta(p)["name"] for p in members)))
