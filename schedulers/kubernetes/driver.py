"""The kubernetes scheduler: render (``render.py``), apply, wait for the rollout, roll back.

Deploy:

1. refuse a plan the driver cannot honour (``check_plan``) before any API call;
2. apply every rendered object: create, and on 409 AlreadyExists read it and replace it
   (a Service keeps its ClusterIP);
3. wait for every Deployment's rollout, reporting progress. A rollout fails when the API
   server reports ``ProgressDeadlineExceeded``, when a new pod crash-loops, restarts or
   cannot pull its image (Dokku's check: the container must run without restarts), or
   after ``rollout-timeout`` seconds;
4. on failure (or an interrupt, or ``abort`` after a failed ``core-post-deploy``), every
   Deployment this deploy changed goes back to its previous ReplicaSet:
   the previous ReplicaSet's pod template is written back into the Deployment, as
   ``kubectl rollout undo`` does (a Deployment that this deploy created is deleted), and a
   DeployError carries the failing pod's last log lines. With ``maxUnavailable: 0`` the old
   pods never stopped serving;
5. only then are the ``attach-post-deploy`` networks applied: their NetworkPolicies, and the
   new pods relabelled from ``pending`` to ``true`` (see ``render.py``);
6. the ``Rollout`` goes back to core, which fires ``core-post-deploy``; ``finish`` then
   deletes the objects of process types that left the Procfile or the port map.

``listeners`` come from the app's Services (ClusterIP, or the cluster DNS name for a
headless one, and the Service port, which is the container port). ``events`` watches the
app pods of every namespace in use; ``status`` and ``logs`` read pods.

The driver's parts, by what they hold: ``objects.py`` (the client and the object verbs),
``rollout.py`` (deploy, waiting, crash detection, roll back, prune, promote pending),
``events.py`` (the pod watch), ``networks.py`` (``network_*``). This class composes them and
keeps the lifecycle (stop, start, destroy), status, listeners, run and logs.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from dockyard.core.errors import DeployError, DockyardError
from dockyard.core.models import DeployPlan, Exposure, Instance, Listener
from dockyard.schedulers.base import Capability
from dockyard.schedulers.kubernetes import render as R
from dockyard.schedulers.kubernetes.client import PLUGIN, read_settings
from dockyard.schedulers.kubernetes.events import KubeEvents, pod_events
from dockyard.schedulers.kubernetes.networks import KubeNetworks
from dockyard.schedulers.kubernetes.objects import Obj, obj_labels, obj_meta
from dockyard.schedulers.kubernetes.rollout import FATAL_WAITING, KubeRollouts, rollout_state
from dockyard.schedulers.local_images import LocalEngineImages
from dockyard.schedulers.remote import LogStream

__all__ = ["KubernetesScheduler", "pod_events", "pod_networks", "rollout_state"]

#: on a Deployment that ps:stop scaled to 0: the replicas it had, for ps:start
STOPPED_REPLICAS = "dockyard.io/stopped-replicas"


class KubernetesScheduler(LocalEngineImages, KubeRollouts, KubeEvents, KubeNetworks):
    """A one-off is a Pod, named by its handle."""

    name = "kubernetes"
    plugin = PLUGIN
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.ATTACH_POST_CREATE,
        Capability.ATTACH_POST_DEPLOY,
        Capability.MULTIPLE_NETWORKS,
        Capability.RUN,
        Capability.LOGS,
        Capability.EVENTS,
        Capability.ZERO_DOWNTIME,
        Capability.TCP_LISTENERS,
        Capability.UDP_LISTENERS,
    })

    # ---- lifecycle ---------------------------------------------------------------
    def _app_deployments(self, app: str) -> tuple[str, list[Obj]]:
        ns = self._ns(app)
        return ns, self._list("Deployment", ns, f"{R.APP_LABEL}={app}")

    def stop(self, app: str) -> None:
        """Scale each Deployment to 0, noting its count on the object, so ``start`` can bring
        back what ran without asking the core for a plan; returns once the pods are gone."""
        ns, deps = self._app_deployments(app)
        for dep in deps:
            name = obj_meta(dep)["name"]
            replicas = int((dep.get("spec") or {}).get("replicas") or 0)
            patch: Obj = {"spec": {"replicas": 0}}
            if replicas:  # a second stop keeps the first one's note
                patch["metadata"] = {"annotations": {STOPPED_REPLICAS: str(replicas)}}
            self.kube.call(f"scale {name} to 0", self.kube.apps.patch_namespaced_deployment, name, ns, patch)
        selector = f"{R.APP_LABEL}={app}"

        def still_running() -> str | None:
            # a terminating pod still runs its process until its grace period ends
            left = [p for p in self._list("Pod", ns, selector) if obj_labels(p).get(R.PROC_LABEL) != "run"]
            return f"{len(left)} pod{'s' if len(left) != 1 else ''}" if left else None

        if deps:
            self._wait_stopped(app, still_running)

    def start(self, app: str) -> None:
        """Scale each stopped Deployment back to the count ``stop`` noted, and wait until its
        pods are available (a fresh rollout, when nothing is left, is the core's)."""
        ns, deps = self._app_deployments(app)
        started: list[str] = []
        for dep in deps:
            name = obj_meta(dep)["name"]
            noted = (obj_meta(dep).get("annotations") or {}).get(STOPPED_REPLICAS)
            if not noted:
                continue
            patch = {"spec": {"replicas": int(noted)}, "metadata": {"annotations": {STOPPED_REPLICAS: None}}}
            self.kube.call(f"scale {name} to {noted}", self.kube.apps.patch_namespaced_deployment, name, ns, patch)
            started.append(name)

        def not_started() -> str | None:
            nonlocal started
            states = {n: rollout_state(self._read("Deployment", n, ns) or {}) for n in started}
            failed = {n: d for n, (state, d) in states.items() if state == "failed"}
            if failed:
                raise DeployError(f"app {app}: start failed: " + "; ".join(f"{n}: {d}" for n, d in failed.items()))
            started = [n for n, (state, _) in states.items() if state != "complete"]
            return ", ".join(started) or None

        self._wait_started(app, not_started)

    def destroy(self, app: str) -> None:
        """Returns once no controller of the app is left to start a pod, as Dokku's
        ``apps:destroy`` returns once the containers are gone."""
        ns = self._ns(app)
        selector = f"{R.APP_LABEL}={app}"
        for kind in ("Deployment", "Service", "NetworkPolicy"):
            for obj in self._list(kind, ns, selector):
                self._delete(kind, obj_meta(obj)["name"], ns)
        self._wait_until_done(
            app, lambda: "its Deployments" if (self._list("Deployment", ns, selector)
                                               or self._list("ReplicaSet", ns, selector)) else None,
            lambda what, timeout: DeployError(f"app {app}: {what} were still being deleted after {timeout:.0f}s"))
        for pod in self._list("Pod", ns, selector):  # one-off pods, and any the controllers left
            if not obj_meta(pod).get("deletionTimestamp"):
                self._delete("Pod", obj_meta(pod)["name"], ns)

    def status(self, app: str) -> list[Instance]:
        ns = self._ns(app)
        pods = [p for p in self._list("Pod", ns, f"{R.APP_LABEL}={app}")
                if obj_labels(p).get(R.PROC_LABEL) != "run" and not obj_meta(p).get("deletionTimestamp")]
        out: list[Instance] = []
        by_type: dict[str, list[Obj]] = {}
        for pod in pods:
            by_type.setdefault(obj_labels(pod).get(R.PROC_LABEL, ""), []).append(pod)
        for proc, group in sorted(by_type.items()):
            group.sort(key=lambda p: (obj_meta(p).get("creationTimestamp") or "", obj_meta(p).get("name", "")))
            for index, pod in enumerate(group, 1):
                out.append(_instance(app, proc, index, pod))
        return out

    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Listener]]:
        """Every process type of the app; those with a Service list where it sends traffic.

        ``scheduler-kubernetes/<app>/listeners``: ``endpoints`` (default) lists each ready
        endpoint of the Service (pod IP and target port), one per instance, as ingress-nginx
        routes; ``service`` lists the Service itself (ClusterIP, or its cluster DNS name when
        headless, and port), one per Service port.
        """
        mode = self._listener_mode(app)
        ns = self._ns(app)
        out: dict[str, list[Listener]] = {
            obj_labels(d).get(R.PROC_LABEL, ""): [] for d in self._list("Deployment", ns, f"{R.APP_LABEL}={app}")}
        for svc in self._list("Service", ns, f"{R.APP_LABEL}={app}"):
            proc = obj_labels(svc).get(R.PROC_LABEL, "")
            spec = svc.get("spec") or {}
            found = out.setdefault(proc, [])
            if mode == "service":
                ip = spec.get("clusterIP")
                host = ip if ip and ip != "None" else f"{obj_meta(svc)['name']}.{ns}.svc.cluster.local"
                found.extend(Listener(host, int(p["port"])) for p in spec.get("ports") or [])
                continue
            svc_name = obj_meta(svc)["name"]
            slices = self.kube.call(f"list the endpoints of Service {svc_name}",
                                    self.kube.discovery.list_namespaced_endpoint_slice, ns,
                                    label_selector=f"kubernetes.io/service-name={svc_name}")
            for es in self.kube.sanitize(slices).get("items") or []:
                ports = [int(p["port"]) for p in es.get("ports") or [] if p.get("port")]
                for ep in es.get("endpoints") or []:
                    if (ep.get("conditions") or {}).get("ready") is False:
                        continue
                    found.extend(Listener(addr, port) for addr in ep.get("addresses") or [] for port in ports)
        for proc in out:
            out[proc].sort(key=lambda x: (x.host, x.port))
        return out

    # ---- run ---------------------------------------------------------------------
    def _create_one_off(self, plan: DeployPlan, argv: list[str], env: dict[str, str]) -> str:
        settings = read_settings(self.store, plan.app)
        name = R.run_pod_name(plan.app, secrets.token_hex(3))
        self.apply(R.render_run_pod(plan, argv, settings, name, env))
        return name

    def _await_one_off(self, app: str, one_off: str, deadline: float) -> int:
        ns, poll = self._ns(app), self._poll(app)
        self._wait_pod(ns, one_off, {"Running", "Succeeded", "Failed"}, poll, deadline)
        self._stream_log(ns, one_off)
        return _exit_code(self._wait_pod(ns, one_off, {"Succeeded", "Failed"}, poll, deadline))

    def _remove_one_off(self, app: str, one_off: str) -> None:
        self._delete("Pod", one_off, self._ns(app))

    def _wait_pod(self, ns: str, name: str, phases: set[str], poll: float, deadline: float) -> Obj:
        while True:
            pod = self._read("Pod", name, ns)
            if pod is None:
                raise DockyardError(f"kubernetes: pod {ns}/{name} disappeared")
            if (pod.get("status") or {}).get("phase") in phases:
                return pod
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in FATAL_WAITING:
                    raise DockyardError(f"kubernetes: pod {name} cannot start: {waiting['reason']}")
            if time.monotonic() > deadline:
                raise DockyardError(f"kubernetes: pod {ns}/{name} did not finish in time")
            time.sleep(poll)

    def _stream_log(self, ns: str, name: str) -> None:
        resp: Any = self.kube.call(f"follow the log of pod {name}", self.kube.core.read_namespaced_pod_log,
                                   name, ns, follow=True, _preload_content=False)  # a urllib3 response
        try:
            for chunk in resp.stream(1024, decode_content=False):
                sys.stdout.write(chunk.decode(errors="replace"))
                sys.stdout.flush()
        finally:
            resp.release_conn()

    # ---- logs and events -----------------------------------------------------------
    def _log_lines(self, app: str, instance: Instance, tail: int | None) -> list[str]:
        text = self.kube.call(f"read the log of pod {instance.name}", self.kube.core.read_namespaced_pod_log,
                              instance.name, self._ns(app), tail_lines=tail)
        return str(text).splitlines()

    def _log_streams(self, app: str, instance: Instance, tail: int | None) -> list[LogStream]:
        ns = self._ns(app)

        def follow_pod() -> Iterator[bytes]:
            resp: Any = self.kube.call(f"follow the log of pod {instance.name}",
                                       self.kube.core.read_namespaced_pod_log, instance.name, ns,
                                       follow=True, tail_lines=tail, _preload_content=False)
            try:
                yield from resp.stream(1024, decode_content=False)
            finally:
                resp.release_conn()

        return [follow_pod]

    @classmethod
    def describe(cls) -> dict[str, str]:
        return {
            "networks": "a pod label `dockyard.io/network-NET` plus a NetworkPolicy `dockyard-network-NET` "
                        "admitting ingress between members; a per-app baseline policy keeps every other "
                        "path as it was (property `ingress`: allow-all or namespace)",
            "attach-post-create": "label `true` in the pod template: pods are members from creation",
            "attach-post-deploy": "label `pending` in the template, relabelled `true` on the new pods only "
                                  "after the rollout completed; the network's policy is applied then too",
            "initial-network": "not supported: a pod has exactly one network (refused before any API call)",
            "listeners": "every process type; for those with a Service: its ready endpoints (pod IP, port; "
                         "default) or, with property `listeners service`, its ClusterIP (or cluster DNS name) "
                         "and port",
            "run": "a Pod with restartPolicy Never; its log is streamed and its exit code returned",
            "logs": "pod logs (`read_namespaced_pod_log`, followed in parallel)",
            "events": "a watch on the app pods of every namespace in use; events carry the app's restart "
                      "policy (kubelet itself restarts a Deployment's pods without limit)",
            "zero-downtime": "RollingUpdate with maxUnavailable 0; checks wait = minReadySeconds, checks "
                             "path = readiness probe; a failed rollout goes back to the previous ReplicaSet",
        }


