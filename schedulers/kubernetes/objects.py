"""The kubernetes driver's API plumbing: one client, and read/list/delete/replace/apply of
the few kinds Dockyard writes, each named once by kind rather than by generated method.

``apply`` is ``kubectl apply`` without the server-side diff: create, and on 409
AlreadyExists replace the live object, keeping what the API server owns (a Service's
ClusterIP, the resourceVersion). Every other module of the driver reaches the cluster
through these.
"""

from __future__ import annotations

import copy
from typing import Any

from dockyard.core.errors import DockyardError, ValidationError
from dockyard.schedulers.kubernetes.client import PLUGIN, ApiError, KubeClient, read_settings
from dockyard.schedulers.remote import RemoteScheduler
from dockyard.schedulers.retries import retry_settings

Obj = dict[str, Any]


def obj_meta(obj: Obj) -> Obj:
    meta: Obj = obj.get("metadata") or {}
    return meta


def obj_labels(obj: Obj) -> dict[str, str]:
    labels: dict[str, str] = obj_meta(obj).get("labels") or {}
    return labels


class KubeObjects(RemoteScheduler[str]):
    """The client (created on first use, so rendering needs no cluster) and the object
    verbs; the driver's other parts build on these."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self._kube: KubeClient | None = None

    # ---- client and settings -------------------------------------------------------
    @property
    def kube(self) -> KubeClient:
        if self._kube is None:
            retries, backoff = retry_settings(self.store, PLUGIN)
            self._kube = KubeClient(retries=retries, backoff=backoff)
        return self._kube

    def close(self) -> None:
        if self._kube is not None:
            self._kube.close()
            self._kube = None

    def _ns(self, app: str | None) -> str:
        return read_settings(self.store, app).namespace

    def _listener_mode(self, app: str) -> str:
        """``scheduler-kubernetes/<app>/listeners``: ``endpoints`` (default) or ``service``."""
        from dockyard.core.lookup import computed

        mode = computed(self.store, "scheduler-kubernetes", app, "listeners", "endpoints")
        if mode not in ("endpoints", "service"):
            raise ValidationError(f"invalid scheduler-kubernetes property listeners {mode!r}: "
                                  "expected endpoints or service")
        return mode

    def _kind_api(self, kind: str) -> tuple[Any, str]:
        k = self.kube
        return {
            "Deployment": (k.apps, "namespaced_deployment"),
            "Service": (k.core, "namespaced_service"),
            "NetworkPolicy": (k.networking, "namespaced_network_policy"),
            "Pod": (k.core, "namespaced_pod"),
            "ReplicaSet": (k.apps, "namespaced_replica_set"),
        }[kind]

    def _read(self, kind: str, name: str, ns: str) -> Obj | None:
        api, suffix = self._kind_api(kind)
        found = self.kube.maybe(f"read {kind} {ns}/{name}", getattr(api, f"read_{suffix}"), name, ns)
        return self.kube.sanitize(found) if found is not None else None

    def _list(self, kind: str, ns: str, selector: str) -> list[Obj]:
        api, suffix = self._kind_api(kind)
        listed = self.kube.call(f"list {kind}s in {ns}", getattr(api, f"list_{suffix}"), ns,
                                label_selector=selector)
        items: list[Obj] = self.kube.sanitize(listed).get("items") or []
        return items

    def _delete(self, kind: str, name: str, ns: str) -> bool:
        """Owners go in the foreground: the API server keeps the Deployment (marked deleting)
        until its ReplicaSets and pods are gone. A background delete returns at once and leaves
        the ReplicaSet to the garbage collector, which may first replace a pod deleted meanwhile."""
        api, suffix = self._kind_api(kind)
        options = {"propagation_policy": "Foreground"} if kind in ("Deployment", "ReplicaSet") else {}
        return self.kube.maybe(f"delete {kind} {ns}/{name}", getattr(api, f"delete_{suffix}"), name, ns,
                               **options) is not None

    def _replace(self, kind: str, name: str, ns: str, body: Obj) -> Obj:
        api, suffix = self._kind_api(kind)
        done = self.kube.call(f"replace {kind} {ns}/{name}", getattr(api, f"replace_{suffix}"), name, ns, body)
        result: Obj = self.kube.sanitize(done)
        return result

    def apply(self, manifest: Obj) -> Obj:
        """Create; on 409 AlreadyExists, replace the live object (keeping what the API owns)."""
        kind = manifest["kind"]
        name = manifest["metadata"]["name"]
        ns = manifest["metadata"]["namespace"]
        api, suffix = self._kind_api(kind)
        try:
            created = self.kube.call(f"create {kind} {ns}/{name}", getattr(api, f"create_{suffix}"), ns, manifest)
            result: Obj = self.kube.sanitize(created)
            return result
        except ApiError as exc:
            if exc.status != 409:
                raise
        for _attempt in range(5):  # a 409 on replace is a resourceVersion race: read again
            live = self._read(kind, name, ns)
            if live is None:
                return self.apply(manifest)
            body = copy.deepcopy(manifest)
            body["metadata"]["resourceVersion"] = obj_meta(live).get("resourceVersion")
            if kind == "Service":
                for key in ("clusterIP", "clusterIPs"):
                    if key in (live.get("spec") or {}):
                        body["spec"][key] = live["spec"][key]
            try:
                return self._replace(kind, name, ns, body)
            except ApiError as exc:
                if exc.status != 409:
                    raise
        raise DockyardError(f"kubernetes: {kind} {ns}/{name} kept changing while it was replaced")
