"""The nomad scheduler: render (``render.py``), register, follow, revert.

Deploy:

1. refuse a plan the driver cannot honour (``check_plan``) before any request;
2. register the job (``POST /v1/jobs``);
3. follow the evaluation to ``complete`` (a placement failure fails the deploy), then the
   job version's deployment until its canaries are healthy and wait for promotion (or, with
   no canaries, until it is ``successful``), reporting healthy/desired allocations as
   progress. A job change that needs no deployment (only a count of 0, say) is done once
   its evaluation is;
4. when the deployment fails, Nomad's ``AutoRevert`` normally sends the job back to its last
   stable version; if it has not (auto-revert off, or nothing stable yet), Dockyard reverts
   to the version that ran before this deploy (``POST /v1/job/:id/revert``, guarded by
   ``EnforcePriorVersion``), or deregisters a job that this deploy created. A DeployError
   carries the failing allocation's last log lines;
5. the ``Rollout`` goes back to core, which fires ``core-post-deploy`` with the canaries'
   listeners (the old allocations still serve until then); ``finish`` promotes the
   deployment, which stops the old allocations, and waits until it is ``successful``;
   ``abort`` (a subscriber failed) fails the deployment, so the canaries stop and the job
   reverts as in 4.

Listeners are the job's Nomad-native service registrations (``/v1/job/:id/services``):
address and port, host mode by default, the container's address with ``initial-network``.
``events`` follows ``/v1/event/stream`` (topic Allocation) from the current index.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import queue
import re
import secrets
import sys
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from dockyard.core.errors import DeployError, DockyardError, NotFound
from dockyard.core.hooks import Hooks
from dockyard.core.lookup import computed_float
from dockyard.core.models import DeployPlan, Exposure, Instance, Listener, SchedulerEvent
from dockyard.schedulers.base import Capability, Progress, Rollout, no_progress
from dockyard.schedulers.capabilities import check_plan
from dockyard.schedulers.local_images import LocalEngineImages
from dockyard.schedulers.nomad import render as R
from dockyard.schedulers.nomad.client import PLUGIN, NomadClient, read_settings
from dockyard.schedulers.remote import LogStream, RemoteScheduler
from dockyard.schedulers.retries import retry_settings

log = logging.getLogger("dockyard.nomad")

Obj = dict[str, Any]
_INDEX_RE = re.compile(r"\[(\d+)\]$")


#: in a stopped job's Meta: each group's count before ps:stop, for ps:start
STOPPED_COUNTS = "dockyard.stopped-counts"


class NomadScheduler(LocalEngineImages, RemoteScheduler[str]):
    """A one-off is a batch job, named by its handle (the job id)."""

    name = "nomad"
    plugin = PLUGIN
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.INITIAL_NETWORK,
        Capability.RUN,
        Capability.LOGS,
        Capability.EVENTS,
        Capability.ZERO_DOWNTIME,
        Capability.TCP_LISTENERS,
        Capability.UDP_LISTENERS,
    })

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self._clients: dict[R.NomadSettings, NomadClient] = {}

    def client(self, app: str | None) -> NomadClient:
        settings = read_settings(self.store, app)
        if settings not in self._clients:
            retries, backoff = retry_settings(self.store, PLUGIN)
            self._clients[settings] = NomadClient(settings, retries=retries, backoff=backoff)
        return self._clients[settings]

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    # ---- deploy ------------------------------------------------------------------
    def rollout(self, plan: DeployPlan, hooks: Hooks, progress: Progress = no_progress) -> Rollout:
        check_plan(plan.app, plan.networks, plan.ports, self.name, self.capabilities)
        settings = read_settings(self.store, plan.app)
        job = R.render_job(plan, settings)
        c = self.client(plan.app)
        before = c.maybe(f"read job {plan.app}", c.api.job.get_job, plan.app)
        progress(f"register job {plan.app}", 0, 0)
        registered = c.call(f"register job {plan.app}", c.api.jobs.register_job, job)
        rollout = _NomadRollout(self, plan, c, before)
        try:
            failure, rollout.version, rollout.awaiting = self._follow(plan, c, registered, progress)
            if failure is not None:
                raise DeployError(f"app {plan.app}: deployment failed: {failure}; {rollout.abort()}")
            # with canaries awaiting promotion the old allocations still run: not this release's
            rollout.instances = [i for i in self.status(plan.app)
                                 if rollout.awaiting is None or i.release == plan.release]
        except BaseException:
            rollout.abort()  # an interrupt while following: back to the version that ran (once)
            raise
        return rollout

    def _follow(self, plan: DeployPlan, c: NomadClient, registered: Obj,
                progress: Progress) -> tuple[str | None, int, str | None]:
        """(why it failed or None, the job version this deploy registered, the deployment
        whose healthy canaries wait for promotion or None)."""
        poll = self._poll(plan.app)
        deadline = time.monotonic() + computed_float(self.store, PLUGIN, plan.app, "deploy-timeout", 900.0)
        eval_id = registered.get("EvalID")
        if eval_id:
            while True:
                ev = c.call(f"read evaluation {eval_id}", c.api.evaluation.get_evaluation, eval_id)
                status = ev.get("Status")
                if status in ("failed", "canceled"):
                    return f"evaluation {eval_id} {status}: {ev.get('StatusDescription', '')}", -1, None
                if status == "complete":
                    failed = ev.get("FailedTGAllocs") or {}
                    if failed:
                        return f"could not place task group(s) {', '.join(sorted(failed))}", -1, None
                    break
                if time.monotonic() > deadline:
                    return f"evaluation {eval_id} did not complete in time", -1, None
                time.sleep(poll)
        version = self._registered_version(plan.app, c, registered)
        total = sum(p.scale for p in plan.processes)
        while True:
            deployments = c.maybe(f"list the deployments of {plan.app}", c.api.job.get_deployments, plan.app) or []
            dep = max((d for d in deployments if d.get("JobVersion") == version),
                      key=lambda d: int(d.get("CreateIndex") or 0), default=None)
            if dep is None:
                return None, version, None  # nothing to roll out for this version
            groups = dep.get("TaskGroups") or {}
            healthy = sum(int(g.get("HealthyAllocs") or 0) for g in groups.values())
            status = dep.get("Status")
            progress(f"deployment {dep.get('ID', '')[:8]}: {status}, {healthy} healthy", min(healthy, total), total)
            if status == "successful":
                return None, version, None
            if status in ("failed", "cancelled"):
                return f"{dep.get('StatusDescription') or status}{self._last_lines(c, dep)}", version, None
            if status == "running" and _awaits_promotion(groups):
                return None, version, str(dep["ID"])
            if time.monotonic() > deadline:
                with contextlib.suppress(DockyardError):
                    c.call("fail the deployment", c.api.deployment.fail_deployment, dep["ID"])
                return "the deployment did not become healthy in time", version, None
            time.sleep(poll)

    def _promote(self, plan: DeployPlan, c: NomadClient, deployment: str, progress: Progress) -> None:
        """Promote the healthy canaries (the old allocations stop) and wait until the
        deployment is ``successful``."""
        progress(f"promote deployment {deployment[:8]}", 0, 0)
        c.call(f"promote deployment {deployment}", c.api.deployment.promote_deployment_all, deployment)
        timeout = computed_float(self.store, PLUGIN, plan.app, "deploy-timeout", 900.0)
        deadline = time.monotonic() + timeout
        while True:
            dep = c.call(f"read deployment {deployment}", c.api.deployment.get_deployment, deployment)
            status = dep.get("Status")
            if status == "successful":
                return
            if status in ("failed", "cancelled") or time.monotonic() > deadline:
                raise DeployError(f"app {plan.app}: deployment {deployment[:8]} was promoted but did not "
                                  f"complete ({dep.get('StatusDescription') or status}); the new release serves, "
                                  "old allocations may still run")
            time.sleep(self._poll(plan.app))

    def _registered_version(self, app: str, c: NomadClient, registered: Obj) -> int:
        """The job version this register created, found by its JobModifyIndex (Nomad may
        already have moved on, e.g. auto-reverted, by the time we look)."""
        versions = c.call(f"read versions of job {app}", c.api.job.get_versions, app)
        index = registered.get("JobModifyIndex")
        listed = versions.get("Versions") or []
        mine = [v for v in listed if v.get("JobModifyIndex") == index]
        chosen = mine[0] if mine else max(listed, key=lambda v: int(v.get("Version", 0)))
        return int(chosen.get("Version", 0))

    def _last_lines(self, c: NomadClient, dep: Obj) -> str:
        allocs = c.maybe("list the deployment's allocations", c.api.deployment.get_deployment_allocations,
                         dep["ID"]) or []
        bad = [a for a in allocs if (a.get("DeploymentStatus") or {}).get("Healthy") is False
               or a.get("ClientStatus") == "failed"]
        for alloc in bad[:1]:
            task = next(iter(alloc.get("TaskStates") or {}), alloc.get("TaskGroup", ""))
            text = self._read_log(c, alloc["ID"], task, "stderr") + self._read_log(c, alloc["ID"], task, "stdout")
            lines = [line for line in text.splitlines() if line.strip()][-10:]
            if lines:
                return f"; last log lines of allocation {alloc['ID'][:8]}: " + " | ".join(lines)
        return ""

    def _revert(self, app: str, c: NomadClient, before: Obj | None, failed_version: int,
                awaiting: str | None = None) -> str:
        """Back to what ran before this rollout. A deployment whose canaries await promotion
        is failed first: its canaries stop, and Nomad's AutoRevert usually reverts the job."""
        if awaiting is not None:
            with contextlib.suppress(DockyardError):  # already terminal: revert below regardless
                c.call(f"fail deployment {awaiting}", c.api.deployment.fail_deployment, awaiting)
        if before is None:
            c.call(f"deregister job {app}", c.api.job.deregister_job, app)
            return f"job {app} deregistered (it had no previous version)"
        old = int(before.get("Version", 0))
        job = c.call(f"read job {app}", c.api.job.get_job, app)
        current = int(job.get("Version", 0))
        if failed_version >= 0 and current > failed_version:
            return f"Nomad auto-reverted job {app} (now version {current}, a copy of a stable version)"
        c.call(f"revert job {app}", c.api.job.revert_job, app, old, current)
        return f"job {app} reverted to version {old}"

    # ---- networks ----------------------------------------------------------------
    def network_exists(self, name: str) -> bool:
        """Nomad cannot list the Docker networks of its client nodes, so a named network is
        taken to exist; if it does not, the allocation fails and so does the deploy."""
        from dockyard.core.names import validate_network_name

        validate_network_name(name)
        return True

    # ---- lifecycle ---------------------------------------------------------------
    def stop(self, app: str) -> None:
        """Every group's count to 0, noting the counts in the job's Meta, so ``start`` can
        bring back what ran without asking the core for a plan; returns once the allocations
        have stopped."""
        c = self.client(app)
        job = c.call(f"read job {app}", c.api.job.get_job, app)
        counts = {g["Name"]: int(g.get("Count") or 0) for g in job.get("TaskGroups") or []}
        if any(counts.values()):  # a second stop keeps the first one's note
            job["Meta"] = {**(job.get("Meta") or {}), STOPPED_COUNTS: json.dumps(counts, sort_keys=True)}
        for group in job.get("TaskGroups") or []:
            group["Count"] = 0
        c.call(f"scale job {app} to 0", c.api.jobs.register_job, {"Job": job})

        def still_running() -> str | None:
            # an allocation told to stop still runs its task until the kill timeout
            allocs = c.maybe(f"list allocations of {app}", c.api.job.get_allocations, app) or []
            left = [a for a in allocs if a.get("ClientStatus") in ("pending", "running")]
            return f"{len(left)} allocation{'s' if len(left) != 1 else ''}" if left else None

        self._wait_stopped(app, still_running)

    def start(self, app: str) -> None:
        """Each group back to the count ``stop`` noted, then wait until that many allocations
        run (a fresh rollout, when nothing is left, is the core's)."""
        c = self.client(app)
        job = c.call(f"read job {app}", c.api.job.get_job, app)
        meta = dict(job.get("Meta") or {})
        noted = meta.pop(STOPPED_COUNTS, None)
        if not noted:
            return
        counts = json.loads(noted)
        for group in job.get("TaskGroups") or []:
            group["Count"] = int(counts.get(group["Name"], group.get("Count") or 0))
        job["Meta"] = meta
        c.call(f"scale job {app} back", c.api.jobs.register_job, {"Job": job})
        want = sum(int(v) for v in counts.values())
        self._wait_started(app, lambda: "its allocations" if len(
            [a for a in self._allocs(c, app) if a.get("ClientStatus") == "running"]) < want else None)

    def destroy(self, app: str) -> None:
        c = self.client(app)
        c.maybe(f"deregister job {app}", c.api.job.deregister_job, app, purge=True)

    def _allocs(self, c: NomadClient, app: str) -> list[Obj]:
        """The app's instances: allocations meant to run that have not ended (the failed
        canaries of a failed deployment are history, not instances)."""
        allocs = c.maybe(f"list allocations of {app}", c.api.job.get_allocations, app) or []
        return [a for a in allocs if a.get("DesiredStatus") == "run"
                and a.get("ClientStatus") in ("pending", "running")]

    def status(self, app: str) -> list[Instance]:
        c = self.client(app)
        releases: dict[int, str] = {}
        versions = c.maybe(f"read versions of job {app}", c.api.job.get_versions, app) or {}
        for v in versions.get("Versions") or []:
            releases[int(v.get("Version", 0))] = (v.get("Meta") or {}).get("dockyard.release", "")
        job = c.maybe(f"read job {app}", c.api.job.get_job, app) or {}
        modes = {g.get("Name"): (g.get("Tasks") or [{}])[0].get("Config", {}).get("network_mode")
                 for g in job.get("TaskGroups") or []}
        driver_addr: dict[str, str] = {}
        if any(modes.values()):  # the container's address on its network, from its registration
            for reg in self._registrations(c, app):
                driver_addr.setdefault(str(reg.get("AllocID")), str(reg.get("Address")))
        out = []
        for alloc in self._allocs(c, app):
            m = _INDEX_RE.search(alloc.get("Name", ""))
            net = modes.get(alloc.get("TaskGroup"))
            addresses = {net: driver_addr[alloc["ID"]]} if net and alloc["ID"] in driver_addr else {}
            states = alloc.get("TaskStates") or {}
            restarts = sum(int(s.get("Restarts") or 0) for s in states.values())
            out.append(Instance(
                app=app, process_type=alloc.get("TaskGroup", ""), index=int(m.group(1)) + 1 if m else 0,
                id=alloc["ID"], name=alloc.get("Name", ""), state=str(alloc.get("ClientStatus", "")),
                restart_count=restarts, release=releases.get(int(alloc.get("JobVersion", -1)), ""),
                addresses=addresses,
            ))
        return sorted(out, key=lambda i: (i.process_type, i.index))

    def _registrations(self, c: NomadClient, app: str) -> list[Obj]:
        try:
            regs: list[Obj] = c.call(f"list the services of job {app}",
                                     lambda: c.job_services.request(app, "services", method="get").json()) or []
        except NotFound:
            return []
        return regs

    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Listener]]:
        """Every task group; those with services list their registrations' address and port."""
        return self._listeners(app)

    def _listeners(self, app: str, version: int | None = None) -> dict[str, list[Listener]]:
        """``listeners``, of the allocations at job ``version`` only when given: the canaries
        of a deployment awaiting promotion, not the old allocations beside them."""
        c = self.client(app)
        job = c.maybe(f"read job {app}", c.api.job.get_job, app)
        if job is None:
            return {}
        out: dict[str, list[Listener]] = {g["Name"]: [] for g in job.get("TaskGroups") or []}
        live = {a["ID"] for a in self._allocs(c, app) if version is None or int(a.get("JobVersion", -1)) == version}
        for reg in self._registrations(c, app):
            if reg.get("AllocID") not in live:
                continue
            tags = dict(t.split("=", 1) for t in reg.get("Tags") or [] if "=" in t)
            proc = tags.get("process-type", "")
            # the port tag is the container port the registration forwards to (render.py)
            target = int(tags["port"]) if tags.get("port", "").isdigit() else None
            out.setdefault(proc, []).append(Listener(str(reg["Address"]), int(reg["Port"]), target))
        for proc in out:
            out[proc].sort(key=lambda listener: (listener.host, listener.port))
        return out

    # ---- run ---------------------------------------------------------------------
    def _create_one_off(self, plan: DeployPlan, argv: list[str], env: dict[str, str]) -> str:
        c = self.client(plan.app)
        job_id = f"{plan.app}-run-{secrets.token_hex(3)}"
        job = R.render_run_job(plan, argv, read_settings(self.store, plan.app), job_id, env)
        c.call(f"register job {job_id}", c.api.jobs.register_job, job)
        return job_id

    def _await_one_off(self, app: str, one_off: str, deadline: float) -> int:
        c, poll = self.client(app), self._poll(app)
        while True:
            allocs = c.call(f"list allocations of {one_off}", c.api.job.get_allocations, one_off)
            done = [a for a in allocs if a.get("ClientStatus") in ("complete", "failed", "lost")]
            if done:
                alloc = done[0]
                break
            if time.monotonic() > deadline:
                raise DockyardError(f"nomad: run job {one_off} did not finish in time")
            time.sleep(poll)
        sys.stdout.write(self._read_log(c, alloc["ID"], "run", "stdout"))
        sys.stderr.write(self._read_log(c, alloc["ID"], "run", "stderr"))
        sys.stdout.flush()
        return _exit_code(alloc)

    def _remove_one_off(self, app: str, one_off: str) -> None:
        c = self.client(app)
        with contextlib.suppress(DockyardError):
            c.call(f"deregister job {one_off}", c.api.job.deregister_job, one_off, purge=True)

    # ---- logs and events -----------------------------------------------------------
    def _read_log(self, c: NomadClient, alloc_id: str, task: str, kind: str) -> str:
        try:
            return str(c.call(f"read the {kind} of allocation {alloc_id[:8]}", c.api.client.stream_logs.stream,
                              alloc_id, task, kind, plain=True))
        except DockyardError:
            return ""

    def _log_lines(self, app: str, instance: Instance, tail: int | None) -> list[str]:
        c, task = self.client(app), R.group_name(instance.process_type)
        lines = self._read_log(c, instance.id, task, "stdout").splitlines()
        lines += self._read_log(c, instance.id, task, "stderr").splitlines()
        return lines[-tail:] if tail else ([] if tail == 0 else lines)

    def _log_streams(self, app: str, instance: Instance, tail: int | None) -> list[LogStream]:
        """stdout and stderr, each from the start: Nomad's follow has no line count."""
        c, task = self.client(app), R.group_name(instance.process_type)

        def follow_alloc(kind: str) -> Iterator[bytes]:
            params = {"task": task, "type": kind, "follow": True, "plain": True, "origin": "start"}
            resp = c.call("follow logs", c.log_stream.request, instance.id, params=params, method="get",
                          stream=True, timeout=None)
            for raw in resp.iter_lines():
                yield raw + b"\n"

        return [functools.partial(follow_alloc, kind) for kind in ("stdout", "stderr")]

    def events(self) -> Iterator[SchedulerEvent]:
        """``/v1/event/stream?topic=Allocation`` from the current index, normalised."""
        c = self.client(None)
        resp = c.call("read the cluster index", c.api.jobs.request, method="get")
        index = int(resp.headers.get("X-Nomad-Index", "0") or 0)
        thread, exit_event, events = c.api.event.stream.get_stream(
            index=index + 1, topic=["Allocation"], namespace=c.settings.namespace or None)
        thread.daemon = True
        thread.start()
        seen: dict[str, tuple[str, int]] = {}
        try:
            while True:
                try:
                    msg = events.get(timeout=1.0)
                except queue.Empty:
                    if not thread.is_alive():
                        raise DockyardError("the Nomad event stream ended") from None
                    continue
                for event in msg.get("Events") or []:
                    alloc = (event.get("Payload") or {}).get("Allocation")
                    if alloc:
                        yield from alloc_events(alloc, seen)
        finally:
            exit_event.set()
            thread.join(timeout=15)  # it notices on the next message or heartbeat (every 10s)

    @classmethod
    def describe(cls) -> dict[str, str]:
        return {
            "networks": "the docker driver's `network_mode`: one network per task, chosen at creation; "
                        "networks are Docker networks on the client nodes, made outside Nomad",
            "attach-post-create": "not supported: the docker driver cannot attach a second network",
            "attach-post-deploy": "not supported: a running task cannot join a network",
            "initial-network": "`network_mode` of the docker task; services register the container's "
                               "address there (AddressMode driver)",
            "listeners": "Nomad-native service registrations of the job's allocations (address, port); "
                         "one dynamic port per container port",
            "run": "a batch job with no restarts or rescheduling; its logs and exit code, then purged",
            "logs": "allocation logs (`/v1/client/fs/logs`), stdout and stderr",
            "events": "`/v1/event/stream`, topic Allocation, from the current index",
            "zero-downtime": "the update block: one allocation at a time, MinHealthyTime = checks wait, "
                             "AutoRevert; Dockyard reverts explicitly when Nomad did not",
        }


