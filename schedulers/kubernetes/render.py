"""DeployPlan -> Kubernetes manifests. Pure: no client, no cluster, no store.

``k8s:manifests`` and ``deploy`` both call ``render_manifests``, so what the command prints
is exactly what deploy applies.

Objects per app:

* a Deployment ``APP-PROC`` per process type: replicas from the scale, the image, the
  Procfile command as the container's ``args`` (Docker's CMD: the image's ENTRYPOINT is kept,
  exactly as docker-local runs it; no command means the image's own CMD), env from config
  plus ``PORT`` for web, and the labels ``dockyard.io/app``, ``dockyard.io/process-type`` and
  ``dockyard.io/release``. Zero downtime is a RollingUpdate with ``maxUnavailable: 0``;
  Dokku's checks ``wait`` becomes ``minReadySeconds`` (a new pod must stay up that long
  before it counts as available) and a checks ``path`` becomes an HTTP readiness probe on web;
* a ClusterIP Service ``APP-PROC`` for every process type that has entries in the port map,
  one port per distinct container port and protocol;
* for every Dockyard network the app joins, the network's NetworkPolicy (shared by every app
  in the namespace that joins it) and, once per app, a baseline policy (see below).

Networks. Kubernetes pods share one flat network, so a Dockyard network becomes a pod label
``dockyard.io/network-<net>`` plus a NetworkPolicy ``dockyard-network-<net>`` that selects pods
whose label is ``"true"`` and admits ingress from pods whose label is ``"true"``: the members
reach each other. A NetworkPolicy that selects a pod makes that pod deny all ingress the
policies do not allow, so joining a network would otherwise cut the app off from everything
else. The per-app baseline policy ``APP-dockyard-ingress`` puts that back; which baseline is
right depends on the namespace, chosen by the property ``scheduler-kubernetes/<app|--global>/
ingress``:

* ``allow-all`` (default: Kubernetes namespaces admit everything unless a policy says
  otherwise): the baseline admits all ingress to the app's pods, exactly what was allowed
  before the app joined a network; the proxy, wherever it runs, still reaches web;
* ``namespace`` (the namespace has its own policies, e.g. a default deny): policies are
  additive, so the namespace's policies keep deciding; the baseline only admits pods labelled
  ``dockyard.io/proxy: "true"`` (in any namespace) to web's ports, so the proxy still reaches web.

An app that joins no network gets no policy at all: nothing about it changes.

Phases. ``attach-post-create`` networks are in the pod template with the value ``"true"``:
pods carry them from creation. ``attach-post-deploy`` networks are in the template with the
value ``"pending"``, which no policy selects; the driver relabels the new pods to ``"true"``
only after the rollout has completed (every new pod ready and available), so no member of the
network can reach a new pod before it is ready. A pod that Kubernetes replaces later (a node
loss, a crash) starts ``"pending"`` again until the next deploy, ``ps:restart`` or ``ps:scale``
relabels it. ``initial-network`` cannot be honoured (a pod has exactly one network): the
driver does not declare INITIAL_NETWORK and the core refuses it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.core.models import DeployPlan, PortMapping, ProcessSpec
from dockyard.schedulers.names import platform_name

Manifest = dict[str, Any]

APP_LABEL = "dockyard.io/app"
PROC_LABEL = "dockyard.io/process-type"
RELEASE_LABEL = "dockyard.io/release"
NETWORK_LABEL_PREFIX = "dockyard.io/network-"
NETWORK_POLICY_LABEL = "dockyard.io/network"
PROXY_LABEL = "dockyard.io/proxy"
RESTART_ANNOTATION = "dockyard.io/restart-policy"
#: on a pod template: the Dockyard names of the networks its labels stand for (comma-separated),
#: since a label holds ``k8s_network_name``, which may be a slug
NETWORKS_ANNOTATION = "dockyard.io/networks"
MANAGED_BY = {"app.kubernetes.io/managed-by": "dockyard"}
MEMBER = "true"
PENDING = "pending"
INGRESS_MODES = ("allow-all", "namespace")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class KubeSettings:
    """The driver's properties under ``scheduler-kubernetes`` that change what is rendered."""

    namespace: str = "default"
    ingress: str = "allow-all"
    progress_deadline: int = 600


