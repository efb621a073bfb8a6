"""The docker-local scheduler: Dokku's scheduler-docker-local on a real dockerd.

A rollout (deploy, or scale of the current release) is one pipeline:

1. create the new containers (``APP.PROC.N.upcoming-RELEASE``) on the initial network,
   attach the post-create networks, fire ``post-container-create`` (phase deploy) and start
   them: all in parallel, at most ``plan.parallelism`` at once;
2. check them (running with no restarts after ``wait``, or HTTP on ``checks path``);
3. attach the post-deploy networks while they run;
4. rename the old ones to ``…retired-ID`` and the new ones to ``APP.PROC.N``, and hand core
   the ``Rollout`` (core fires ``core-post-deploy`` with its listeners: the proxy switches);
5. ``finish``: after ``wait-to-retire`` stop and remove the old ones (in the foreground;
   Dokku does this in a background job); or ``abort`` (a ``core-post-deploy`` subscriber
   failed): remove the new ones and give the old ones their names back, so what runs is
   exactly what ran before.

If any step fails or is interrupted, the new containers are removed and the old ones are
renamed back (and started again where zero downtime was off and they were stopped first).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dockyard.core.errors import DeployError, DockyardError, NotFound
from dockyard.core.hooks import Hooks
from dockyard.core.models import (
    DeployPlan,
    Exposure,
    Instance,
    Listener,
    NetworkInfo,
    NetworkSettings,
    Phase,
    ProcessSpec,
    SchedulerEvent,
)
from dockyard.schedulers.base import Capability, Progress, Rollout, Scheduler, no_progress
from dockyard.schedulers.docker_local import checks, containers, networks
from dockyard.schedulers.docker_local import labels as L
from dockyard.schedulers.local_images import LocalEngineImages

#: the property plugin of Dokku's scheduler-docker-local settings
SETTINGS_PLUGIN = "scheduler-docker-local"
#: (plugin, key) of the list of images the app's kept releases need (core's release history
#: writes it, ``dockyard.core.releases.KEPT_IMAGES``): they survive the image pruning, so a
#: rollback to any kept release finds its image here
KEPT_IMAGES = ("releases", "kept-images")

log = logging.getLogger("dockyard.docker-local")

Target = tuple[ProcessSpec, int]


class _Started:
    __slots__ = ("cid", "index", "name", "spec", "started_at")

    def __init__(self, spec: ProcessSpec, index: int, cid: str, name: str, started_at: float) -> None:
        self.spec, self.index, self.cid, self.name, self.started_at = spec, index, cid, name, started_at


class DockerLocalScheduler(LocalEngineImages, Scheduler):
    name = "docker-local"
    capabilities = frozenset(Capability)

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self._client: Any = None

    # ---- engine ------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            from dockyard.schedulers.docker_local.client import connect

            self._client = connect()
        return self._client

    @property
    def api(self) -> Any:
        return self.client.api

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ---- networks ----------------------------------------------------------------
    def network_create(self, name: str) -> NetworkInfo:
        return networks.create(self.api, name)

    def network_destroy(self, name: str) -> None:
        networks.destroy(self.api, name)

    def network_exists(self, name: str) -> bool:
        return name in ("bridge", "host", "none") or networks.exists(self.api, name)

    def network_list(self) -> list[NetworkInfo]:
        return networks.listing(self.api)

    def network_inspect(self, name: str) -> NetworkInfo:
        return networks.info(self.api, name)

    # ---- rollouts ----------------------------------------------------------------
    def rollout(self, plan: DeployPlan, hooks: Hooks, progress: Progress = no_progress) -> Rollout:
        old = self._drop_upcoming(containers.listing(self.api, plan.app))
        targets = [(spec, i) for spec in plan.processes for i in range(1, spec.scale + 1)]
        return self._roll(plan, targets, old, hooks, progress)

    def scale(self, plan: DeployPlan, hooks: Hooks, progress: Progress = no_progress) -> Rollout:
        """Add or retire only the instances whose count changed, if the release is running."""
        current = self._drop_upcoming(containers.listing(self.api, plan.app))
        live = {((c.get("Labels") or {}).get(L.PROCESS, ""), containers.index_of(c.get("Labels") or {})): c
                for c in current if L.is_live(containers.name_of(c))}
        if any((c.get("Labels") or {}).get(L.RELEASE) != plan.release for c in live.values()):
            return self.rollout(plan, hooks, progress)
        wanted = {(s.name, i) for s in plan.processes for i in range(1, s.scale + 1)}
        targets: list[Target] = []
        retire = [c for c in current if not L.is_live(containers.name_of(c))]  # leftovers
        for spec in plan.processes:
            for i in range(1, spec.scale + 1):
                have = live.get((spec.name, i))
                if have is None or have.get("State") != "running":
                    targets.append((spec, i))
                    if have is not None:
                        retire.append(have)
        retire += [c for key, c in live.items() if key not in wanted]
        return self._roll(plan, targets, retire, hooks, progress)

    def _drop_upcoming(self, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Containers left by an interrupted rollout never served: remove them now."""
        kept = []
        for c in found:
            if ".upcoming-" in containers.name_of(c):
                containers.remove(self.api, c["Id"])
            else:
                kept.append(c)
        return kept

    def _roll(self, plan: DeployPlan, targets: Sequence[Target], old: list[dict[str, Any]],
              hooks: Hooks, progress: Progress) -> Rollout:
        """Steps 1-4 of the module's pipeline; any failure or interrupt on the way undoes them."""
        rollout = _DockerRollout(self, plan, old)
        try:
            rollout.stopped = self._stop_first(plan, targets, old, progress)
            started = self._launch(plan, targets, hooks, progress)
            rollout.new_ids = [s.cid for s in started]
            self._check_all(plan, started, progress)
            self._attach_post_deploy(plan, started)
            self._switch(plan, started, old, rollout)
            rollout.instances = self._parallel(plan, lambda cid: containers.instance(self.api, cid), rollout.new_ids)
        except BaseException:
            # a failed check, or an interrupt (SIGINT/SIGTERM arrive as a BaseException)
            # at any point: every container this rollout created goes, the old ones serve
            rollout.abort()
            raise
        return rollout

    def run_checks(self, plan: DeployPlan, process_type: str, index: int | None = None) -> list[tuple[str, str | None]]:
        found = []
        for c in containers.listing(self.api, plan.app):
            lab = c.get("Labels") or {}
            name = containers.name_of(c)
            if (L.is_live(name) and lab.get(L.PROCESS) == process_type
                    and (index is None or containers.index_of(lab) == index)):
                found.append((containers.index_of(lab), c["Id"]))
        # the containers have been up for a while: no initial wait, only the checks themselves
        at = time.monotonic() - plan.checks.wait
        return [(L.live_name(plan.app, process_type, i), checks.check(self.api, plan, cid, process_type, at))
                for i, cid in sorted(found)]

    def _stop_first(self, plan: DeployPlan, targets: Sequence[Target], old: list[dict[str, Any]],
                    progress: Progress) -> list[str]:
        """With zero downtime disabled for a type (``checks:disable``), its old containers stop
        before the new ones start, as in Dokku: for processes that must never run twice."""
        types = {spec.name for spec, _ in targets if not plan.checks.zero_downtime_for(spec.name)}
        first = [c["Id"] for c in old if (c.get("Labels") or {}).get(L.PROCESS) in types
                 and c.get("State") == "running"]
        if first:
            progress(f"zero downtime is disabled for {', '.join(sorted(types))}: "
                     f"stopping {len(first)} old container(s) first", 0, len(first))
            timeout = self._stop_timeout(plan.app)
            self._parallel(plan, lambda cid: self.api.stop(cid, timeout=timeout), first)
        return first

    def _start_again(self, stopped: Sequence[str]) -> None:
        """A failed rollout leaves the old release serving, also where it was stopped first."""
        for cid in stopped:
            try:
                self.api.start(cid)
            except Exception as exc:
                log.warning("could not start old container %s again: %s", cid[:12], exc)

    def _launch(self, plan: DeployPlan, targets: Sequence[Target], hooks: Hooks,
                progress: Progress) -> list[_Started]:
        created: list[str] = []
        lock = threading.Lock()
        done = [0]
        api = self.api
        from dockyard.core.lookup import computed, computed_int

        # Dokku's scheduler-docker-local properties (app, then --global)
        init = computed(self.store, SETTINGS_PLUGIN, plan.app, "init-process", "true") != "false"
        workers = computed_int(self.store, SETTINGS_PLUGIN, plan.app, "parallel-schedule-count", plan.parallelism)

        def one(target: Target) -> _Started:
            spec, index = target
            name = L.upcoming_name(plan.app, spec.name, index, plan.release)
            cid = containers.create(api, plan, spec, index, name, init=init)
            with lock:
                created.append(cid)
            for net in plan.networks.attach_post_create:
                if net != plan.networks.initial_network:
                    containers.connect(api, cid, net,
                                       containers.deploy_aliases(plan.app, spec.name, plan.networks.tld, cid))
            hooks.fire("post-container-create", container_type="app", container_id=cid, app=plan.app,
                       phase=Phase.DEPLOY, process_type=spec.name, scheduler=self)
            api.start(cid)
            at = time.monotonic()
            with lock:
                done[0] += 1
                progress(f"started {L.live_name(plan.app, spec.name, index)}", done[0], len(targets))
            return _Started(spec, index, cid, name, at)

        if not targets:
            return []
        results: list[_Started] = []
        errors: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets)))) as pool:
            for fut in [pool.submit(one, t) for t in targets]:
                try:
                    results.append(fut.result())
                except BaseException as exc:
                    errors.append(exc)
        if errors:
            self._remove_all(created)
            # an interrupt (no Exception) outranks the failures it caused, and stays itself
            first = next((e for e in errors if not isinstance(e, Exception)), errors[0])
            if isinstance(first, DockyardError) or not isinstance(first, Exception):
                raise first
            raise DeployError(f"app {plan.app}: starting the new containers failed: {first}") from first
        return results

    def _check_all(self, plan: DeployPlan, started: list[_Started], progress: Progress) -> None:
        if not started:
            return
        if plan.checks.wait and any(plan.checks.enabled_for(s.spec.name) for s in started):
            progress(f"waiting {plan.checks.wait:g}s for checks", 0, len(started))
        api = self.api
        given_up = threading.Event()
        with ThreadPoolExecutor(max_workers=min(32, len(started))) as pool:
            try:
                verdicts = list(pool.map(
                    lambda s: checks.check(api, plan, s.cid, s.spec.name, s.started_at, given_up), started))
            except BaseException:
                given_up.set()  # interrupted: the checks still waiting stop now, not after ``wait``
                raise
        for s, reason in zip(started, verdicts, strict=True):
            if reason:
                lines = containers.last_log_lines(api, s.cid)
                shown = "\n".join(f"    {line}" for line in lines) or "    (no output)"
                raise DeployError(
                    f"app {plan.app}: {L.live_name(plan.app, s.spec.name, s.index)} failed its checks: {reason}; "
                    f"the new containers were removed and the old release keeps serving.\n"
                    f"  last log lines of {s.name}:\n{shown}"
                )

    def _attach_post_deploy(self, plan: DeployPlan, started: list[_Started]) -> None:
        for s in started:
            for net in plan.networks.attach_post_deploy:
                try:
                    containers.connect(self.api, s.cid, net,
                                       containers.deploy_aliases(plan.app, s.spec.name, plan.networks.tld, s.cid))
                except Exception as exc:
                    raise DeployError(f"app {plan.app}: attaching {s.name} to network {net} failed: {exc}") from exc

    def _switch(self, plan: DeployPlan, started: list[_Started], old: list[dict[str, Any]],
                rollout: _DockerRollout) -> None:
        """Old live names step aside first, then every new container takes its name."""

        def step_aside(c: dict[str, Any]) -> None:
            lab = c.get("Labels") or {}
            self.api.rename(c["Id"], L.retired_name(plan.app, lab.get(L.PROCESS, "x"), containers.index_of(lab),
                                                    c["Id"]))
            rollout.stepped_aside.append((c["Id"], containers.name_of(c)))

        self._parallel(plan, step_aside, [c for c in old if L.is_live(containers.name_of(c))])
        self._parallel(plan, lambda s: self.api.rename(s.cid, L.live_name(plan.app, s.spec.name, s.index)), started)

    @staticmethod
    def _parallel(plan: DeployPlan, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=max(1, min(plan.parallelism, len(items)))) as pool:
            return list(pool.map(fn, items))

    def _retire(self, plan: DeployPlan, old: list[dict[str, Any]], progress: Progress) -> None:
        if not old:
            return
        if plan.checks.wait_to_retire > 0:
            progress(f"waiting {plan.checks.wait_to_retire:g}s before retiring {len(old)} old container(s)",
                     0, len(old))
            time.sleep(plan.checks.wait_to_retire)
        timeout = self._stop_timeout(plan.app)
        api = self.api
        with ThreadPoolExecutor(max_workers=max(1, min(plan.parallelism, len(old)))) as pool:
            list(pool.map(lambda c: containers.retire(api, c["Id"], timeout), old))

    def _prune_images(self, plan: DeployPlan) -> None:
        self._prune_app_images(plan.app, plan.image)

    def _prune_app_images(self, app: str, keep: str) -> None:
        """Drop the app's earlier build tags (``dockyard/APP:*``), as Dokku's cleanup does,
        but those of the releases its history keeps (``releases:set APP retention N``): those
        stay for a rollback, and go once retention prunes their release.

        An image still used by a container (a retiring one, a one-off) is left alone.
        """
        plugin, key = KEPT_IMAGES
        kept = {keep, *self.store.list_get(plugin, app, key)}
        for img in self.api.images(name=f"dockyard/{app}"):
            for tag in img.get("RepoTags") or []:
                if tag not in kept:
                    try:
                        self.api.remove_image(tag)
                    except Exception as exc:
                        log.debug("kept image %s: %s", tag, exc)

    def _remove_upcoming(self, plan: DeployPlan) -> None:
        """Remove every ``…upcoming-RELEASE`` container of this rollout, found by name on
        the engine, so one created just before an interrupt is not missed."""
        suffix = f".upcoming-{plan.release}"
        self._remove_all([c["Id"] for c in containers.listing(self.api, plan.app)
                          if containers.name_of(c).endswith(suffix)])

    def _remove_all(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(ids))) as pool:
            list(pool.map(lambda cid: containers.remove(self.api, cid), ids))

    def _stop_timeout(self, app: str) -> int:
        from dockyard.core.lookup import stop_timeout_seconds

        return stop_timeout_seconds(self.store, app)

    def image_available(self, image: str) -> bool | None:
        """The engine runs only what it holds: a removed image cannot start again."""
        try:
            self.image_config(image)
        except NotFound:
            return False
        except DockyardError:  # the engine cannot be asked now: say nothing
            return None
        return True

    # ---- one-offs and builds -----------------------------------------------------
    def run(self, plan: DeployPlan, command: Sequence[str], hooks: Hooks, tty: bool = False,
            env: dict[str, str] | None = None) -> int:
        from dockyard.schedulers.docker_local.run import run

        return run(self.api, plan, command, hooks, tty, env, self)

    def build(self, app: str, context: Path, networks: NetworkSettings, hooks: Hooks,
              progress: Progress = no_progress) -> str:
        from dockyard.schedulers.docker_local.build import build

        return build(self.api, app, context, networks, progress)

    # ---- lifecycle -----------------------------------------------------------------
    def _live(self, app: str) -> list[dict[str, Any]]:
        return [c for c in containers.listing(self.api, app) if L.is_live(containers.name_of(c))]

    def stop(self, app: str) -> None:
        timeout = self._stop_timeout(app)
        for c in self._live(app):
            if c.get("State") == "running":
                self.api.stop(c["Id"], timeout=timeout)

    def start(self, app: str) -> None:
        for c in self._live(app):
            if c.get("State") != "running":
                self.api.start(c["Id"])

    def destroy(self, app: str) -> None:
        found = containers.listing(self.api, app, container_type=None)
        self._remove_all([c["Id"] for c in found])
        for img in self.api.images(name=f"dockyard/{app}"):
            for tag in img.get("RepoTags") or []:
                try:
                    self.api.remove_image(tag, force=True)
                except Exception as exc:
                    log.warning("could not remove image %s: %s", tag, exc)

    def status(self, app: str) -> list[Instance]:
        found = containers.listing(self.api, app)
        result = []
        for c in found:
            try:
                result.append(containers.instance(self.api, c["Id"]))
            except Exception as exc:  # removed while we listed
                if "404" not in str(exc) and "No such" not in str(exc):
                    raise
        return sorted(result, key=lambda i: (i.process_type, i.index, i.name))

    def inspect(self, app: str) -> list[dict[str, Any]]:
        """``docker container inspect`` of each live container (``APP.PROC.N``, running or
        stopped), ordered by process type and index, as Dokku's CONTAINER files list them."""
        found = sorted(self._live(app), key=lambda c: ((c.get("Labels") or {}).get(L.PROCESS, ""),
                                                       containers.index_of(c.get("Labels") or {})))
        result = []
        for c in found:
            try:
                result.append(self.api.inspect_container(c["Id"]))
            except Exception as exc:  # removed while we listed
                if "404" not in str(exc) and "No such" not in str(exc):
                    raise
        return result

    def retire(self, app: str, release: str, image: str) -> list[str]:
        """Stop and remove every container of ``app`` but the live ones (``APP.PROC.N``):
        ``…retired-ID`` ones a failed ``core-post-deploy`` kept running, ``…upcoming-R`` ones
        an interrupted rollout left; then drop image tags other than ``image``.

        A live container of another release is serving (the store is behind what runs,
        e.g. a deploy stopped before recording its release): it is kept, with a warning,
        since removing it would take the app down; ``ps:rebuild`` replaces it.
        """
        timeout = self._stop_timeout(app)
        retired: list[str] = []
        for c in sorted(containers.listing(self.api, app), key=containers.name_of):
            name = containers.name_of(c)
            if L.is_live(name):
                found = (c.get("Labels") or {}).get(L.RELEASE, "")
                if found != release:
                    log.warning("%s runs release %s, not the current %s; it is kept (ps:rebuild %s replaces it)",
                                name, found or "(none)", release, app)
                continue
            containers.retire(self.api, c["Id"], timeout)
            retired.append(name)
        self._prune_app_images(app, image)
        return retired

    def cleanup(self, app: str) -> list[str]:
        """Exited ``run`` containers of ``app`` (a detached one-off that ended, one whose
        removal a crash skipped); a running one-off is someone's shell and stays."""
        done = [c for c in containers.listing(self.api, app, "run") if c.get("State") != "running"]
        self._remove_all([c["Id"] for c in done])
        return sorted(containers.name_of(c) for c in done)

    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Listener]]:
        """The live, running containers' addresses on the initial network, at the port
        ``exposure`` gives their process type."""
        return containers.listeners_of([c for c in self._live(app) if c.get("State") == "running"], exposure)

    def logs(self, app: str, process_type: str | None = None, follow: bool = False,
             tail: int | None = None) -> Iterator[str]:
        from dockyard.schedulers.docker_local.logs import logs

        return logs(self.api, app, process_type, follow, tail)

    def events(self) -> Iterator[SchedulerEvent]:
        from dockyard.schedulers.docker_local.events import stream

        return stream(self.api)

    @classmethod
    def describe(cls) -> dict[str, str]:
        return {
            "instances": "one container per process instance, named APP.PROC.N, labelled "
                         f"{L.APP}, {L.PROCESS}, {L.DYNO}, {L.RELEASE}",
            "attach-post-create": "docker network connect after create, before start (deploy and run); "
                                  "docker build's network for builds",
            "attach-post-deploy": "docker network connect on the running, checked containers, before "
                                  "core-post-deploy and the retirement of the old ones",
            "initial-network": "the container's --network at create; listeners use its address there",
            "build": "Dockerfile build through the SDK; its single network is the first post-create "
                     "network, else the initial network",
            "tld": "network aliases APP.PROC[.TLD] and <short-id>.APP.PROC[.TLD] (deploy phase only)",
            "bind-all-interfaces": "web's PORT published on a random port of every host interface",
            "zero-downtime": "new containers are created as APP.PROC.N.upcoming-RELEASE, checked, then "
                             "renamed over the old ones (renamed APP.PROC.N.retired-ID), which retire "
                             "after wait-to-retire",
            "restart-policy": "ps restart-policy, default on-failure:10",
        }