def _exit_code(alloc: Obj) -> int:
    for state in (alloc.get("TaskStates") or {}).values():
        for ev in reversed(state.get("Events") or []):
            if ev.get("Type") == "Terminated":
                details = ev.get("Details") or {}
                code = details.get("exit_code", ev.get("ExitCode", 1))
                return int(code)
    return 0 if alloc.get("ClientStatus") == "complete" else 1


def alloc_events(alloc: Obj, seen: dict[str, tuple[str, int]]) -> list[SchedulerEvent]:
    job = alloc.get("Job") or {}
    app = (job.get("Meta") or {}).get("dockyard.app")
    if not app or (job.get("Meta") or {}).get("dockyard.run"):
        return []
    states = alloc.get("TaskStates") or {}
    restarts = sum(int(s.get("Restarts") or 0) for s in states.values())
    status = str(alloc.get("ClientStatus", ""))
    policy = next((g.get("RestartPolicy") or {} for g in job.get("TaskGroups") or []
                   if g.get("Name") == alloc.get("TaskGroup")), {})
    base: dict[str, Any] = {
        "app": app, "process_type": alloc.get("TaskGroup", ""), "instance_id": alloc.get("ID", ""),
        "time": time.time(), "restart_policy": "on-failure" if policy.get("Mode") == "fail" else "always",
        "max_retries": int(policy.get("Attempts") or 0) if policy.get("Mode") == "fail" else 0,
        "restart_count": restarts,
    }
    uid = str(alloc.get("ID", ""))
    was_status, was_restarts = seen.get(uid, ("", 0))
    seen[uid] = (status, restarts)
    out: list[SchedulerEvent] = []
    if restarts > was_restarts and status == "running":
        out.append(SchedulerEvent(action="restart", **base))
    elif status == "running" and was_status != "running":
        out.append(SchedulerEvent(action="start", **base))
    elif status in ("failed", "complete", "lost") and was_status != status:
        out.append(SchedulerEvent(action="die", exit_code=_exit_code(alloc), **base))
    return out


