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
"""

from __future__ import annotations

import contextlib
import copy
import logging
import queue
import secrets
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from dockyard.core.errors import DeployError, DockyardError, NotFound, ValidationError
from dockyard.core.hooks import Hooks
from dockyard.core.lookup import computed_float
from dockyard.core.models import DeployPlan, Exposure, Instance, Listener, NetworkInfo, Phase, SchedulerEvent
from dockyard.core.names import GLOBAL_SCOPE, validate_network_name
from dockyard.schedulers.base import Capability, Progress, Rollout, no_progress
from dockyard.schedulers.capabilities import check_plan
from dockyard.schedulers.kubernetes import render as R
from dockyard.schedulers.kubernetes.client import PLUGIN, ApiError, KubeClient, read_settings
from dockyard.schedulers.local_images import LocalEngineImages
from dockyard.schedulers.remote import LogStream, RemoteScheduler
from dockyard.schedulers.retries import retry_settings

log = logging.getLogger("dockyard.kubernetes")

REVISION = "deployment.kubernetes.io/revision"
#: on a Deployment that ps:stop scaled to 0: the replicas it had, for ps:start
STOPPED_REPLICAS = "dockyard.io/stopped-replicas"
FATAL_WAITING = {"CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError",
                 "CreateContainerError", "InvalidImageName", "RunContainerError"}

Obj = dict[str, Any]


def _meta(obj: Obj) -> Obj:
    meta: Obj = obj.get("metadata") or {}
    return meta


def _labels(obj: Obj) -> dict[str, str]:
    labels: dict[str, str] = _meta(obj).get("labels") or {}
    return labels


def _revision(obj: Obj) -> int:
    try:
        return int((_meta(obj).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def rollout_state(dep: Obj) -> tuple[str, str]:
    """("complete" | "progressing" | "failed", detail), the way ``kubectl rollout status`` reads it."""
    spec = dep.get("spec") or {}
    status = dep.get("status") or {}
    want = int(spec.get("replicas", 1))
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return "failed", cond.get("message") or "progress deadline exceeded"
    if int(status.get("observedGeneration") or 0) < int(_meta(dep).get("generation") or 0):
        return "progressing", "waiting for the rollout to be observed"
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < want:
        return "progressing", f"{updated} of {want} new replicas updated"
    if total > updated:
        return "progressing", f"{total - updated} old replicas pending termination"
    if available < updated:
        return "progressing", f"{available} of {updated} updated replicas available"
    return "complete", f"{available} of {want} replicas available"


class KubernetesScheduler(LocalEngineImages, RemoteScheduler[str]):
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

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self._kube: KubeClient | None = None

    # ---- plumbing ----------------------------------------------------------------
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
            body["metadata"]["resourceVersion"] = _meta(live).get("resourceVersion")
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

    # ---- deploy ------------------------------------------------------------------
    def rollout(self, plan: DeployPlan, hooks: Hooks, progress: Progress = no_progress) -> Rollout:
        check_plan(plan.app, plan.networks, plan.ports, self.name, self.capabilities)
        settings = read_settings(self.store, plan.app)
        manifests = R.render_manifests(plan, settings)
        post_names = {R.network_policy_name(n) for n in plan.networks.attach_post_deploy}
        now = [m for m in manifests if m["metadata"]["name"] not in post_names or m["kind"] != "NetworkPolicy"]
        later = [m for m in manifests if m["kind"] == "NetworkPolicy" and m["metadata"]["name"] in post_names]
        ns = settings.namespace
        deployments = [m["metadata"]["name"] for m in manifests if m["kind"] == "Deployment"]
        before = {name: self._read("Deployment", name, ns) for name in deployments}
        rollout = _KubeRollout(self, plan, ns, before, manifests, progress)
        try:
            for manifest in now:
                progress(f"apply {manifest['kind']} {manifest['metadata']['name']}", 0, 0)
                self.apply(manifest)
                if manifest["kind"] == "Deployment" and manifest["spec"]["replicas"] > 0:
                    # the pod template (with the post-create networks) exists; no pod is ready yet
                    hooks.fire("post-container-create", container_type="app",
                               container_id=manifest["metadata"]["name"], app=plan.app, phase=Phase.DEPLOY,
                               process_type=_labels(manifest).get(R.PROC_LABEL, ""), scheduler=self)
            failure = self._wait_rollouts(plan, ns, deployments, progress)
            if failure is not None:
                raise DeployError(f"app {plan.app}: rollout failed: {failure}; {rollout.abort()}")
            for manifest in later:
                if self._read("NetworkPolicy", manifest["metadata"]["name"], ns) is None:
                    rollout.policies.append(manifest["metadata"]["name"])
                self.apply(manifest)
            if plan.networks.attach_post_deploy:  # only then can a pod carry a pending label
                self._promote_pending(plan.app, ns, plan.release)
            rollout.instances = self.status(plan.app)
        except BaseException:
            rollout.abort()  # an interrupt or an API failure mid-apply: back to what ran (once)
            raise
        return rollout

    def _ready_listeners(self, plan: DeployPlan, progress: Progress) -> dict[str, list[Listener]]:
        """The new release's listeners once every instance is among them.

        A Deployment reports its pods available before the EndpointSlice controller has
        listed them all, so switching the proxy at once could send all traffic to the first
        ready pod. Wait (up to ``rollout-timeout``) until each type's Service lists as many
        addresses as the type has instances; a type without a Service has no listener.
        Services of types leaving the plan still exist until ``finish`` prunes them: left out.
        """
        scale = {p.name: p.scale for p in plan.processes}
        found = {t: ls for t, ls in self.listeners(plan.app, plan.exposure).items() if t in scale}
        if self._listener_mode(plan.app) != "endpoints":
            return found  # one listener per Service port, there from the start
        served = {_labels(svc).get(R.PROC_LABEL, "") for svc in
                  self._list("Service", self._ns(plan.app), f"{R.APP_LABEL}={plan.app}")}
        deadline = time.monotonic() + computed_float(self.store, PLUGIN, plan.app, "rollout-timeout", 900.0)
        while True:
            short = sorted(t for t in served & set(scale) if len({x.host for x in found.get(t, [])}) < scale[t])
            if not short or time.monotonic() > deadline:
                return found
            progress(f"waiting for the endpoints of {', '.join(short)}", 0, 0)
            time.sleep(self._poll(plan.app))
            found = {t: ls for t, ls in self.listeners(plan.app, plan.exposure).items() if t in scale}

    def _wait_rollouts(self, plan: DeployPlan, ns: str, names: Sequence[str], progress: Progress) -> str | None:
        """None once every rollout is complete, else why it failed."""
        timeout = computed_float(self.store, PLUGIN, plan.app, "rollout-timeout", 900.0)
        poll = self._poll(plan.app)
        deadline = time.monotonic() + timeout
        total = sum(p.scale for p in plan.processes)
        pending = list(names)
        done: dict[str, int] = {}
        while True:
            for name in list(pending):
                dep = self._read("Deployment", name, ns)
                if dep is None:
                    return f"Deployment {name} disappeared during the rollout"
                state, detail = rollout_state(dep)
                proc = _labels(dep).get(R.PROC_LABEL, "")
                # a complete rollout has every new pod available: nothing left to find crashing
                crash = self._crashing_pod(plan, ns, proc) if state != "complete" else None
                if state == "failed" or crash:
                    reason = crash[1] if crash else detail
                    pod = crash[0] if crash else None
                    return f"Deployment {name}: {reason}{self._last_lines(ns, pod, plan, proc)}"
                done[name] = int((dep.get("status") or {}).get("availableReplicas") or 0)
                progress(f"rollout {name}: {detail}", min(sum(done.values()), total), total)
                if state == "complete":
                    pending.remove(name)
            if not pending:
                return None
            if time.monotonic() > deadline:
                return f"{', '.join(pending)} did not finish rolling out within {timeout:.0f}s"
            time.sleep(poll)

    def _crashing_pod(self, plan: DeployPlan, ns: str, proc: str) -> tuple[str, str] | None:
        """A pod of the new release that fails Dokku's check: waiting on a fatal reason, or restarted."""
        selector = f"{R.APP_LABEL}={plan.app},{R.PROC_LABEL}={proc},{R.RELEASE_LABEL}={plan.release}"
        for pod in self._list("Pod", ns, selector):
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting") or {}
                name = _meta(pod).get("name", "")
                if waiting.get("reason") in FATAL_WAITING:
                    return name, f"pod {name} is {waiting['reason']}: {waiting.get('message') or ''}".rstrip(": ")
                if plan.checks.enabled_for(proc) and int(cs.get("restartCount") or 0) > 0:
                    return name, f"pod {name} restarted {cs['restartCount']} time(s)"
        return None

    def _last_lines(self, ns: str, pod: str | None, plan: DeployPlan, proc: str) -> str:
        if pod is None:
            selector = f"{R.APP_LABEL}={plan.app},{R.PROC_LABEL}={proc},{R.RELEASE_LABEL}={plan.release}"
            pods = self._list("Pod", ns, selector)
            if not pods:
                return ""
            pod = _meta(pods[0]).get("name", "")
        try:
            text = self.kube.call(f"read the log of pod {pod}", self.kube.core.read_namespaced_pod_log,
                                  pod, ns, tail_lines=10)
        except DockyardError:
            return ""
        lines = [line for line in str(text).splitlines() if line.strip()]
        return f"; last log lines of {pod}: " + " | ".join(lines) if lines else ""

    def _roll_back(self, ns: str, before: dict[str, Obj | None]) -> str:
        """Every Deployment back to the ReplicaSet it had before this deploy."""
        notes: list[str] = []
        for name, old in before.items():
            live = self._read("Deployment", name, ns)
            if live is None:
                continue
            if old is None:
                self._delete("Deployment", name, ns)
                notes.append(f"{name} removed (it had no previous release)")
                continue
            replicas = (old.get("spec") or {}).get("replicas", 1)
            if _revision(live) == _revision(old):  # same template: only the scale changed
                self.kube.call(f"scale {name} back", self.kube.apps.patch_namespaced_deployment, name, ns,
                               {"spec": {"replicas": replicas}})
                notes.append(f"{name} scaled back to {replicas}")
                continue
            previous = self._previous_replica_set(ns, live, _revision(old))
            if previous is None:
                continue
            template = copy.deepcopy(previous["spec"]["template"])
            (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
            body = copy.deepcopy(live)
            body.pop("status", None)
            body["spec"]["template"] = template
            body["spec"]["replicas"] = replicas
            body["metadata"]["annotations"] = {**(_meta(old).get("annotations") or {}),
                                               REVISION: (_meta(live).get("annotations") or {}).get(REVISION, "")}
            self._replace("Deployment", name, ns, body)
            notes.append(f"{name} rolled back to ReplicaSet {_meta(previous).get('name')}")
        return "; ".join(notes) if notes else "nothing to roll back"

    def _previous_replica_set(self, ns: str, dep: Obj, old_revision: int) -> Obj | None:
        """The ReplicaSet that served before this deploy: ``old_revision`` if it still exists,
        else the newest one older than the current revision."""
        uid = _meta(dep).get("uid")
        selector = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items())
        owned = [rs for rs in self._list("ReplicaSet", ns, selector)
                 if any(o.get("uid") == uid for o in _meta(rs).get("ownerReferences") or [])]
        current = _revision(dep)
        exact = [rs for rs in owned if _revision(rs) == old_revision and old_revision != current]
        if exact:
            return exact[0]
        # the API server renumbers a ReplicaSet it reuses; fall back to the newest older one
        older = [rs for rs in owned if _revision(rs) < current]
        return max(older, key=_revision) if older else None

    def _promote_pending(self, app: str, ns: str, release: str | None = None) -> int:
        """attach-post-deploy: ``pending`` network labels become ``true`` on ready pods."""
        selector = f"{R.APP_LABEL}={app}" + (f",{R.RELEASE_LABEL}={release}" if release else "")
        promoted = 0
        for pod in self._list("Pod", ns, selector):
            pending = {k: R.MEMBER for k, v in _labels(pod).items()
                       if k.startswith(R.NETWORK_LABEL_PREFIX) and v == R.PENDING}
            if not pending or not _pod_ready(pod):
                continue
            name = _meta(pod)["name"]
            self.kube.call(f"label pod {ns}/{name}", self.kube.core.patch_namespaced_pod, name, ns,
                           {"metadata": {"labels": pending}})
            promoted += 1
        return promoted

    def _prune(self, plan: DeployPlan, ns: str, keep: set[tuple[str, str]], had_networks: bool = True) -> None:
        """Remove the app's objects the plan no longer has. The baseline ingress policy exists
        only while some pod joined a network, so it is looked for only when one did."""
        selector = f"{R.APP_LABEL}={plan.app}"
        for kind in ("Deployment", "Service"):
            for obj in self._list(kind, ns, selector):
                name = _meta(obj)["name"]
                if (kind, name) not in keep:
                    log.info("removing %s %s: no longer in the app's plan", kind, name)
                    self._delete(kind, name, ns)
                    had_networks = had_networks or kind == "Deployment"
        baseline = R.baseline_policy_name(plan.app)
        if had_networks and ("NetworkPolicy", baseline) not in keep:
            self._delete("NetworkPolicy", baseline, ns)

    # ---- lifecycle ---------------------------------------------------------------
    def _app_deployments(self, app: str) -> tuple[str, list[Obj]]:
        ns = self._ns(app)
        return ns, self._list("Deployment", ns, f"{R.APP_LABEL}={app}")

    def stop(self, app: str) -> None:
        """Scale each Deployment to 0, noting its count on the object, so ``start`` can bring
        back what ran without asking the core for a plan."""
        ns, deps = self._app_deployments(app)
        for dep in deps:
            name = _meta(dep)["name"]
            replicas = int((dep.get("spec") or {}).get("replicas") or 0)
            patch: Obj = {"spec": {"replicas": 0}}
            if replicas:  # a second stop keeps the first one's note
                patch["metadata"] = {"annotations": {STOPPED_REPLICAS: str(replicas)}}
            self.kube.call(f"scale {name} to 0", self.kube.apps.patch_namespaced_deployment, name, ns, patch)

    def start(self, app: str) -> None:
        """Scale each stopped Deployment back to the count ``stop`` noted, and wait until its
        pods are available (a fresh rollout, when nothing is left, is the core's)."""
        ns, deps = self._app_deployments(app)
        started: list[str] = []
        for dep in deps:
            name = _meta(dep)["name"]
            noted = (_meta(dep).get("annotations") or {}).get(STOPPED_REPLICAS)
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
                self._delete(kind, _meta(obj)["name"], ns)
        self._wait_until_done(
            app, lambda: "its Deployments" if (self._list("Deployment", ns, selector)
                                               or self._list("ReplicaSet", ns, selector)) else None,
            lambda what, timeout: DeployError(f"app {app}: {what} were still being deleted after {timeout:.0f}s"))
        for pod in self._list("Pod", ns, selector):  # one-off pods, and any the controllers left
            if not _meta(pod).get("deletionTimestamp"):
                self._delete("Pod", _meta(pod)["name"], ns)

    def status(self, app: str) -> list[Instance]:
        ns = self._ns(app)
        pods = [p for p in self._list("Pod", ns, f"{R.APP_LABEL}={app}")
                if _labels(p).get(R.PROC_LABEL) != "run" and not _meta(p).get("deletionTimestamp")]
        out: list[Instance] = []
        by_type: dict[str, list[Obj]] = {}
        for pod in pods:
            by_type.setdefault(_labels(pod).get(R.PROC_LABEL, ""), []).append(pod)
        for proc, group in sorted(by_type.items()):
            group.sort(key=lambda p: (_meta(p).get("creationTimestamp") or "", _meta(p).get("name", "")))
            for index, pod in enumerate(group, 1):
                out.append(_instance(app, proc, index, pod))
        return out

    def _listener_mode(self, app: str) -> str:
        """``scheduler-kubernetes/<app>/listeners``: ``endpoints`` (default) or ``service``."""
        from dockyard.core.lookup import computed

        mode = computed(self.store, "scheduler-kubernetes", app, "listeners", "endpoints")
        if mode not in ("endpoints", "service"):
            raise ValidationError(f"invalid scheduler-kubernetes property listeners {mode!r}: "
                                  "expected endpoints or service")
        return mode

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
            _labels(d).get(R.PROC_LABEL, ""): [] for d in self._list("Deployment", ns, f"{R.APP_LABEL}={app}")}
        for svc in self._list("Service", ns, f"{R.APP_LABEL}={app}"):
            proc = _labels(svc).get(R.PROC_LABEL, "")
            spec = svc.get("spec") or {}
            found = out.setdefault(proc, [])
            if mode == "service":
                ip = spec.get("clusterIP")
                host = ip if ip and ip != "None" else f"{_meta(svc)['name']}.{ns}.svc.cluster.local"
                found.extend(Listener(host, int(p["port"])) for p in spec.get("ports") or [])
                continue
            svc_name = _meta(svc)["name"]
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

    def _namespaces(self) -> list[str]:
        """The namespaces this driver's own settings name: the global one and each app's
        ``scheduler-kubernetes/<app>/namespace`` (an app without one deploys to the global
        one). Read from the driver's properties, not core's app registry; an app that set a
        namespace but runs elsewhere only adds a watch that sees nothing."""
        apps = [s for s in self.store.scopes(PLUGIN) if s != GLOBAL_SCOPE]
        return sorted({self._ns(None), *(self._ns(app) for app in apps)})

    def events(self) -> Iterator[SchedulerEvent]:
        """A watch on Dockyard's pods in every namespace in use, as start/restart/die/destroy."""
        from kubernetes import watch

        out: queue.Queue[SchedulerEvent | BaseException] = queue.Queue()
        stop = threading.Event()
        watchers: list[Any] = []

        def follow(ns: str) -> None:
            seen: dict[str, tuple[bool, int]] = {}
            version: str | None = None
            delay = 0.5
            while not stop.is_set():
                w = watch.Watch()
                watchers.append(w)
                try:
                    kwargs: dict[str, Any] = {"label_selector": R.APP_LABEL, "timeout_seconds": 300}
                    if version:
                        kwargs["resource_version"] = version
                    for raw in w.stream(self.kube.core.list_namespaced_pod, ns, **kwargs):
                        if stop.is_set():
                            return
                        pod = self.kube.sanitize(raw["object"])
                        version = _meta(pod).get("resourceVersion") or version
                        for event in pod_events(raw["type"], pod, seen):
                            out.put(event)
                    delay = 0.5
                except Exception as exc:
                    if stop.is_set():
                        return
                    log.warning("kubernetes watch on %s ended (%s); reconnecting in %.1fs", ns, exc, delay)
                    version = None
                    time.sleep(delay)
                    delay = min(delay * 2, 30.0)

        for ns in self._namespaces():
            threading.Thread(target=follow, args=(ns,), daemon=True, name=f"dockyard-k8s-watch-{ns}").start()
        try:
            while True:
                item = out.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            for w in watchers:
                with contextlib.suppress(Exception):
                    w.stop()

    # ---- networks ----------------------------------------------------------------
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
            original = (_meta(pol).get("annotations") or {}).get("dockyard.io/network-name")
            if original:
                infos.append(self.network_inspect(original))
        return sorted(infos, key=lambda i: i.name)

    def network_inspect(self, name: str) -> NetworkInfo:
        ns = self._ns(None)
        pol = self._read("NetworkPolicy", R.network_policy_name(name), ns)
        if pol is None:
            raise NotFound(f"network {name} does not exist")
        members = self._list("Pod", ns, f"{R.network_label(name)}={R.MEMBER}")
        return NetworkInfo(name=name, id=str(_meta(pol).get("uid", "")), driver="networkpolicy", managed=True,
                           containers=tuple(sorted(_meta(p)["name"] for p in members)))

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