class _DockerRollout(Rollout):
    """Renamed in place, old containers still running: ``finish`` retires them after
    ``wait-to-retire``; ``undo`` removes the new ones, gives the old ones their names back and
    starts again those stopped first, so what runs is exactly what ran before."""

    def __init__(self, driver: DockerLocalScheduler, plan: DeployPlan, old: list[dict[str, Any]]) -> None:
        super().__init__(plan, driver)
        self.driver, self.old = driver, old
        self.stopped: list[str] = []  # old containers stopped first (zero downtime off)
        self.new_ids: list[str] = []
        self.stepped_aside: list[tuple[str, str]] = []  # (id, live name it had)

    def finish(self, progress: Progress = no_progress) -> None:
        self.driver._retire(self.plan, self.old, progress)
        self.driver._prune_images(self.plan)

    def undo(self) -> str:
        d, plan = self.driver, self.plan
        d._remove_all(self.new_ids)
        d._remove_upcoming(plan)  # also one created just before an interrupt
        for cid, name in self.stepped_aside:
            try:
                d.api.rename(cid, name)
            except Exception as exc:
                log.warning("could not give %s its name %s back: %s", cid[:12], name, exc)
        d._start_again(self.stopped)
        return f"the new containers were removed and the old ones of {plan.app} kept serving"
