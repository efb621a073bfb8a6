"""A stateful HTTP double of the Kubernetes API subset the kubernetes driver uses.

It speaks the real wire protocol, so the real ``kubernetes`` client talks to it through a
kubeconfig file: create (POST), read and list with label selectors (GET), watch (GET
``?watch=true``, chunked JSON lines), replace (PUT, with resourceVersion conflicts), merge
patch (PATCH), delete (DELETE), pod logs, for core/v1 pods and services, apps/v1
deployments and replicasets, and networking.k8s.io/v1 networkpolicies. Errors are real
``Status`` objects (404 NotFound, 409 AlreadyExists/Conflict, 401 without the token).

Controllers are simulated synchronously on every write: a Deployment gets a ReplicaSet per
pod template (numbered by the ``deployment.kubernetes.io/revision`` annotation, reused and
renumbered like the real controller), pods for it, and a status that ``kubectl rollout
status`` logic reads. What a container does is decided by ``program(argv, env)``: the
default interprets a little shell (``echo``, ``exit N``, ``false``, ``sleep``, ``env``);
anything it does not know keeps running, like a server. A Deployment whose container exits
crash-loops and its rollout fails with ``ProgressDeadlineExceeded`` while the old pods keep
running (maxUnavailable 0). ``rollout_reads`` makes a rollout report progress for that many
reads before it is complete. ``inject(status, ...)`` scripts API errors; ``requests`` records
every call in order, and ``events`` notes when a rollout was reported complete.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.doubles.http import ApiDouble, DoubleHandler, Req

Obj = dict[str, Any]
TOKEN = "dockyard-double-token"
REVISION = "deployment.kubernetes.io/revision"

KINDS = {
    ("", "v1", "pods"): "Pod",
    ("", "v1", "services"): "Service",
    ("apps", "v1", "deployments"): "Deployment",
    ("apps", "v1", "replicasets"): "ReplicaSet",
    ("networking.k8s.io", "v1", "networkpolicies"): "NetworkPolicy",
    ("discovery.k8s.io", "v1", "endpointslices"): "EndpointSlice",  # read-only, kept by the "controller"
}


@dataclass
class Outcome:
    """What a container does: ``exit_code`` None keeps running; ``output`` is its log."""

    exit_code: int | None
    output: str = ""


def _expand(word: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), word)


def _test(args: list[str]) -> bool:
    if len(args) == 3 and args[1] in ("=", "==", "!="):
        return (args[0] == args[2]) == (args[1] != "!=")
    if len(args) == 2 and args[0] in ("-n", "-z"):
        return bool(args[1]) == (args[0] == "-n")
    return bool(args and args[0])


def shell_program(argv: list[str] | None, env: dict[str, str]) -> Outcome:
    """A tiny interpreter for the commands tests give containers."""
    if not argv:
        return Outcome(None)
    if Path(argv[0]).name in ("sh", "bash", "ash") and len(argv) >= 3 and argv[1] == "-c":
        script = argv[2]
    else:
        script = shlex.join(argv)
    out: list[str] = []
    for statement in re.split(r";|&&|\n", script):
        words = shlex.split(statement.strip()) if statement.strip() else []
        if not words:
            continue
        cmd, args = Path(words[0]).name, [_expand(w, env) for w in words[1:]]
        if cmd == "echo":
            out.append(" ".join(args))
        elif cmd == "exit":
            return Outcome(int(args[0]) if args else 0, "".join(f"{line}\n" for line in out))
        elif cmd == "false":
            return Outcome(1, "".join(f"{line}\n" for line in out))
        elif cmd == "true":
            continue
        elif cmd in ("test", "["):
            if not _test(args[:-1] if cmd == "[" else args):
                return Outcome(1, "".join(f"{line}\n" for line in out))
        elif cmd in ("env", "printenv"):
            if args:
                out.extend(env[a] for a in args if a in env)
            else:
                out.extend(f"{k}={v}" for k, v in sorted(env.items()))
        elif cmd == "sleep" and args and args[0].isdigit() and int(args[0]) < 5:
            continue
        else:  # a server, a long sleep, a loop: keeps running
            return Outcome(None, "".join(f"{line}\n" for line in out))
    return Outcome(0, "".join(f"{line}\n" for line in out))


def status_obj(code: int, reason: str, message: str, kind: str = "", name: str = "") -> Obj:
    obj: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}
    if kind or name:
        obj["details"] = {"name": name, "kind": kind}
    return obj


class ApiFailure(Exception):
    def __init__(self, code: int, reason: str, message: str, kind: str = "", name: str = "") -> None:
        super().__init__(message)
        self.body = status_obj(code, reason, message, kind, name)
        self.code = code


def _match_selector(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = re.split(r"==?", term, maxsplit=1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (what strategic merge does for the maps the driver patches)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


#: ``omitempty`` scalar fields the driver sends, whose zero the API server stores as absent
#: (``replicas`` is a pointer: its 0 is kept)
OMITTED_ZEROS = {"minReadySeconds"}


def _drop_empty_lists(obj: Any) -> Any:
    """As the API server stores an object: a list field that is empty (``env: []``) is
    ``omitempty`` in the Go types, so it is absent when read back, as is a zero
    ``minReadySeconds``. Empty objects stay: ``podSelector: {}`` and ``namespaceSelector: {}``
    mean "everything"."""
    if isinstance(obj, dict):
        return {k: _drop_empty_lists(v) for k, v in obj.items()
                if v != [] and not (k in OMITTED_ZEROS and v == 0)}
    if isinstance(obj, list):
        return [_drop_empty_lists(v) for v in obj]
    return obj


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class K8sApiDouble(ApiDouble):
    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[tuple[str, str, str], Obj] = {}  # (kind, namespace, name)
        self.history: list[tuple[int, str, str, Obj]] = []  # (rv, kind, type, object)
        self.rv = 100
        self.events: list[tuple[int, str, str]] = []  # (request seq, what, name)
        self.program: Callable[[list[str] | None, dict[str, str]], Outcome] = shell_program
        #: images whose containers exit 1 at once, whatever their command
        self.crashing_images: set[str] = set()
        self.missing_images: set[str] = set()
        self.rollout_reads = 1
        self.pending_reads: dict[tuple[str, str], int] = {}
        self.pod_logs: dict[tuple[str, str], str] = {}
        self.next_ip = 10
        self.next_cluster_ip = 10
        self.kubeconfig: Path | None = None
        #: background deletions: (requests left, namespace, owner uid), collected as the real
        #: garbage collector does, after the delete has returned
        self.gc_pending: list[tuple[int, str, str]] = []
        self.gc_delay = 3
        #: when each Deployment's new pods became Ready: they count as available only
        #: ``minReadySeconds`` later, as the real controller counts them
        self.ready_since: dict[tuple[str, str], float] = {}

    # ---- control ---------------------------------------------------------------------
    def start(self, directory: Path) -> K8sApiDouble:
        port = self.serve(_Handler)
        self.kubeconfig = directory / "kubeconfig"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "double",
            "clusters": [{"name": "double", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "double", "user": {"token": TOKEN}}],
            "contexts": [{"name": "double", "context": {"cluster": "double", "user": "double"}}],
        }))
        return self

    def inject(self, status: int, method: str | None = None, path: str | None = None, times: int = 1,
               reason: str = "") -> None:
        """The next ``times`` requests matching ``method`` and the ``path`` regex get ``status``."""
        default = {403: "Forbidden", 409: "Conflict", 500: "InternalError", 503: "ServiceUnavailable",
                   429: "TooManyRequests"}.get(status, "Unknown")
        self.add_fault(status, method, path, times, reason or default)

    def get(self, kind: str, name: str, namespace: str = "default") -> Obj | None:
        with self.lock:
            obj = self.objects.get((kind, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def list(self, kind: str, namespace: str = "default", selector: str = "") -> list[Obj]:
        with self.lock:
            return [copy.deepcopy(o) for (k, ns, _), o in sorted(self.objects.items())
                    if k == kind and ns == namespace and _match_selector(o["metadata"].get("labels") or {}, selector)]

    def endpoint_slices(self, ns: str, selector: str) -> list[Obj]:
        """What the EndpointSlice controller keeps: one slice per Service, its ready pods."""
        out = []
        for (kind, o_ns, name), svc in sorted(self.objects.items()):
            if kind != "Service" or o_ns != ns:
                continue
            labels = {"kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "double"}
            if not _match_selector(labels, selector):
                continue
            wanted = ",".join(f"{k}={v}" for k, v in (svc["spec"].get("selector") or {}).items())
            endpoints = []
            for pod in self.list("Pod", ns, wanted) if wanted else []:
                ready = any(c["type"] == "Ready" and c["status"] == "True"
                            for c in pod.get("status", {}).get("conditions") or [])
                if pod.get("status", {}).get("podIP"):
                    endpoints.append({"addresses": [pod["status"]["podIP"]], "conditions": {"ready": ready},
                                      "targetRef": {"kind": "Pod", "name": pod["metadata"]["name"],
                                                    "namespace": ns}})
            out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {"name": f"{name}-double", "namespace": ns, "labels": labels},
                        "addressType": "IPv4", "endpoints": endpoints,
                        "ports": [{"name": p.get("name"), "port": int(p.get("targetPort", p["port"])),
                                   "protocol": p.get("protocol", "TCP")} for p in svc["spec"].get("ports") or []]})
        return out

    def crash_pod(self, name: str, namespace: str = "default", exit_code: int = 1) -> None:
        """A running pod's container dies and is restarted (for the event watch)."""
        with self.lock:
            pod = self.objects[("Pod", namespace, name)]
            cs = pod["status"]["containerStatuses"][0]
            cs["restartCount"] += 1
            cs["lastState"] = {"terminated": {"exitCode": exit_code, "reason": "Error", "finishedAt": _now()}}
            self._store("Pod", pod, "MODIFIED")

    # ---- storage ---------------------------------------------------------------------
    def _store(self, kind: str, obj: Obj, event: str) -> Obj:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        key = (kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
        if event == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        self.history.append((self.rv, kind, event, copy.deepcopy(obj)))
        self.changed.notify_all()
        return obj

    def _new_meta(self, kind: str, ns: str, obj: Obj) -> None:
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = ns
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta.setdefault("labels", {})
        if kind == "Deployment":
            meta["generation"] = 1

    def create(self, kind: str, ns: str, body: Obj) -> Obj:
        name = (body.get("metadata") or {}).get("name")
        if not name:
            raise ApiFailure(422, "Invalid", f"{kind} is invalid: metadata.name: Required value", kind)
        if (kind, ns, name) in self.objects:
            raise ApiFailure(409, "AlreadyExists", f'{kind.lower()}s "{name}" already exists', kind, name)
        obj = _drop_empty_lists(copy.deepcopy(body))
        obj.pop("status", None)
        self._new_meta(kind, ns, obj)
        if kind == "Service" and obj["spec"].get("clusterIP") != "None":
            self.next_cluster_ip += 1
            obj["spec"]["clusterIP"] = f"10.96.0.{self.next_cluster_ip}"
            obj["spec"]["clusterIPs"] = [obj["spec"]["clusterIP"]]
        self._store(kind, obj, "ADDED")
        if kind == "Deployment":
            self._reconcile(ns, name)
        if kind == "Pod" and not (obj["metadata"].get("ownerReferences")):
            self._run_pod(ns, name)
        return self.objects[(kind, ns, name)]

    def replace(self, kind: str, ns: str, name: str, body: Obj) -> Obj:
        live = self.objects.get((kind, ns, name))
        if live is None:
            raise ApiFailure(404, "NotFound", f'{kind.lower()}s "{name}" not found', kind, name)
        sent_rv = (body.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != live["metadata"]["resourceVersion"]:
            raise ApiFailure(409, "Conflict", f'Operation cannot be fulfilled on {kind.lower()}s "{name}": '
                             "the object has been modified; please apply your changes to the latest version "
                             "and try again", kind, name)
        if kind == "Service" and body.get("spec", {}).get("clusterIP") not in (None, live["spec"].get("clusterIP")):
            raise ApiFailure(422, "Invalid", f'Service "{name}" is invalid: spec.clusterIP: field is immutable',
                             kind, name)
        obj = _drop_empty_lists(copy.deepcopy(body))
        for keep in ("uid", "creationTimestamp", "generation"):
            if keep in live["metadata"]:
                obj["metadata"][keep] = live["metadata"][keep]
        obj["metadata"]["namespace"] = ns
        obj["status"] = live.get("status", {})
        if kind == "Service":
            obj["spec"]["clusterIP"] = live["spec"].get("clusterIP")
            obj["spec"]["clusterIPs"] = live["spec"].get("clusterIPs")
        return self._write_existing(kind, ns, name, live, obj)

    def patch(self, kind: str, ns: str, name: str, patch: Obj) -> Obj:
        live = self.objects.get((kind, ns, name))
        if live is None:
            raise ApiFailure(404, "NotFound", f'{kind.lower()}s "{name}" not found', kind, name)
        obj = merge_patch(live, patch)
        return self._write_existing(kind, ns, name, live, obj)

    def _write_existing(self, kind: str, ns: str, name: str, live: Obj, obj: Obj) -> Obj:
        spec_changed = obj.get("spec") != live.get("spec")
        if kind == "Deployment":
            if obj["spec"]["selector"] != live["spec"]["selector"]:
                raise ApiFailure(422, "Invalid", f'Deployment.apps "{name}" is invalid: spec.selector: '
                                 "field is immutable", kind, name)
            if spec_changed:
                obj["metadata"]["generation"] = live["metadata"].get("generation", 1) + 1
            # the controller owns the revision annotation
            rev = (live["metadata"].get("annotations") or {}).get(REVISION)
            if rev:
                obj["metadata"].setdefault("annotations", {})[REVISION] = rev
        self._store(kind, obj, "MODIFIED")
        if kind == "Deployment" and spec_changed:
            self._reconcile(ns, name)
        return self.objects[(kind, ns, name)]

    def delete(self, kind: str, ns: str, name: str, propagation: str = "") -> Obj:
        """As the real API: ``Foreground`` removes the dependents before the owner (at once,
        here); the default, ``Background`` for a Deployment or ReplicaSet, removes the owner
        and leaves its dependents to a garbage collector that runs a few requests later."""
        live = self.objects.get((kind, ns, name))
        if live is None:
            raise ApiFailure(404, "NotFound", f'{kind.lower()}s "{name}" not found', kind, name)
        uid = live["metadata"]["uid"]
        if propagation == "Foreground":
            self._collect(ns, uid, "Foreground")
        self._store(kind, live, "DELETED")
        if propagation not in ("Foreground", "Orphan"):
            self.gc_pending.append((self.gc_delay, ns, uid))
        return self._deleted_answer(kind, name, live)

    def _collect(self, ns: str, uid: str, propagation: str) -> None:
        """Delete every object ``uid`` owns (and what they own)."""
        for (k, o_ns, o_name), o in list(self.objects.items()):
            owned = o_ns == ns and any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
            if owned and (k, o_ns, o_name) in self.objects:
                self.delete(k, o_ns, o_name, propagation)

    def run_gc(self) -> None:
        """One garbage-collector tick: called before each request is served."""
        due = [(n - 1, ns, uid) for n, ns, uid in self.gc_pending]
        self.gc_pending = [d for d in due if d[0] > 0]
        for _n, ns, uid in [d for d in due if d[0] <= 0]:
            self._collect(ns, uid, "Background")

    @staticmethod
    def _deleted_answer(kind: str, name: str, live: Obj) -> Obj:
        uid = live["metadata"]["uid"]
        if kind in ("Pod", "Service"):  # these answer with the object itself
            return copy.deepcopy(live)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "kind": kind, "uid": uid}}

    # ---- simulated controllers -------------------------------------------------------
    def _container_outcome(self, spec: Obj) -> tuple[Outcome, str | None]:
        container = spec["containers"][0]
        if container["image"] in self.missing_images:
            return Outcome(None), "ImagePullBackOff"
        if container["image"] in self.crashing_images:
            return Outcome(1, f"{container['image']}: crashed on start\n"), None
        env = {e["name"]: e.get("value", "") for e in container.get("env") or []}
        argv = container.get("args") or container.get("command")
        return self.program(list(argv) if argv else None, env), None

    def _pod_body(self, ns: str, name: str, template: Obj, owner: Obj | None) -> Obj:
        meta = copy.deepcopy(template.get("metadata") or {})
        meta["name"] = name
        if owner is not None:
            meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                                        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template["spec"])}

    def _set_pod_status(self, pod: Obj, outcome: Outcome, pull_error: str | None, always: bool) -> None:
        self.next_ip += 1
        container = pod["spec"]["containers"][0]
        cs: Obj = {"name": container["name"], "image": container["image"], "imageID": "", "ready": False,
                   "restartCount": 0, "state": {}}
        status: Obj = {"phase": "Pending", "podIP": f"10.244.0.{self.next_ip}", "startTime": _now(),
                       "containerStatuses": [cs], "conditions": [{"type": "Ready", "status": "False"}]}
        if pull_error:
            message = f'Back-off pulling image "{container["image"]}"'
            cs["state"] = {"waiting": {"reason": pull_error, "message": message}}
        elif outcome.exit_code is None:
            cs["state"] = {"running": {"startedAt": _now()}}
            cs["ready"] = True
            status["phase"] = "Running"
            status["conditions"] = [{"type": "Ready", "status": "True"}]
        elif always:
            cs["restartCount"] = 3
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": "back-off 40s restarting failed container"}}
            cs["lastState"] = {"terminated": {"exitCode": outcome.exit_code, "reason": "Error"}}
            status["phase"] = "Running"
        else:
            cs["state"] = {"terminated": {"exitCode": outcome.exit_code,
                                          "reason": "Completed" if outcome.exit_code == 0 else "Error"}}
            status["phase"] = "Succeeded" if outcome.exit_code == 0 else "Failed"
        pod["status"] = status
        self.pod_logs[(pod["metadata"]["namespace"], pod["metadata"]["name"])] = outcome.output

    def _run_pod(self, ns: str, name: str) -> None:
        pod = self.objects[("Pod", ns, name)]
        outcome, pull_error = self._container_outcome(pod["spec"])
        self._set_pod_status(pod, outcome, pull_error, always=pod["spec"].get("restartPolicy", "Always") == "Always")
        self._store("Pod", pod, "MODIFIED")

    def _reconcile(self, ns: str, name: str) -> None:
        dep = self.objects[("Deployment", ns, name)]
        template = dep["spec"]["template"]
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        uid = dep["metadata"]["uid"]
        owned = [o for (k, o_ns, _), o in self.objects.items() if k == "ReplicaSet" and o_ns == ns
                 and any(r["uid"] == uid for r in o["metadata"].get("ownerReferences") or [])]
        top = max((int(o["metadata"]["annotations"][REVISION]) for o in owned), default=0)
        current = next((o for o in owned if o["metadata"]["labels"].get("pod-template-hash") == digest), None)
        if current is None:
            rs_template = copy.deepcopy(template)
            rs_template["metadata"].setdefault("labels", {})["pod-template-hash"] = digest
            selector = copy.deepcopy(dep["spec"]["selector"])
            selector["matchLabels"]["pod-template-hash"] = digest
            current = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                       "metadata": {"name": f"{name}-{digest}", "labels": dict(rs_template["metadata"]["labels"]),
                                    "annotations": {REVISION: str(top + 1)},
                                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                         "name": name, "uid": uid, "controller": True}]},
                       "spec": {"replicas": 0, "selector": selector, "template": rs_template}}
            self._new_meta("ReplicaSet", ns, current)
            self._store("ReplicaSet", current, "ADDED")
        elif int(current["metadata"]["annotations"][REVISION]) != top:
            current["metadata"]["annotations"][REVISION] = str(top + 1)
        dep["metadata"].setdefault("annotations", {})[REVISION] = current["metadata"]["annotations"][REVISION]
        want = int(dep["spec"].get("replicas", 1))
        outcome, pull_error = self._container_outcome(template["spec"])
        healthy = outcome.exit_code is None and pull_error is None
        new_count = want if healthy else min(want, 1)
        self._scale_rs(ns, current, new_count, outcome, pull_error)
        old_available = 0
        for rs in owned:
            if rs is current:
                continue
            if healthy:
                self._scale_rs(ns, rs, 0, outcome, None)
            else:
                old_available += rs["spec"]["replicas"]
        status: Obj = {"observedGeneration": dep["metadata"]["generation"], "replicas": new_count + old_available,
                       "updatedReplicas": new_count}
        if healthy:
            status.update(readyReplicas=want, availableReplicas=want, conditions=[
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": f'ReplicaSet "{current["metadata"]["name"]}" has successfully progressed.'}])
        else:
            status.update(readyReplicas=old_available, availableReplicas=old_available,
                          unavailableReplicas=new_count, conditions=[
                              {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                               "message": f'ReplicaSet "{current["metadata"]["name"]}" has timed out progressing.'}])
        dep["status"] = status
        self.pending_reads[(ns, name)] = self.rollout_reads
        self.ready_since[(ns, name)] = time.monotonic()
        self._store("Deployment", dep, "MODIFIED")

    def _scale_rs(self, ns: str, rs: Obj, count: int, outcome: Outcome, pull_error: str | None) -> None:
        uid = rs["metadata"]["uid"]
        pods = sorted((o for (k, o_ns, _), o in self.objects.items() if k == "Pod" and o_ns == ns
                       and any(r["uid"] == uid for r in o["metadata"].get("ownerReferences") or [])),
                      key=lambda p: p["metadata"]["name"])
        for pod in pods[count:]:
            self._store("Pod", pod, "DELETED")
        for _ in range(count - len(pods)):
            pod_name = f"{rs['metadata']['name']}-{uuid.uuid4().hex[:5]}"
            pod = self._pod_body(ns, pod_name, rs["spec"]["template"], rs)
            self._new_meta("Pod", ns, pod)
            self._set_pod_status(pod, outcome, pull_error, always=True)
            self._store("Pod", pod, "ADDED")
        rs["spec"]["replicas"] = count
        rs["status"] = {"replicas": count, "observedGeneration": 1}
        self._store("ReplicaSet", rs, "MODIFIED")

    def read_deployment_for_client(self, ns: str, name: str) -> Obj:
        """What a GET returns: mid-rollout for the first ``rollout_reads`` reads."""
        dep = copy.deepcopy(self.objects[("Deployment", ns, name)])
        left = self.pending_reads.get((ns, name), 0)
        min_ready = int(dep["spec"].get("minReadySeconds") or 0)
        if left <= 0 and time.monotonic() - self.ready_since.get((ns, name), 0.0) < min_ready:
            status = dep.get("status") or {}  # Ready, but not for minReadySeconds yet: not available
            dep["status"] = {**status, "availableReplicas": max(0, int(status.get("replicas", 0))
                                                                - int(status.get("updatedReplicas", 0))),
                             "conditions": [{"type": "Progressing", "status": "True",
                                             "reason": "ReplicaSetUpdated"}]}
            return dep
        if left > 0:
            self.pending_reads[(ns, name)] = left - 1
            status = dep.get("status") or {}
            dep["status"] = {**status, "updatedReplicas": max(0, int(status.get("updatedReplicas", 0)) - 1),
                             "availableReplicas": max(0, int(status.get("availableReplicas", 0)) - 1),
                             "conditions": [{"type": "Progressing", "status": "True",
                                             "reason": "ReplicaSetUpdated"}]}
        return dep


class _Handler(DoubleHandler):
    api: K8sApiDouble

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, path: str) -> tuple[str, str | None, str | None, str | None] | None:
        m = re.fullmatch(r"/(?:api/(v1)|apis/([^/]+)/([^/]+))/namespaces/([^/]+)/([^/]+)(?:/([^/]+))?(?:/([^/]+))?",
                         path)
        if not m:
            return None
        group, version = ("", "v1") if m.group(1) else (m.group(2), m.group(3))
        kind = KINDS.get((group, version, m.group(5)))
        if kind is None:
            return None
        return kind, m.group(4), m.group(6), m.group(7)

    def _handle(self, method: str) -> None:
        api = self.api
        path, raw_query, body, req = self.read_request(method)
        query = {k: v[-1] for k, v in raw_query.items()}
        with api.lock:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                req.status = 401
                self._send(401, status_obj(401, "Unauthorized", "Unauthorized"))
                return
            fault = api.take_fault(method, path)
            if fault is not None:
                req.status = fault.status
                message = f"injected {fault.status} {fault.message} for {method} {path}"
                self._send(fault.status, status_obj(fault.status, fault.message, message))
                return
        route = self._route(path)
        if route is None:
            req.status = 404
            message = f"the server could not find the requested resource ({path})"
            self._send(404, status_obj(404, "NotFound", message))
            return
        kind, ns, name, sub = route
        try:
            if method == "GET" and name is None and query.get("watch") in ("true", "1"):
                req.status = 200
                self._watch(kind, ns, query)
                return
            code, out = self._dispatch(method, kind, ns, name, sub, query, body, req)
        except ApiFailure as exc:
            req.status = exc.code
            self._send(exc.code, exc.body)
            return
        req.status = code
        if isinstance(out, str):
            self._send(code, out.encode(), "text/plain")
        else:
            self._send(code, out)

    def _dispatch(self, method: str, kind: str, ns: str, name: str | None, sub: str | None,
                  query: dict[str, str], body: Any, req: Req) -> tuple[int, Any]:
        api = self.api
        with api.lock:
            api.run_gc()
            if kind == "EndpointSlice" and (method != "GET" or name is not None):
                raise ApiFailure(405, "MethodNotAllowed", "endpoint slices are listed only, here")
            if method == "POST" and name is None:
                return 201, api.create(kind, ns, body)
            if name is None and method == "GET":
                selector = query.get("labelSelector", "")
                items = api.endpoint_slices(ns, selector) if kind == "EndpointSlice" else api.list(kind, ns, selector)
                return 200, {"kind": f"{kind}List", "apiVersion": "v1",
                             "metadata": {"resourceVersion": str(api.rv)}, "items": items}
            assert name is not None
            if method == "GET" and sub == "log":
                if ("Pod", ns, name) not in api.objects:
                    raise ApiFailure(404, "NotFound", f'pods "{name}" not found', "Pod", name)
                text = api.pod_logs.get((ns, name), "")
                tail = query.get("tailLines")
                if tail and tail.isdigit():
                    text = "".join(text.splitlines(keepends=True)[-int(tail):]) if int(tail) else ""
                return 200, text
            if method == "GET":
                if (kind, ns, name) not in api.objects:
                    raise ApiFailure(404, "NotFound", f'{kind.lower()}s "{name}" not found', kind, name)
                if kind == "Deployment":
                    dep = api.read_deployment_for_client(ns, name)
                    from dockyard.schedulers.kubernetes.driver import rollout_state

                    if rollout_state(dep)[0] == "complete":
                        api.events.append((req.seq, "rollout-complete", name))
                    return 200, dep
                return 200, copy.deepcopy(api.objects[(kind, ns, name)])
            if method == "PUT":
                return 200, api.replace(kind, ns, name, body)
            if method == "PATCH":
                return 200, api.patch(kind, ns, name, body)
            if method == "DELETE":
                policy = query.get("propagationPolicy") or (body or {}).get("propagationPolicy") or ""
                return 200, api.delete(kind, ns, name, policy)
        raise ApiFailure(405, "MethodNotAllowed", f"{method} is not supported here")

    def _watch(self, kind: str, ns: str, query: dict[str, str]) -> None:
        api = self.api
        selector = query.get("labelSelector", "")
        timeout = float(query.get("timeoutSeconds") or 300)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with api.lock:
            if query.get("resourceVersion"):
                cursor = int(query["resourceVersion"])
                backlog = []
            else:  # "most recent": synthetic ADDED for what exists, then changes
                cursor = api.rv
                backlog = [("ADDED", o) for o in api.list(kind, ns, selector)]
        deadline = time.monotonic() + timeout
        try:
            for etype, obj in backlog:
                self._chunk({"type": etype, "object": obj})
            while time.monotonic() < deadline:
                with api.lock:
                    fresh = [(rv, t, o) for rv, k, t, o in api.history if rv > cursor and k == kind
                             and o["metadata"]["namespace"] == ns
                             and _match_selector(o["metadata"].get("labels") or {}, selector)]
                    if api.history:
                        cursor = max(cursor, api.history[-1][0])
                    if not fresh:
                        if api.stopping:
                            break
                        api.changed.wait(0.2)
                for _rv, etype, obj in fresh:
                    self._chunk({"type": etype, "object": obj})
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return
        self.close_connection = True


@dataclass
class Started:
    double: K8sApiDouble
    kubeconfig: Path
    extra: dict[str, Any] = field(default_factory=dict)