def _pod_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def pod_networks(pod: Obj) -> dict[str, str]:
    """Network label -> Dockyard network name, for the networks the pod's labels name.

    Read from the pod (its ``NETWORKS_ANNOTATION``), not the app's settings: the pod is
    where the driver wrote what it joined. A pod rendered before that annotation existed
    names a network by its label only, which is the network's name unless
    ``k8s_network_name`` had to slug it."""
    labels = _labels(pod)
    out = {k: k[len(R.NETWORK_LABEL_PREFIX):] for k in labels if k.startswith(R.NETWORK_LABEL_PREFIX)}
    named = str((_meta(pod).get("annotations") or {}).get(R.NETWORKS_ANNOTATION) or "")
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
        labels = _labels(pod)
        addresses.update({net: status["podIP"] for label, net in pod_networks(pod).items()
                          if labels.get(label) == R.MEMBER})
    return Instance(app=app, process_type=proc, index=index, id=str(_meta(pod).get("uid", "")),
                    name=_meta(pod).get("name", ""), state=state, restart_count=restarts,
                    release=_labels(pod).get(R.RELEASE_LABEL, ""), addresses=addresses)


def _exit_code(pod: Obj) -> int:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated")
        if term is not None:
            return int(term.get("exitCode", 1))
    return 0 if (pod.get("status") or {}).get("phase") == "Succeeded" else 1