def k8s_network_name(network: str) -> str:
    """A Dockyard network name (may hold capitals, ``_`` and ``.``, up to 128 characters) as a
    DNS label of at most 55 characters, so ``network-<it>`` is a valid label-key name. Names
    that need changing get a hash suffix, so two different networks never collide."""
    if _DNS_LABEL.fullmatch(network) and len(network) <= 55:
        return network
    slug = re.sub(r"[^a-z0-9-]+", "-", network.lower()).strip("-")[:40].strip("-") or "net"
    digest = hashlib.sha256(network.encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def network_label(network: str) -> str:
    return NETWORK_LABEL_PREFIX + k8s_network_name(network)


def network_policy_name(network: str) -> str:
    return f"dockyard-network-{k8s_network_name(network)}"


def baseline_policy_name(app: str) -> str:
    return f"{app}-dockyard-ingress"


_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@functools.lru_cache(maxsize=8192)  # pure; a render asks for each name twice (Service, Deployment)
def object_name(app: str, process_type: str) -> str:
    """``APP-PROC`` as a Service name (a DNS-1035 label: no dot, starts with a letter, at most
    63 characters), mapped by ``platform_name`` when Dokku's name does not fit that rule
    (``test.dokku.test``, ``1994testapp``)."""
    return platform_name(f"{app}-{process_type.lower().replace('_', '-')}", _DNS_1035)


def run_pod_name(app: str, token: str) -> str:
    """A one-off pod's name: mapped like every other object name, so a long or dotted app
    name is never cut into one ending in ``-`` or ``.`` (which the API refuses)."""
    return object_name(app, f"run-{token}")


def app_labels(app: str, process_type: str) -> dict[str, str]:
    return {APP_LABEL: app, PROC_LABEL: process_type, **MANAGED_BY}


def selector(app: str, process_type: str) -> dict[str, str]:
    """The Deployment and Service selector: never includes the release, so it never changes."""
    return {APP_LABEL: app, PROC_LABEL: process_type}


def _env(env: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in sorted(env.items())]


def service_ports(plan: DeployPlan, process_type: str) -> list[tuple[int, str]]:
    """Distinct (container port, protocol) pairs the port map routes to ``process_type``."""
    seen: list[tuple[int, str]] = []
    for mapping in plan.ports:
        if mapping.process_type != process_type:
            continue
        pair = (mapping.container_port, "UDP" if mapping.scheme == "udp" else "TCP")
        if pair not in seen:
            seen.append(pair)
    return seen


def _container(plan: DeployPlan, spec: ProcessSpec) -> Manifest:
    container: Manifest = {
        "name": spec.name.lower().replace("_", "-"),
        "image": plan.image,
        "imagePullPolicy": "IfNotPresent",
    }
    env = _env(plan.env_for(spec.name))
    if env:  # an empty list is omitted by the API server: print what it will store
        container["env"] = env
    if spec.command is not None:
        container["args"] = list(spec.command)
    ports = service_ports(plan, spec.name)
    if ports:
        container["ports"] = [{"containerPort": port, "protocol": proto} for port, proto in ports]
    checks = plan.checks
    if spec.name == "web" and checks.path and checks.enabled_for("web"):
        container["readinessProbe"] = {
            "httpGet": {"path": checks.path, "port": plan.web_port},
            "periodSeconds": 2,
            "timeoutSeconds": max(1, int(checks.timeout)),
            "failureThreshold": max(1, checks.attempts),
        }
    return container


def pod_network_labels(plan: DeployPlan, post_deploy: bool = True) -> dict[str, str]:
    labels = {network_label(n): MEMBER for n in plan.networks.attach_post_create}
    if post_deploy:
        labels.update({network_label(n): PENDING for n in plan.networks.attach_post_deploy})
    return labels


def render_deployment(plan: DeployPlan, spec: ProcessSpec, settings: KubeSettings) -> Manifest:
    name = object_name(plan.app, spec.name)
    labels = {**app_labels(plan.app, spec.name), RELEASE_LABEL: plan.release}
    pod_labels = {**labels, **pod_network_labels(plan)}
    pod_annotations = {RESTART_ANNOTATION: plan.restart_policy}
    networks = {*plan.networks.attach_post_create, *plan.networks.attach_post_deploy}
    if networks:  # a pod says what it joined: status reads the pod, not the app's settings
        pod_annotations[NETWORKS_ANNOTATION] = ",".join(sorted(networks))
    checks = plan.checks
    min_ready = int(checks.wait) if checks.enabled_for(spec.name) else 0
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": settings.namespace,
            "labels": labels,
            "annotations": {"dockyard.io/image": plan.image, "dockyard.io/release": plan.release},
        },
        "spec": {
            "replicas": spec.scale,
            "revisionHistoryLimit": 10,
            "minReadySeconds": min_ready,
            "progressDeadlineSeconds": max(settings.progress_deadline, min_ready + 1),
            # checks:disable: old pods go before new ones start, as Dokku stops old containers first
            "strategy": ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
                         if checks.zero_downtime_for(spec.name) else {"type": "Recreate"}),
            "selector": {"matchLabels": selector(plan.app, spec.name)},
            "template": {
                # a Deployment's pods can only restart Always; the app's policy rides along so
                # events report it and the event listener applies its limit as on docker-local
                "metadata": {"labels": pod_labels, "annotations": pod_annotations},
                "spec": {"restartPolicy": "Always", "containers": [_container(plan, spec)]},
            },
        },
    }
    if not min_ready:  # omitempty: the API server stores 0 as absent; print what it stores
        del deployment["spec"]["minReadySeconds"]
    return deployment


