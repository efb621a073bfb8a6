"""A stateful HTTP double of the Nomad HTTP API subset the nomad driver uses.

The real python-nomad client talks to it over HTTP: jobs register/list/read, versions,
revert, deregister (with purge), allocations, the job's deployment, evaluations,
deployments (read, allocations, fail, promote), Nomad-native service registrations
(``/v1/job/:id/services``), allocation logs (``/v1/client/fs/logs``), allocation restart
and the event stream (``/v1/event/stream``, newline-delimited JSON with ``{}`` heartbeats).
Errors are Nomad's plain-text bodies with its status codes.

Scheduling is simulated synchronously on every register: a new job version gets allocations
per task group; what a task does is decided by ``program(argv, env)`` (the same little
shell as the Kubernetes double: anything it does not know keeps running). A service job's
version gets a deployment that is ``running`` for ``deploy_reads`` reads and then
``successful`` (or, with canaries that are not auto-promoted, ``running`` until promoted
or failed), or ``failed`` when a task exits; on failure the old allocations keep
running and, with ``Update.AutoRevert`` and ``auto_revert`` on, the double reverts to the
last stable version as Nomad does. ``inject(status, ...)`` scripts errors; ``requests``
records every call in order.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.doubles.http import ApiDouble, DoubleHandler, Req
from tests.doubles.k8s_api import Outcome, shell_program

Obj = dict[str, Any]


class Failure(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def _strip_count(group: Obj) -> str:
    """A group's spec for "is this a destructive change": Nomad updates the count and the
    update block in place."""
    g = copy.deepcopy(group)
    g.pop("Count", None)
    g.pop("Update", None)
    return json.dumps(g, sort_keys=True)


class NomadApiDouble(ApiDouble):
    def __init__(self) -> None:
        super().__init__()
        self.index = 1000
        self.jobs: dict[str, Obj] = {}
        self.versions: dict[str, list[Obj]] = {}
        self.allocs: dict[str, Obj] = {}
        self.evals: dict[str, Obj] = {}
        self.deployments: dict[str, Obj] = {}
        self.deploy_left: dict[str, int] = {}
        #: deployments whose healthy canaries wait for a manual promotion -> the allocations
        #: they replace, which keep running until then
        self.awaiting: dict[str, list[str]] = {}
        self.logs: dict[tuple[str, str, str], str] = {}
        self.events: list[Obj] = []
        self.program: Callable[[list[str] | None, dict[str, str]], Outcome] = shell_program
        #: images whose containers exit 1 at once, whatever their command
        self.crashing_images: set[str] = set()
        self.deploy_reads = 1
        self.auto_revert = True
        self.token: str | None = None
        self.next_port = 20000
        self.next_ip = 1
        self.address = ""
        #: every answer, in order: (the request, status, Content-Type, decoded body)
        self.responses: list[tuple[Req, int, str, Any]] = []
        #: the request headers, by ``Req.seq`` (the spec check reads X-Nomad-Token)
        self.headers: dict[int, dict[str, str]] = {}

    # ---- control ---------------------------------------------------------------------
    def start(self) -> NomadApiDouble:
        self.address = f"http://127.0.0.1:{self.serve(_Handler)}"
        return self

    def inject(self, status: int, method: str | None = None, path: str | None = None, times: int = 1,
               text: str = "") -> None:
        self.add_fault(status, method, path, times, text or {
            403: "Permission denied", 409: "conflict", 500: "rpc error: internal error",
            503: "No cluster leader"}.get(status, "error"))

    def live_allocs(self, job_id: str) -> list[Obj]:
        with self.lock:
            return [copy.deepcopy(a) for a in self.allocs.values()
                    if a["JobID"] == job_id and a["DesiredStatus"] == "run"]

    def crash_alloc(self, alloc_id: str, exit_code: int = 1) -> None:
        """A running task dies and Nomad restarts it (for the event stream)."""
        with self.lock:
            alloc = self.allocs[alloc_id]
            for state in alloc["TaskStates"].values():
                state["Restarts"] += 1
                state["Events"].append({"Type": "Terminated", "Details": {"exit_code": str(exit_code)}})
                state["Events"].append({"Type": "Restarting", "Details": {}})
            self._touch_alloc(alloc)

    # ---- state -----------------------------------------------------------------------
    def _bump(self) -> int:
        self.index += 1
        return self.index

    def _touch_alloc(self, alloc: Obj) -> None:
        idx = self._bump()
        alloc["ModifyIndex"] = idx
        payload = copy.deepcopy(alloc)
        payload["Job"] = copy.deepcopy(self._version(alloc["JobID"], alloc["JobVersion"]))
        self.events.append({"Index": idx, "Events": [{
            "Topic": "Allocation", "Type": "AllocationUpdated", "Key": alloc["ID"], "Namespace": "default",
            "Index": idx, "Payload": {"Allocation": payload}}]})
        self.changed.notify_all()

    def _version(self, job_id: str, version: int) -> Obj:
        return next(v for v in self.versions[job_id] if v["Version"] == version)

    def _eval(self, job_id: str, trigger: str) -> str:
        eid = str(uuid.uuid4())
        self.evals[eid] = {"ID": eid, "JobID": job_id, "Status": "complete", "TriggeredBy": trigger,
                           "Type": "service", "FailedTGAllocs": None, "CreateIndex": self._bump()}
        return eid

    def register(self, body: Obj) -> Obj:
        job = copy.deepcopy((body or {}).get("Job") or {})
        jid = job.get("ID")
        if not jid or not job.get("TaskGroups"):
            raise Failure(400, "1 error occurred:\n\t* Missing job ID or task groups\n\n")
        for g in job["TaskGroups"]:
            if not g.get("Name") or not g.get("Tasks") or any(t.get("Driver") != "docker" for t in g["Tasks"]):
                raise Failure(400, f"Task group {g.get('Name')!r} is invalid: every task needs the docker driver")
        job.setdefault("Type", "service")
        job.setdefault("Namespace", "default")
        return self._install(job, "job-register")

    def _install(self, job: Obj, trigger: str, reverting_to: int | None = None) -> Obj:
        jid = job["ID"]
        current = self.jobs.get(jid)
        eid = self._eval(jid, trigger)
        if current is not None and not current.get("Stop") and \
                _spec(current) == _spec(job) and reverting_to is None:
            return {"EvalID": eid, "EvalCreateIndex": self.index, "JobModifyIndex": current["JobModifyIndex"],
                    "Warnings": "", "Index": self.index}
        version = (max(v["Version"] for v in self.versions[jid]) + 1) if jid in self.versions else 0
        job.update(Version=version, Stable=False, Status="running", Stop=False, JobModifyIndex=self._bump(),
                   SubmitTime=time.time_ns())
        self.versions.setdefault(jid, []).append(copy.deepcopy(job))
        self.jobs[jid] = job
        self._schedule(job, current)
        return {"EvalID": eid, "EvalCreateIndex": self.index, "JobModifyIndex": job["JobModifyIndex"],
                "Warnings": "", "Index": self.index}

    def _outcome(self, task: Obj) -> Outcome:
        cfg = task.get("Config") or {}
        if cfg.get("image") in self.crashing_images:
            return Outcome(1, f"{cfg['image']}: crashed on start\n")
        argv = [cfg["command"], *(cfg.get("args") or [])] if cfg.get("command") else None
        return self.program(argv, dict(task.get("Env") or {}))

    def _new_alloc(self, job: Obj, group: Obj, index: int, outcome: Outcome, batch: bool) -> Obj:
        aid = str(uuid.uuid4())
        task = group["Tasks"][0]["Name"]
        running = outcome.exit_code is None
        if running:
            state = {"State": "running", "Failed": False, "Restarts": 0, "Events": [{"Type": "Started"}]}
            status = "running"
        else:
            attempts = 0 if batch else int((group.get("RestartPolicy") or {}).get("Attempts") or 0)
            state = {"State": "dead", "Failed": outcome.exit_code != 0, "Restarts": attempts,
                     "Events": [{"Type": "Started"}, {"Type": "Terminated",
                                                      "Details": {"exit_code": str(outcome.exit_code)}}]}
            status = "complete" if outcome.exit_code == 0 and batch else "failed"
        alloc = {"ID": aid, "Name": f"{job['ID']}.{group['Name']}[{index}]", "JobID": job["ID"],
                 "JobVersion": job["Version"], "TaskGroup": group["Name"], "ClientStatus": status,
                 "DesiredStatus": "run", "NodeID": "node-1", "TaskStates": {task: state},
                 "CreateIndex": self._bump(), "DeploymentStatus": None, "Ports": {}}
        if not batch:
            alloc["DeploymentStatus"] = {"Healthy": running}
        self.logs[(aid, task, "stdout")] = outcome.output
        self.logs[(aid, task, "stderr")] = "" if running else f"exit status {outcome.exit_code}\n"
        self.next_ip += 1
        for net in group.get("Networks") or []:
            for port in net.get("DynamicPorts") or []:
                self.next_port += 1
                alloc["Ports"][port["Label"]] = {"host": self.next_port, "to": port["To"],
                                                 "container_ip": f"172.18.0.{self.next_ip}"}
        self.allocs[aid] = alloc
        self._touch_alloc(alloc)
        return alloc

    def _stop_alloc(self, alloc: Obj) -> None:
        alloc["DesiredStatus"] = "stop"
        if alloc["ClientStatus"] == "running":
            alloc["ClientStatus"] = "complete"
        self._touch_alloc(alloc)

    def _group_spec(self, job_id: str, version: int, group: str) -> str | None:
        try:
            spec = self._version(job_id, version)
        except StopIteration:
            return None
        found = next((g for g in spec["TaskGroups"] if g["Name"] == group), None)
        return _strip_count(found) if found else None

    def _schedule(self, job: Obj, previous: Obj | None) -> None:
        """Allocations whose group spec is unchanged are updated in place (only the count
        moves); otherwise new allocations (canaries) start beside the old ones, which stop
        only when every new one is healthy."""
        batch = job["Type"] == "batch"
        healthy_all = True
        manual = False  # a group's canaries wait for POST /v1/deployment/promote
        stats: dict[str, Obj] = {}
        new_by_group: dict[str, list[Obj]] = {}
        replaced: list[Obj] = []
        for group in job["TaskGroups"]:
            name = group["Name"]
            spec = _strip_count(group)
            live = sorted((a for a in self.allocs.values() if a["JobID"] == job["ID"] and a["TaskGroup"] == name
                           and a["DesiredStatus"] == "run"), key=lambda a: a["Name"])
            same = [a for a in live if a["ClientStatus"] == "running"
                    and self._group_spec(job["ID"], a["JobVersion"], name) == spec]
            other = [a for a in live if a not in same]
            count = int(group.get("Count", 1))
            for alloc in same[count:]:
                self._stop_alloc(alloc)
            for alloc in same[:count]:
                alloc["JobVersion"] = job["Version"]
                self._touch_alloc(alloc)
            outcome = self._outcome(group["Tasks"][0])
            used = {int(a["Name"].rsplit("[", 1)[1].rstrip("]")) for a in same[:count]}
            free = [i for i in range(count + len(live)) if i not in used]
            fresh = [self._new_alloc(job, group, free[k], outcome, batch) for k in range(count - len(same[:count]))]
            new_by_group[name] = fresh
            healthy = outcome.exit_code is None
            if fresh and not healthy:
                healthy_all = False
            update = group.get("Update") or {}
            # canaries are placed only when a version replaces running allocations, as Nomad does
            canaries = bool(other and fresh) and int(update.get("Canary") or 0) > 0
            waits = canaries and update.get("AutoPromote") is not True
            manual = manual or waits
            stats[name] = {"DesiredTotal": count, "DesiredCanaries": len(fresh) if canaries else 0,
                           "PlacedCanaries": [a["ID"] for a in fresh] if canaries else [],
                           "PlacedAllocs": len(fresh), "HealthyAllocs": len(fresh) if healthy else 0,
                           "UnhealthyAllocs": 0 if healthy else len(fresh), "Promoted": healthy and not waits,
                           "AutoRevert": bool(update.get("AutoRevert"))}
            replaced.extend(other)
        names = {g["Name"] for g in job["TaskGroups"]}
        for alloc in [a for a in self.allocs.values() if a["JobID"] == job["ID"] and a["DesiredStatus"] == "run"]:
            if alloc["TaskGroup"] not in names:
                self._stop_alloc(alloc)
        if healthy_all and not manual:  # promotion: the old allocations retire
            for alloc in replaced:
                self._stop_alloc(alloc)
        if batch or not any(new_by_group.values()):
            if not batch and healthy_all:
                self._version(job["ID"], job["Version"])["Stable"] = True
                job["Stable"] = True
            return
        did = str(uuid.uuid4())
        dep = {"ID": did, "JobID": job["ID"], "JobVersion": job["Version"], "Namespace": "default",
               "Status": "successful" if healthy_all else "failed",
               "StatusDescription": "Deployment completed successfully" if healthy_all
               else "Failed due to unhealthy allocations", "TaskGroups": stats, "CreateIndex": self._bump()}
        self.deployments[did] = dep
        self.deploy_left[did] = self.deploy_reads
        for allocs in new_by_group.values():
            for alloc in allocs:
                alloc["DeploymentID"] = did
        if healthy_all and manual:
            dep["Status"] = "running"
            dep["StatusDescription"] = "Deployment is running but requires manual promotion"
            self.awaiting[did] = [a["ID"] for a in replaced]
            return
        if healthy_all:
            self._version(job["ID"], job["Version"])["Stable"] = True
            job["Stable"] = True
            return
        auto = (job.get("Update") or {}).get("AutoRevert")
        stable = [v for v in self.versions[job["ID"]] if v["Stable"] and v["Version"] < job["Version"]]
        if auto and self.auto_revert and stable:
            target = max(stable, key=lambda v: v["Version"])
            dep["StatusDescription"] += f" - rolling back to job version {target['Version']}"
            self._install(_spec_copy(target), "deployment-watcher", reverting_to=target["Version"])

    def promote(self, did: str, body: Obj) -> Obj:
        """Nomad's promote: the canaries become the job's allocations, the ones they replace
        stop, and the deployment (and its job version) succeed."""
        dep = self.deployments.get(did)
        if dep is None:
            raise Failure(404, "deployment not found")
        if did not in self.awaiting or dep["Status"] != "running":
            raise Failure(400, f"deployment {did!r} has no canaries to promote" if dep["Status"] == "running"
                          else f"can't promote terminal deployment {did!r}")
        if not body.get("All") and not body.get("Groups"):
            raise Failure(400, "must promote all groups or a subset")
        for alloc_id in self.awaiting.pop(did):
            self._stop_alloc(self.allocs[alloc_id])
        for group in dep["TaskGroups"].values():
            group["Promoted"] = True
        dep.update(Status="successful", StatusDescription="Deployment completed successfully")
        self._version(dep["JobID"], dep["JobVersion"])["Stable"] = True
        if self.jobs[dep["JobID"]]["Version"] == dep["JobVersion"]:
            self.jobs[dep["JobID"]]["Stable"] = True
        return {"EvalID": self._eval(dep["JobID"], "deployment-watcher"), "EvalCreateIndex": self.index,
                "DeploymentModifyIndex": self._bump(), "Index": self.index}

    def fail(self, did: str) -> Obj:
        """Nomad's fail: a deployment waiting for promotion stops its canaries (the allocations
        they would replace kept running) and, with AutoRevert, the job goes back to its
        latest stable version."""
        dep = self.deployments.get(did)
        if dep is None:
            raise Failure(404, "deployment not found")
        if dep["Status"] != "running":
            raise Failure(400, f"can't fail terminal deployment {did!r}")
        dep.update(Status="failed", StatusDescription="Deployment marked as failed")
        reverted: int | None = None
        if self.awaiting.pop(did, None) is not None:
            for alloc in [a for a in self.allocs.values() if a.get("DeploymentID") == did]:
                if alloc["DesiredStatus"] == "run":
                    self._stop_alloc(alloc)
            job = self.jobs[dep["JobID"]]
            stable = [v for v in self.versions[job["ID"]] if v["Stable"] and v["Version"] < dep["JobVersion"]]
            auto = any(g.get("AutoRevert") for g in dep["TaskGroups"].values())
            if auto and self.auto_revert and stable and job["Version"] == dep["JobVersion"]:
                target = max(stable, key=lambda v: v["Version"])
                dep["StatusDescription"] += f" - rolling back to job version {target['Version']}"
                self._install(_spec_copy(target), "deployment-watcher", reverting_to=target["Version"])
                reverted = target["Version"]
        out: Obj = {"EvalID": self._eval(dep["JobID"], "deployment-watcher"), "EvalCreateIndex": self.index,
                    "DeploymentModifyIndex": self._bump(), "Index": self.index}
        if reverted is not None:
            out["RevertedJobVersion"] = reverted
        return out

    def deployment_for_client(self, did: str) -> Obj:
        dep = copy.deepcopy(self.deployments[did])
        if self.deploy_left.get(did, 0) > 0:
            self.deploy_left[did] -= 1
            dep["Status"] = "running"
            dep["StatusDescription"] = "Deployment is running"
            for g in dep["TaskGroups"].values():
                g["HealthyAllocs"] = 0
        return dep

    def revert(self, jid: str, body: Obj) -> Obj:
        if jid not in self.jobs:
            raise Failure(404, "job not found")
        enforce = body.get("EnforcePriorVersion")
        if enforce is not None and int(enforce) != self.jobs[jid]["Version"]:
            raise Failure(400, f"enforcing version {enforce} failed: current version is {self.jobs[jid]['Version']}")
        target = next((v for v in self.versions[jid] if v["Version"] == int(body["JobVersion"])), None)
        if target is None:
            raise Failure(400, f"job {jid} has no version {body['JobVersion']}")
        return self._install(_spec_copy(target), "job-register", reverting_to=target["Version"])

    def deregister(self, jid: str, purge: bool) -> Obj:
        if jid not in self.jobs:
            raise Failure(404, "job not found")
        for alloc in list(self.allocs.values()):
            if alloc["JobID"] == jid and alloc["DesiredStatus"] == "run":
                self._stop_alloc(alloc)
        eid = self._eval(jid, "job-deregister")
        if purge:
            del self.jobs[jid]
            del self.versions[jid]
        else:
            self.jobs[jid]["Stop"] = True
            self.jobs[jid]["Status"] = "dead"
        return {"EvalID": eid, "EvalCreateIndex": self.index, "JobModifyIndex": self.index, "Index": self.index}

    def services(self, jid: str) -> list[Obj]:
        if jid not in self.jobs:
            raise Failure(404, "job not found")
        job = self.jobs[jid]
        regs = []
        for alloc in self.allocs.values():
            if alloc["JobID"] != jid or alloc["ClientStatus"] != "running" or alloc["DesiredStatus"] != "run":
                continue
            group = next((g for g in job["TaskGroups"] if g["Name"] == alloc["TaskGroup"]), None)
            for svc in (group or {}).get("Services") or []:
                port = alloc["Ports"].get(svc["PortLabel"])
                if port is None:
                    continue
                driver = svc.get("AddressMode") == "driver"
                regs.append({"ID": f"_nomad-task-{alloc['ID']}-{svc['Name']}-{svc['PortLabel']}",
                             "ServiceName": svc["Name"], "Namespace": "default", "NodeID": alloc["NodeID"],
                             "Datacenter": "dc1", "JobID": jid, "AllocID": alloc["ID"], "Tags": svc.get("Tags"),
                             "Address": port["container_ip"] if driver else "127.0.0.1",
                             "Port": port["to"] if driver else port["host"]})
        return regs


def _spec(job: Obj) -> str:
    return json.dumps(_spec_copy(job), sort_keys=True)


def _spec_copy(job: Obj) -> Obj:
    j = copy.deepcopy(job)
    for key in ("Version", "Stable", "Status", "Stop", "JobModifyIndex", "SubmitTime"):
        j.pop(key, None)
    return j


class _Handler(DoubleHandler):
    api: NomadApiDouble

    def _send(self, req: Req, code: int, body: Any) -> None:
        req.status = code
        with self.api.lock:
            self.api.headers[req.seq] = dict(self.headers.items())
            self.api.responses.append((req, code, "text/plain" if isinstance(body, str) else "application/json",
                                       copy.deepcopy(body)))
        if isinstance(body, str):
            data, ctype = body.encode(), "text/plain"
        else:
            data, ctype = json.dumps(body).encode(), "application/json"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Nomad-Index", str(self.api.index))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        api = self.api
        path, query, body, req = self.read_request(method)
        with api.lock:
            if api.token is not None and self.headers.get("X-Nomad-Token") != api.token:
                self._send(req, 403, "Permission denied")
                return
            fault = api.take_fault(method, path)
            if fault is not None:
                self._send(req, fault.status, fault.message)
                return
        if method == "GET" and path == "/v1/event/stream":
            req.status = 200
            self._stream(query)
            return
        try:
            with api.lock:
                code, out = self._dispatch(method, path, query, body)
        except Failure as exc:
            self._send(req, exc.code, exc.text)
            return
        self._send(req, code, out)

    def _dispatch(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        api = self.api
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        q = {k: v[-1] for k, v in query.items()}
        if parts == ["jobs"]:
            if method == "POST":
                return 200, api.register(body)
            return 200, [{"ID": j["ID"], "Name": j["Name"], "Type": j["Type"], "Status": j["Status"],
                          "Version": j["Version"], "Stop": j["Stop"]} for j in api.jobs.values()]
        if parts[0] == "job" and len(parts) >= 2:
            jid = parts[1]
            rest = parts[2:]
            if not rest:
                if method == "POST":
                    return 200, api.register(body)
                if method == "DELETE":
                    return 200, api.deregister(jid, q.get("purge") in ("true", "True", "1"))
                if jid not in api.jobs:
                    raise Failure(404, "job not found")
                return 200, copy.deepcopy(api.jobs[jid])
            if jid not in api.versions:
                raise Failure(404, "job not found")
            if rest == ["versions"]:
                return 200, {"Versions": sorted(copy.deepcopy(api.versions[jid]), key=lambda v: -v["Version"]),
                             "Diffs": None}
            if rest == ["allocations"]:
                return 200, [copy.deepcopy(a) for a in api.allocs.values() if a["JobID"] == jid]
            if rest == ["deployment"]:
                deps = [d for d in api.deployments.values() if d["JobID"] == jid]
                if not deps:
                    return 200, None
                return 200, api.deployment_for_client(max(deps, key=lambda d: d["CreateIndex"])["ID"])
            if rest == ["deployments"]:
                return 200, [api.deployment_for_client(d["ID"]) for d in api.deployments.values()
                             if d["JobID"] == jid]
            if rest == ["services"]:
                return 200, api.services(jid)
            if rest == ["revert"] and method == "POST":
                return 200, api.revert(jid, body or {})
        if parts[0] == "evaluation" and len(parts) == 2:
            if parts[1] not in api.evals:
                raise Failure(404, "eval not found")
            return 200, copy.deepcopy(api.evals[parts[1]])
        if parts[0] == "deployment":
            if len(parts) == 3 and parts[1] == "allocations":
                return 200, [copy.deepcopy(a) for a in api.allocs.values() if a.get("DeploymentID") == parts[2]]
            if len(parts) == 3 and parts[1] == "fail" and method == "POST":
                return 200, api.fail(parts[2])
            if len(parts) == 3 and parts[1] == "promote" and method == "POST":
                return 200, api.promote(parts[2], body or {})
            if len(parts) == 2 and parts[1] in api.deployments:
                return 200, api.deployment_for_client(parts[1])
            raise Failure(404, "deployment not found")
        if parts[0] == "allocation" and len(parts) == 2:
            if parts[1] not in api.allocs:
                raise Failure(404, "alloc not found")
            return 200, copy.deepcopy(api.allocs[parts[1]])
        if parts[:3] == ["client", "fs", "logs"] and len(parts) == 4:
            aid = parts[3]
            if aid not in api.allocs:
                raise Failure(404, "Unknown allocation")
            return 200, api.logs.get((aid, q.get("task", ""), q.get("type", "stdout")), "")
        if parts[:2] == ["client", "allocation"] and len(parts) == 4 and parts[3] == "restart":
            alloc = api.allocs.get(parts[2])
            if alloc is None:
                raise Failure(404, "Unknown allocation")
            for state in alloc["TaskStates"].values():
                state["Restarts"] += 1
                state["Events"].append({"Type": "Restarting", "Details": {}})
            api._touch_alloc(alloc)
            return 200, {}
        raise Failure(404, f"Invalid URL: {path}")

    def _stream(self, query: dict[str, list[str]]) -> None:
        api = self.api
        start = int((query.get("index") or ["0"])[-1] or 0)
        topics = {t.split(":")[0] for t in query.get("topic") or []}
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = start - 1
        try:
            while True:
                with api.lock:
                    fresh = [e for e in api.events if e["Index"] > sent and e["Index"] >= start]
                    if not fresh:
                        if api.stopping:
                            break
                        api.changed.wait(0.3)
                        fresh = [e for e in api.events if e["Index"] > sent and e["Index"] >= start]
                if not fresh:
                    self._chunk({})  # heartbeat, as Nomad sends
                    continue
                for msg in fresh:
                    sent = msg["Index"]
                    events = [e for e in msg["Events"] if not topics or e["Topic"] in topics]
                    if events:
                        self._chunk({"Index": msg["Index"], "Events": events})
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return
        self.close_connection = True

