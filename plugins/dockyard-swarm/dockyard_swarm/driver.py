"""The swarm scheduler: one swarm service per process type, rolled by swarm itself.

A rollout, mapped onto the contract (``dockyard.schedulers.base``):

1. ``rollout``: create each type's service (``APP_PROC``), or update it to the new spec
   (``spec.service_spec``); swarm starts the new tasks beside the old ones (``start-first``)
   and holds each one back until its healthcheck (the checks) passes. The driver waits until
   every type runs the new release at its scale, firing ``post-container-create`` for each
   new task as its container appears. A failed check makes swarm roll the update back (or,
   for a new service, the driver removes it): DeployError with the task's last log lines.
2. ``finish``: swarm already retired the old tasks; remove the services of process types
   the plan dropped.
3. ``undo`` (``abort``): write each updated service's previous spec back (what ``docker
   service rollback`` does) and wait until the previous release runs again; remove the
   services this rollout created.

What swarm cannot do as docker-local does is written in the README: chiefly, an old task
stops as soon as its replacement is healthy, before the proxy switched (``wait-to-retire``
does not apply).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.core.errors import DeployError, DockyardError, NotFound
from dockyard.core.hooks import Hooks
from dockyard.core.lookup import computed, computed_float, stop_timeout_seconds
from dockyard.core.models import (
    DeployPlan,
    Exposure,
    Instance,
    Listener,
    NetworkInfo,
    Phase,
    ProcessSpec,
    SchedulerEvent,
)
from dockyard.schedulers.base import Capability, Progress, Rollout, Scheduler, no_progress
from dockyard.schedulers.local_images import LocalEngineImages
from dockyard.schedulers.logstreams import merge_log_streams
from dockyard_swarm import labels as L
from dockyard_swarm import spec as S
from dockyard_swarm import tasks as T

#: the property plugin of this driver's settings (``init-process``, ``deploy-timeout``)
SETTINGS_PLUGIN = "scheduler-swarm"
POLL = 0.25

log = logging.getLogger("dockyard.swarm")


@dataclass
class _Target:
    """One service a rollout is waiting on."""

    spec: ProcessSpec
    service_id: str
    created: bool
    update_started: str | None = None  # the UpdateStatus.StartedAt before our update
    failed: bool = False  # a new task failed: swarm's own rollback (FailureAction) is under way


class SwarmScheduler(LocalEngineImages, Scheduler):
    name = "swarm"
    capabilities = frozenset({
        Capability.ATTACH_POST_CREATE, Capability.ATTACH_POST_DEPLOY, Capability.MULTIPLE_NETWORKS,
        Capability.RUN, Capability.LOGS, Capability.EVENTS, Capability.ZERO_DOWNTIME,
        Capability.TCP_LISTENERS, Capability.UDP_LISTENERS,
    })

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self._client: Any = None

    # ---- engine ------------------------------------------------------------------
    @property
    def api(self) -> Any:
        """The low-level docker API client, opened on first use; refuses an engine that is
        not a swarm manager with one line saying what to do."""
        if self._client is None:
            import docker

            try:
                client = docker.from_env(timeout=120, max_pool_size=32)
                swarm = client.api.info().get("Swarm") or {}
            except Exception as exc:
                raise DockyardError(f"cannot reach the docker engine ({exc}); is dockerd running?") from exc
            if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
                client.close()
                raise DockyardError("the docker engine is not a swarm manager: run "
                                    "'docker swarm init' (or point DOCKER_HOST at a manager)")
            self._client = client
        return self._client.api

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _init(self, app: str) -> bool:
        return computed(self.store, SETTINGS_PLUGIN, app, "init-process", "true") != "false"

    def _stop_timeout(self, app: str) -> int:
        """``ps``'s stop-timeout-seconds (Dokku's default, as docker-local): the grace period."""
        return stop_timeout_seconds(self.store, app)

    def _deploy_timeout(self, plan: DeployPlan) -> float:
        checks = plan.checks
        default = 120.0 + checks.wait + checks.attempts * checks.timeout
        return computed_float(self.store, SETTINGS_PLUGIN, plan.app, "deploy-timeout", default)

    # ---- networks: attachable overlay networks -----------------------------------
    def network_create(self, name: str) -> NetworkInfo:
        self.api.create_network(name, driver="overlay", attachable=True,
                                labels={L.MARKER: "1", f"{L.PREFIX}.network-name": name})
        return self.network_inspect(name)

    def network_destroy(self, name: str) -> None:
        try:
            self.api.remove_network(name)
        except Exception as exc:
            if "404" in str(exc) or "not found" in str(exc).lower():
                raise NotFound(f"network {name} does not exist") from exc
            raise DockyardError(f"cannot remove network {name}: {exc}") from exc

    def _swarm_network(self, name: str) -> dict[str, Any] | None:
        try:
            info = self.api.inspect_network(name)
        except Exception:
            return None
        return dict(info) if info.get("Scope") == "swarm" else None

    def network_exists(self, name: str) -> bool:
        """Only swarm-scoped networks count: a service cannot join a local bridge network."""
        return self._swarm_network(name) is not None

    def network_list(self) -> list[NetworkInfo]:
        return sorted((self._info(n) for n in self.api.networks() if n.get("Scope") == "swarm"),
                      key=lambda n: n.name)

    def network_inspect(self, name: str) -> NetworkInfo:
        info = self._swarm_network(name)
        if info is None:
            raise NotFound(f"network {name} does not exist (as a swarm network)")
        return self._info(info)

    @staticmethod
    def _info(n: dict[str, Any]) -> NetworkInfo:
        return NetworkInfo(name=n["Name"], id=n["Id"], driver=n.get("Driver", ""),
                           managed=L.MARKER in (n.get("Labels") or {}),
                           containers=tuple(sorted(c.get("Name", "") for c in (n.get("Containers") or {}).values())))

    # ---- rollouts ----------------------------------------------------------------
    def rollout(self, plan: DeployPlan, hooks: Hooks, progress: Progress = no_progress) -> Rollout:
        rollout = _SwarmRollout(self, plan)
        try:
            current = {T.proc_of(s): s for s in T.services(self.api, plan.app)}
            rollout.dropped = [s["ID"] for proc, s in current.items() if plan.process(proc) is None]
            init, stop_timeout = self._init(plan.app), self._stop_timeout(plan.app)
            targets: list[_Target] = []
            for proc in plan.processes:
                kwargs = S.service_spec(plan, proc, init=init, stop_timeout=stop_timeout)
                service = current.get(proc.name)
                if service is None:
                    if proc.scale == 0:
                        continue  # nothing to run: no service until the type is scaled up
                    made = self.api.create_service(**kwargs)
                    rollout.created.append(str(made["ID"]))
                    targets.append(_Target(proc, str(made["ID"]), True))
                    continue
                target = _Target(proc, str(service["ID"]), False, (service.get("UpdateStatus") or {}).get("StartedAt"))
                rollout.updated.append((target, service["Spec"]))
                self.api.update_service(service["ID"], service["Version"]["Index"], **kwargs)
                targets.append(target)
            progress(f"rolling out {len(targets)} service(s)", 0, len(targets))
            rollout.instances = self._converge(plan, targets, hooks, progress)
        except BaseException:
            # a failed check, or an interrupt (SIGINT/SIGTERM arrive as a BaseException):
            # the services go back to what ran before
            rollout.abort()
            raise
        return rollout

    def _converge(self, plan: DeployPlan, targets: Sequence[_Target], hooks: Hooks,
                  progress: Progress) -> list[Instance]:
        """Wait until every target runs the plan's release at its scale; fire
        post-container-create once per new task as its container appears."""
        deadline = time.monotonic() + self._deploy_timeout(plan)
        fired: set[str] = set()
        done: dict[str, list[Instance]] = {}
        while len(done) < len(targets):
            for t in targets:
                if t.service_id in done:
                    continue
                result = self._step(plan, t, hooks, fired)
                if result is not None:
                    done[t.service_id] = result
                    progress(f"{L.service_name(plan.app, t.spec.name)} runs {len(result)} new task(s)",
                             len(done), len(targets))
            if len(done) < len(targets):
                if time.monotonic() > deadline:
                    late = [L.service_name(plan.app, t.spec.name) for t in targets if t.service_id not in done]
                    raise DeployError(f"app {plan.app}: {', '.join(late)} did not converge in time; "
                                      "the old release keeps serving")
                time.sleep(POLL)
        return sorted((i for found in done.values() for i in found), key=lambda i: (i.process_type, i.index))

    def _step(self, plan: DeployPlan, t: _Target, hooks: Hooks, fired: set[str]) -> list[Instance] | None:
        """One look at a target: its new instances once converged, None while waiting;
        DeployError when a new task failed or swarm gave the update up."""
        found = T.tasks_of(self.api, t.service_id)
        mine = [x for x in found if T.release_of(x) == plan.release]
        for task in mine:
            cid = T.container_of(task)
            if cid and task["ID"] not in fired:
                fired.add(task["ID"])
                hooks.fire("post-container-create", container_type="app", container_id=cid, app=plan.app,
                           phase=Phase.DEPLOY, process_type=t.spec.name, scheduler=self)
        failed = [x for x in mine if T.state_of(x) in ("failed", "rejected")]
        updating = False
        if not t.created:
            status = self.api.inspect_service(t.service_id).get("UpdateStatus") or {}
            fresh = bool(status.get("StartedAt")) and status.get("StartedAt") != t.update_started
            state = str(status.get("State") or "")
            if fresh and (state == "paused" or state.startswith("rollback")):
                raise self._failure(plan, t, failed, None if failed else f"swarm {status.get('Message') or state}")
            updating = fresh and state == "updating"
        if failed:
            raise self._failure(plan, t, failed, None)
        live = T.wanted(found)
        if (not updating and len(live) == t.spec.scale
                and all(T.release_of(x) == plan.release and T.state_of(x) == "running" for x in live)):
            return [T.instance(plan.app, t.spec.name, x) for x in live]
        return None

    def _failure(self, plan: DeployPlan, t: _Target, failed: list[dict[str, Any]], why: str | None) -> DeployError:
        t.failed = True
        task = failed[0] if failed else None
        slot = int(task.get("Slot") or 0) if task else 0
        reason = why or ""
        if task is not None:
            status = task.get("Status") or {}
            reason = reason or str(status.get("Err") or status.get("Message") or status.get("State"))
        lines = self._last_lines(T.container_of(task)) if task else []
        shown = "\n".join(f"    {line}" for line in lines) or "    (no output)"
        return DeployError(
            f"app {plan.app}: {L.live_name(plan.app, t.spec.name, slot)} failed its checks: {reason}; "
            f"the new tasks were removed and the old release keeps serving.\n"
            f"  last log lines of {L.service_name(plan.app, t.spec.name)}.{slot}:\n{shown}")

    def _last_lines(self, container_id: str, lines: int = 20) -> list[str]:
        if not container_id:
            return []
        try:
            raw = self.api.logs(container_id, stdout=True, stderr=True, tail=lines)
        except Exception:  # on another node, or gone
            return []
        return bytes(raw).decode(errors="replace").splitlines()[-lines:]

    def _wait_for(self, what: str, ok: Callable[[], bool], timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while not ok():
            if time.monotonic() > deadline:
                log.warning("gave up waiting for %s after %.0fs", what, timeout)
                return False
            time.sleep(POLL)
        return True

    def _runs_release(self, service_id: str, release: str, replicas: int) -> bool:
        live = T.wanted(T.tasks_of(self.api, service_id))
        return len(live) == replicas and all(T.release_of(x) == release and T.state_of(x) == "running"
                                             for x in live)

    def _remove_service(self, service_id: str) -> None:
        try:
            self.api.remove_service(service_id)
        except Exception as exc:
            if "404" not in str(exc) and "not found" not in str(exc).lower():
                raise

    # ---- one-offs ------------------------------------------------------------------
    def run(self, plan: DeployPlan, command: Sequence[str], hooks: Hooks, tty: bool = False,
            env: dict[str, str] | None = None) -> int:
        from dockyard_swarm.run import run

        return run(self, plan, command, hooks, tty, env)

    def cleanup(self, app: str) -> list[str]:
        done = [c for c in self._run_containers(app) if c.get("State") != "running"]
        for c in done:
            with contextlib.suppress(Exception):
                self.api.remove_container(c["Id"], force=True)
        return sorted(str((c.get("Names") or ["/"])[0]).lstrip("/") for c in done)

    def _run_containers(self, app: str) -> list[dict[str, Any]]:
        return list(self.api.containers(all=True, filters={"label": [
            f"{L.APP}={app}", f"{L.CONTAINER_TYPE}=run", f"{L.SCHEDULER}=swarm"]}))

    # ---- lifecycle -----------------------------------------------------------------
    def _set_replicas(self, service: dict[str, Any], replicas: int, labels: dict[str, str]) -> None:
        kwargs = S.from_inspect(service["Spec"])
        kwargs["mode"] = {"Replicated": {"Replicas": replicas}}
        kwargs["labels"] = labels
        self.api.update_service(service["ID"], service["Version"]["Index"], **kwargs)

    def stop(self, app: str) -> None:
        """Every service to 0 replicas; the count is kept in a label for ``start``."""
        for service in T.services(self.api, app):
            labels = dict(service["Spec"].get("Labels") or {})
            if L.STOPPED_SCALE in labels:
                continue
            replicas = int(((service["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas") or 0)
            self._set_replicas(service, 0, {**labels, L.STOPPED_SCALE: str(replicas)})
        self._wait_for(f"{app} to stop", lambda: not any(i.state == "running" for i in self.status(app)))

    def start(self, app: str) -> None:
        for service in T.services(self.api, app):
            labels = dict(service["Spec"].get("Labels") or {})
            kept = labels.pop(L.STOPPED_SCALE, None)
            if kept is not None:
                self._set_replicas(service, int(kept or 0), labels)

    def destroy(self, app: str) -> None:
        for service in T.services(self.api, app):
            self._remove_service(service["ID"])
        for c in self._run_containers(app):
            with contextlib.suppress(Exception):
                self.api.remove_container(c["Id"], force=True)

    def status(self, app: str) -> list[Instance]:
        """The tasks swarm wants running; for a service ``ps:stop`` scaled to 0, its kept
        scale as ``stopped`` instances, so ``ps:start`` starts them again (swarm keeps no
        stopped tasks to start) rather than rolling out a new release."""
        found: list[Instance] = []
        for service in T.services(self.api, app):
            proc = T.proc_of(service)
            live = [T.instance(app, proc, t) for t in T.wanted(T.tasks_of(self.api, service["ID"]))]
            labels = service["Spec"].get("Labels") or {}
            kept = str(labels.get(L.STOPPED_SCALE, ""))
            if not live and kept.isdigit():
                live = [Instance(app=app, process_type=proc, index=slot, id=f"{service['ID']}.{slot}",
                                 name=L.live_name(app, proc, slot), state="stopped",
                                 release=str(labels.get(L.RELEASE, ""))) for slot in range(1, int(kept) + 1)]
            found += live
        return sorted(found, key=lambda i: (i.process_type, i.index, i.name))

    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Listener]]:
        """The running tasks' host-reachable addresses (default bridge or docker_gwbridge)
        at the port ``exposure`` gives their type."""
        running = []
        for service in T.services(self.api, app):
            proc = T.proc_of(service)
            running += [(proc, t) for t in T.wanted(T.tasks_of(self.api, service["ID"]))
                        if T.state_of(t) == "running"]
        return T.listeners_of(self.api, running, exposure)

    def logs(self, app: str, process_type: str | None = None, follow: bool = False,
             tail: int | None = None) -> Iterator[str]:
        """Each service's logs (``docker service logs``), prefixed ``APP[PROC]``."""
        chosen = sorted((T.proc_of(s), s["ID"]) for s in T.services(self.api, app)
                        if not process_type or T.proc_of(s) == process_type)
        tail_arg: Any = tail if tail is not None else "all"
        if not follow:
            for proc, sid in chosen:
                raw = self.api.service_logs(sid, stdout=True, stderr=True, tail=tail_arg)
                data = raw if isinstance(raw, bytes) else b"".join(raw)
                for line in data.decode(errors="replace").splitlines():
                    yield f"{app}[{proc}]: {line}"
            return
        yield from merge_log_streams([
            (f"{app}[{proc}]", functools.partial(self.api.service_logs, sid, stdout=True, stderr=True,
                                                 follow=True, tail=tail_arg))
            for proc, sid in chosen])

    def events(self) -> Iterator[SchedulerEvent]:
        from dockyard_swarm.events import stream

        return stream(self.api)

    @classmethod
    def describe(cls) -> dict[str, str]:
        return {
            "instances": f"one swarm service per process type (APP_PROC), a task per instance (APP.PROC.SLOT), "
                         f"labelled {L.APP}, {L.PROCESS}, {L.RELEASE} on the service and its containers",
            "networks": "attachable overlay networks (network:create makes one)",
            "attach-post-create": "the service's networks from creation (alias APP.PROC[.TLD])",
            "attach-post-deploy": "also the service's networks from creation: a network added by a service "
                                  "update restarts every task; a task is in the service's DNS only once "
                                  "its healthcheck passed",
            "initial-network": "refused: a task's overlay address is not reachable from the host's proxy; "
                               "listeners use docker_gwbridge (or the default bridge)",
            "listeners": "each running task's docker_gwbridge address (default bridge without networks) at "
                         "the container port; dnsrr endpoints, no virtual IPs",
            "run": "a one-off container (APP.run.N) on the app's attachable networks",
            "logs": "docker service logs",
            "events": "the tasks' container events, each start reported once swarm marks the task running",
            "zero-downtime": "update_config order start-first, failure_action rollback; the checks are a "
                             "healthcheck (interval: checks wait), so an old task stops only once its "
                             "replacement is healthy; wait-to-retire does not apply",
            "build": "no: build the image elsewhere and deploy it with --image",
            "restart-policy": "ps restart-policy as the service's restart policy (on-failure:N -> "
                              "max_attempts N)",
        }