def pod_events(kind: str, pod: Obj, seen: dict[str, tuple[bool, int]]) -> list[SchedulerEvent]:
    """Watch events for one pod -> normalised lifecycle events, using what was seen before."""
    labels = _labels(pod)
    app = labels.get(R.APP_LABEL, "")
    proc = labels.get(R.PROC_LABEL, "")
    uid = str(_meta(pod).get("uid", ""))
    policy = str((_meta(pod).get("annotations") or {}).get(R.RESTART_ANNOTATION, "always"))
    name, _, limit = policy.partition(":")
    base = {"app": app, "process_type": proc, "instance_id": uid, "time": time.time(),
            "restart_policy": name, "max_retries": int(limit) if name == "on-failure" and limit.isdigit() else 0}
    if kind == "DELETED":
        seen.pop(uid, None)
        return [SchedulerEvent(action="destroy", **base)]  # type: ignore[arg-type]
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    running = bool(statuses) and all((cs.get("state") or {}).get("running") for cs in statuses)
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    was_running, was_restarts = seen.get(uid, (False, 0))
    seen[uid] = (running, restarts)
    events: list[SchedulerEvent] = []
    if restarts > was_restarts:
        events.append(SchedulerEvent(action="restart", restart_count=restarts, **base))  # type: ignore[arg-type]
    elif running and not was_running:
        events.append(SchedulerEvent(action="start", restart_count=restarts, **base))  # type: ignore[arg-type]
    if not running and was_running:
        code = None
        for cs in statuses:
            term = (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get("terminated")
            if term:
                code = int(term.get("exitCode", 1))
        events.append(SchedulerEvent(action="die", exit_code=code, restart_count=restarts, **base))  # type: ignore[arg-type]
    return events


class _KubeRollout(Rollout):
    """The Deployments have rolled out (``maxUnavailable: 0``: the old pods served until the
    new ones were ready). ``finish`` prunes the objects of process types the plan dropped;
    ``undo`` writes each Deployment's previous ReplicaSet back, as ``kubectl rollout undo``,
    and deletes the post-deploy NetworkPolicies this rollout created."""

    def __init__(self, driver: KubernetesScheduler, plan: DeployPlan, ns: str, before: dict[str, Obj | None],
                 manifests: list[Obj], progress: Progress) -> None:
        super().__init__(plan, driver)
        self.driver, self.ns, self.before, self.manifests = driver, ns, before, manifests
        self.progress = progress
        self.policies: list[str] = []  # post-deploy NetworkPolicies this rollout created

    def read_listeners(self) -> dict[str, list[Listener]]:
        return self.driver._ready_listeners(self.plan, self.progress)

    def finish(self, progress: Progress = no_progress) -> None:
        had_networks = any(k.startswith(R.NETWORK_LABEL_PREFIX) for dep in self.before.values() if dep
                           for k in ((dep["spec"]["template"].get("metadata") or {}).get("labels") or {}))
        self.driver._prune(self.plan, self.ns, {(m["kind"], m["metadata"]["name"]) for m in self.manifests},
                           had_networks)

    def undo(self) -> str:
        note = self.driver._roll_back(self.ns, self.before)
        for name in self.policies:
            self.driver._delete("NetworkPolicy", name, self.ns)
        return note