def render_service(plan: DeployPlan, process_type: str, settings: KubeSettings) -> Manifest | None:
    ports = service_ports(plan, process_type)
    if not ports:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": object_name(plan.app, process_type),
            "namespace": settings.namespace,
            "labels": app_labels(plan.app, process_type),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector(plan.app, process_type),
            "ports": [
                {"name": f"{proto.lower()}-{port}", "port": port, "targetPort": port, "protocol": proto}
                for port, proto in ports
            ],
        },
    }


def render_network_policy(network: str, namespace: str) -> Manifest:
    label = network_label(network)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": network_policy_name(network),
            "namespace": namespace,
            "labels": {NETWORK_POLICY_LABEL: k8s_network_name(network), **MANAGED_BY},
            "annotations": {"dockyard.io/network-name": network},
        },
        "spec": {
            "podSelector": {"matchLabels": {label: MEMBER}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {label: MEMBER}}}]}],
        },
    }


def render_baseline_policy(plan: DeployPlan, settings: KubeSettings) -> Manifest | None:
    """What keeps the app reachable as before once a network policy selects its pods."""
    if not (plan.networks.attach_post_create or plan.networks.attach_post_deploy):
        return None
    meta = {
        "name": baseline_policy_name(plan.app),
        "namespace": settings.namespace,
        "labels": {APP_LABEL: plan.app, **MANAGED_BY},
        "annotations": {"dockyard.io/ingress": settings.ingress},
    }
    if settings.ingress == "allow-all":
        spec: Manifest = {
            "podSelector": {"matchLabels": {APP_LABEL: plan.app}},
            "policyTypes": ["Ingress"],
            "ingress": [{}],
        }
    else:
        web_ports = service_ports(plan, "web")
        if plan.process("web") is None or not web_ports:
            return None
        spec = {
            "podSelector": {"matchLabels": selector(plan.app, "web")},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {PROXY_LABEL: MEMBER}}}],
                "ports": [{"port": port, "protocol": proto} for port, proto in web_ports],
            }],
        }
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": spec}


def render_manifests(plan: DeployPlan, settings: KubeSettings) -> list[Manifest]:
    """Every object deploy applies for ``plan``, in the order it applies them.

    The post-deploy networks' policies come last: deploy applies those only after the
    rollout has completed.
    """
    out: list[Manifest] = []
    for net in plan.networks.attach_post_create:
        out.append(render_network_policy(net, settings.namespace))
    baseline = render_baseline_policy(plan, settings)
    if baseline:
        out.append(baseline)
    for spec in plan.processes:
        svc = render_service(plan, spec.name, settings)
        if svc:
            out.append(svc)
    out.extend(render_deployment(plan, spec, settings) for spec in plan.processes)
    for net in plan.networks.attach_post_deploy:
        out.append(render_network_policy(net, settings.namespace))
    return out


def render_run_pod(plan: DeployPlan, command: Sequence[str], settings: KubeSettings, name: str,
                   env: dict[str, str] | None = None) -> Manifest:
    """A one-off pod: the release's image and env, the post-create networks (Dokku attaches
    those to ``run`` containers too), never restarted."""
    full_env = dict(plan.env)
    full_env.update(env or {})
    labels = {**app_labels(plan.app, "run"), RELEASE_LABEL: plan.release,
              **pod_network_labels(plan, post_deploy=False)}
    container: Manifest = {"name": "run", "image": plan.image, "imagePullPolicy": "IfNotPresent"}
    if full_env:
        container["env"] = _env(full_env)
    if command:
        container["args"] = list(command)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": settings.namespace, "labels": labels},
        "spec": {"restartPolicy": "Never", "containers": [container]},
    }


def listener_ports(ports: Sequence[PortMapping]) -> dict[str, list[int]]:
    """Process type -> container ports with listeners (the Service ports)."""
    out: dict[str, list[int]] = {}
    for m in ports:
        out.setdefault(m.process_type, [])
        if m.container_port not in out[m.process_type]:
            out[m.process_type].append(m.container_port)
    return out