def _awaits_promotion(groups: dict[str, Obj]) -> bool:
    """A running deployment whose every canary group has all its canaries healthy and is not
    promoted yet (groups without canaries, a rolling update, have all theirs healthy)."""
    canary = [g for g in groups.values() if int(g.get("DesiredCanaries") or 0) > 0]
    return bool(canary) and all(not g.get("Promoted") for g in canary) and all(
        int(g.get("HealthyAllocs") or 0) >= int(g.get("DesiredCanaries") or g.get("PlacedAllocs") or 0)
        for g in groups.values())


class _NomadRollout(Rollout):
    """The job's deployment is healthy. With canaries (``awaiting``), they run beside the old
    allocations and the listeners are theirs alone; ``finish`` promotes them, which stops
    the old ones. Without (a first deploy, ``checks:disable``, a count change) Nomad already
    replaced what it replaces and ``finish`` has nothing left to do. ``undo`` fails a
    deployment that awaits promotion and reverts the job to the version that ran before (or
    deregisters a job this rollout created)."""

    def __init__(self, driver: NomadScheduler, plan: DeployPlan, c: NomadClient, before: Obj | None) -> None:
        super().__init__(plan, driver)
        self.driver, self.c, self.before = driver, c, before
        self.version = -1  # the job version this rollout registered, once known
        self.awaiting: str | None = None  # the deployment whose canaries wait for promotion

    def read_listeners(self) -> dict[str, list[Listener]]:
        if self.awaiting is None:
            return super().read_listeners()
        return self.driver._listeners(self.plan.app, self.version)

    def finish(self, progress: Progress = no_progress) -> None:
        if self.awaiting is not None:
            self.driver._promote(self.plan, self.c, self.awaiting, progress)

    def undo(self) -> str:
        return self.driver._revert(self.plan.app, self.c, self.before, self.version, self.awaiting)