def pod_networks(pod: Obj) -> dict[str, str]:
    """Network label -> Dockyard network name, for the networks the pod's labels name.

    Read from the pod (its ``NETWORKS_ANNOTATION``), not the app's settings: the pod is
    where the driver wrote what it joined. A pod rendered before that annotation existed
    names a network by its label only, which is the network's name unless
    ``k8s_network_name`` had to slug it."""
    labels = obj_labels(pod)
    out = {k: k[len(R.NETWORK_LABEL_PREFIX):] for k in labels if k.startswith(R.NETWORK_LABEL_PREFIX)}
    named = str((obj_meta(pod).get("annotations") or {}).get(R.NETWORKS_ANNOTATION) or "")
    out.update({R.network_label(n): n for n in named.split(",") if n})
    return out


def _instance(app: str, proc: str, index: int, pod: Obj) -> Instance:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    state = str(status.get("phase") or "Unknown").lower()
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            state = str(waiting.get("reason") or "waiting").lower()
    addresses = {"pod": status["podIP"]} if status.get("podIP") else {}
    if status.get("podIP"):  # a member (label "true", not "pending") is reachable on that network
        labels = obj_labels(pod)
        addresses.update({net: status["podIP"] for label, net in pod_networks(pod).items()
                          if labels.get(label) == R.MEMBER})
    return Instance(app=app, process_type=proc, index=index, id=str(obj_meta(pod).get("uid", "")),
                    name=obj_meta(pod).get("name", ""), state=state, restart_count=restarts,
                    release=obj_labels(pod).get(R.RELEASE_LABEL, ""), addresses=addresses)


def _exit_code(pod: Obj) -> int:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated")
        if term is not None:
            return int(term.get("exitCode", 1))
    return 0 if (pod.get("status") or {}).get("phase") == "Succeeded" else 1
