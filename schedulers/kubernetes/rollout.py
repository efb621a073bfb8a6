"""A kubernetes deploy, and undoing one.

``rollout`` applies the rendered objects, then waits for every Deployment the way
``kubectl rollout status`` reads it (``rollout_state``), failing early on a new pod that
crash-loops, restarts or cannot pull its image (Dokku's check: the container must run
without restarts) and after ``rollout-timeout``. Only then are the post-deploy networks
applied and the pending pods promoted. ``_KubeRollout.undo`` writes each Deployment's
previous ReplicaSet back (``kubectl rollout undo``); ``finish`` prunes the objects of
process types the plan dropped.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence

from dockyard.core.errors import DeployError, DockyardError
from dockyard.core.hooks import Hooks
from dockyard.core.lookup import computed_float
from dockyard.core.models import DeployPlan, Listener, Phase
from dockyard.schedulers.base import Progress, Rollout, no_progress
from dockyard.schedulers.capabilities import check_plan
from dockyard.schedulers.kubernetes import render as R
from dockyard.schedulers.kubernetes.client import PLUGIN, read_settings
from dockyard.schedulers.kubernetes.objects import KubeObjects, Obj, obj_labels, obj_meta

log = logging.getLogger("dockyard.kubernetes")

REVISION = "deployment.kubernetes.io/revision"
#: a container waiting for one of these will not start by waiting longer
FATAL_WAITING = {"CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError",
                 "CreateContainerError", "InvalidImageName", "RunContainerError"}


def _revision(obj: Obj) -> int:
    try:
        return int((obj_meta(obj).get("annotations") or {}).get(REVISION, "0"))
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
    if int(status.get("observedGeneration") or 0) < int(obj_meta(dep).get("generation") or 0):
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


def _pod_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


class KubeRollouts(KubeObjects):
    """Deploying and undoing a deploy; the Deployment-level waits and repairs."""

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
                               process_type=obj_labels(manifest).get(R.PROC_LABEL, ""), scheduler=self)
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
        served = {obj_labels(svc).get(R.PROC_LABEL, "") for svc in
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
                proc = obj_labels(dep).get(R.PROC_LABEL, "")
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
                name = obj_meta(pod).get("name", "")
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
            pod = obj_meta(pods[0]).get("name", "")
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
            body["metadata"]["annotations"] = {**(obj_meta(old).get("annotations") or {}),
                                               REVISION: (obj_meta(live).get("annotations") or {}).get(REVISION, "")}
            self._replace("Deployment", name, ns, body)
            notes.append(f"{name} rolled back to ReplicaSet {obj_meta(previous).get('name')}")
        return "; ".join(notes) if notes else "nothing to roll back"

    def _previous_replica_set(self, ns: str, dep: Obj, old_revision: int) -> Obj | None:
        """The ReplicaSet that served before this deploy: ``old_revision`` if it still exists,
        else the newest one older than the current revision."""
        uid = obj_meta(dep).get("uid")
        selector = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items())
        owned = [rs for rs in self._list("ReplicaSet", ns, selector)
                 if any(o.get("uid") == uid for o in obj_meta(rs).get("ownerReferences") or [])]
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
            pending = {k: R.MEMBER for k, v in obj_labels(pod).items()
                       if k.startswith(R.NETWORK_LABEL_PREFIX) and v == R.PENDING}
            if not pending or not _pod_ready(pod):
                continue
            name = obj_meta(pod)["name"]
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
                name = obj_meta(obj)["name"]
                if (kind, name) not in keep:
                    log.info("removing %s %s: no longer in the app's plan", kind, name)
                    self._delete(kind, name, ns)
                    had_networks = had_networks or kind == "Deployment"
        baseline = R.baseline_policy_name(plan.app)
        if had_networks and ("NetworkPolicy", baseline) not in keep:
            self._delete("NetworkPolicy", baseline, ns)


class _KubeRollout(Rollout):
    """The Deployments have rolled out (``maxUnavailable: 0``: the old pods served until the
    new ones were ready). ``finish`` prunes the objects of process types the plan dropped;
    ``undo`` writes each Deployment's previous ReplicaSet back, as ``kubectl rollout undo``,
    and deletes the post-deploy NetworkPolicies this rollout created."""

    def __init__(self, driver: KubeRollouts, plan: DeployPlan, ns: str, before: dict[str, Obj | None],
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