class _SwarmRollout(Rollout):
    """Services created or updated by one rollout, and the specs they had before."""

    def __init__(self, driver: SwarmScheduler, plan: DeployPlan) -> None:
        super().__init__(plan, driver)
        self.driver = driver
        self.created: list[str] = []
        #: (the service's target, its spec before the update)
        self.updated: list[tuple[_Target, dict[str, Any]]] = []
        self.dropped: list[str] = []  # services of types the plan no longer has

    def read_listeners(self) -> dict[str, list[Listener]]:
        """The new tasks only: swarm marks the old ones for shutdown before this is asked."""
        return self.driver.listeners(self.plan.app, self.plan.exposure)

    def finish(self, progress: Progress = no_progress) -> None:
        for sid in self.dropped:
            self.driver._remove_service(sid)
        if self.dropped:
            progress(f"removed {len(self.dropped)} service(s) of dropped process types", 1, 1)

    def undo(self) -> str:
        d, api = self.driver, self.driver.api
        for sid in self.created:
            d._remove_service(sid)
        for target, before in self.updated:
            sid = target.service_id
            release = str((before.get("Labels") or {}).get(L.RELEASE, ""))
            replicas = int(((before.get("Mode") or {}).get("Replicated") or {}).get("Replicas") or 0)
            # a failed new task makes swarm roll back by itself (FailureAction rollback), which
            # keeps the old tasks that never stopped; writing the old spec over it would not
            if not (target.failed and d._wait_for(f"swarm to roll {sid[:12]} back",
                                                  functools.partial(self._rolls_back, target), timeout=15)):
                current = api.inspect_service(sid)
                api.update_service(sid, current["Version"]["Index"], **S.from_inspect(before))
            d._wait_for(f"service {sid[:12]} to run release {release} again",
                        functools.partial(d._runs_release, sid, release, replicas))
        return f"the services of {self.plan.app} were rolled back and the old release kept serving"

    def _rolls_back(self, target: _Target) -> bool:
        """Has swarm itself (FailureAction rollback) finished rolling ``target`` back?"""
        status = self.driver.api.inspect_service(target.service_id).get("UpdateStatus") or {}
        return (status.get("StartedAt") != target.update_started
                and status.get("State") in ("rollback_completed", "rollback_paused"))

