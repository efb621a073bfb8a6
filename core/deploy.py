"""Deploy orchestration: the core drives every scheduler through the same steps.

1. the app must exist; the per-app deploy lock (``deploy-APP``) is taken from the store,
   so two deploys of one app never interleave, even from two hosts on redis or etcd;
2. the networks and ports are checked against the scheduler's capabilities
   (``check_plan``) and every named network must exist, before anything changes;
3. an image is built (``--build``) or taken as given; its process types come from
   ``--procfile``, else the Procfile in the image's working directory (Dokku's
   ``ps procfile-path``, relative to it), else its CMD as web;
4. ``pre-deploy`` fires; the proxy's wiring subscribes to ``core-post-deploy``;
5. ``scheduler.rollout(plan)`` puts the new release up beside the old one and checks it;
6. core fires ``core-post-deploy`` with the rollout's listeners (the proxy switches); if a
   subscriber failed, ``rollout.abort()`` removes the new release and the proxy is rebuilt
   from what runs; else the release (image plus the parsed process list) is recorded and
   ``rollout.finish()`` retires the old one;
7. ``post-deploy`` fires.

A failure before the release is recorded leaves the stored release and the running
instances as they were. So does SIGINT or SIGTERM under
``dockyard.core.interrupts.interruptible`` (the deploy command installs it): ``Interrupted``
takes the driver's failure path (or ``abort``), and the CLI exits 130 or 143. Once traffic
has switched the new release serves, so it is recorded before the old one retires.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from dockyard.core import releases
from dockyard.core.errors import DeployError, DockyardError, Interrupted, NotFound, NotSupported, ValidationError
from dockyard.core.hooks import Hooks
from dockyard.core.images import image_processes
from dockyard.core.interrupts import held
from dockyard.core.models import DeployPlan, Instance, Listener, NetworkSettings, PortMapping
from dockyard.core.plan import (
    RELEASE,
    build_plan,
    complete_listeners,
    current_release,
    effective_scale,
    is_deployed,
    read_networks,
    read_scale,
    release_ops,
    write_scale,
)
from dockyard.core.ports import read_port_map
from dockyard.core.procfile import DEFAULT_PROCFILE_PATH, Processes, parse_procfile
from dockyard.core.properties import computed, deploy_lock, is_locked, require_app
from dockyard.propstores.base import Delete, Op, PropertyStore, Put
from dockyard.schedulers.base import Capability, Progress, Rollout, Scheduler, no_progress
from dockyard.schedulers.capabilities import check_plan

log = logging.getLogger("dockyard.deploy")

_TYPE_RE = re.compile(r"^[A-Za-z0-9_-]+$")
LOCK_TIMEOUT = 5.0
#: where the current release's processes came from: ``image:PATH`` (the image's Procfile at
#: procfile-path PATH) or ``given`` (``--procfile`` or the Python API), so ``ps:rebuild``
#: knows whether a changed procfile-path means reading the image again
PROCESSES_SOURCE = "processes-source"


# ---- checks before any change --------------------------------------------------------
def preflight(scheduler: Scheduler, app: str, networks: NetworkSettings, ports: Sequence[PortMapping],
              build: bool = False, run: bool = False) -> None:
    """Refuse what the scheduler cannot honour, and networks that do not exist."""
    check_plan(app, networks, ports, scheduler.name, scheduler.capabilities)
    if build and Capability.BUILD not in scheduler.capabilities:
        raise NotSupported(f"app {app}: deploy --build cannot be honoured by the {scheduler.name} scheduler "
                           f"(it lacks the {Capability.BUILD} capability); deploy an image instead")
    if run and Capability.RUN not in scheduler.capabilities:
        raise NotSupported(f"app {app}: run cannot be honoured by the {scheduler.name} scheduler "
                           f"(it lacks the {Capability.RUN} capability)")
    wanted: list[tuple[str, str]] = [(n, "attach-post-create") for n in networks.attach_post_create]
    if not run:
        wanted += [(n, "attach-post-deploy") for n in networks.attach_post_deploy]
    if networks.initial_network:
        wanted.append((networks.initial_network, "initial-network"))
    for net, setting in wanted:
        if not scheduler.network_exists(net):
            raise NotFound(f"app {app}: network {net} (set as {setting}) does not exist on the "
                           f"{scheduler.name} scheduler; nothing was changed")


def subscribe_routing(hooks: Hooks, store: PropertyStore, scheduler: Scheduler) -> None:
    """Let the proxy rebuild on ``core-post-deploy``, once per Hooks object."""
    if hooks.subscribed_once("dockyard-routing"):
        return
    from dockyard.core import routing

    routing.subscribe(hooks, store, scheduler)


# ---- processes ----------------------------------------------------------------------
def read_procfile(path: str | Path) -> Processes:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValidationError(f"cannot read Procfile {path}: {exc.strerror or exc}") from exc
    processes = parse_procfile(text)
    if not processes:
        raise ValidationError(f"Procfile {path} defines no process types")
    return processes


def procfile_path(store: PropertyStore, app: str) -> str:
    """Dokku's computed ``ps procfile-path``: the app's, else the global one, else ``Procfile``."""
    return computed(store, "ps", app, "procfile-path", DEFAULT_PROCFILE_PATH) or DEFAULT_PROCFILE_PATH


def plan_for_render(store: PropertyStore, app: str, image: str | None = None,
                    reader: Scheduler | None = None) -> DeployPlan:
    """The plan a deploy would use, for the render commands (``k8s:manifests``, ``nomad:job``).

    The given image's processes are read exactly as ``deploy_app`` reads them; with no image
    it is the app's current release.
    """
    require_app(store, app)
    if image is None:
        return build_plan(store, app)
    if reader is None:
        raise ValidationError("a plan for a given image needs a scheduler to read the image")
    return build_plan(store, app, image=image, processes=image_processes(reader, image, procfile_path(store, app)))


# ---- deploy -------------------------------------------------------------------------
def deploy_app(
    store: PropertyStore,
    scheduler: Scheduler,
    app: str,
    image: str | None = None,
    build_dir: str | Path | None = None,
    procfile: str | Path | None = None,
    hooks: Hooks | None = None,
    progress: Progress = no_progress,
    processes: Processes | None = None,
    description: str | None = None,
) -> list[Instance]:
    """Deploy ``image`` (or a build of ``build_dir``) as ``app``'s new release.

    ``description`` is the release record's (default ``Deploy IMAGE``)."""
    require_app(store, app)
    if is_locked(store, app):  # apps:lock, as Dokku's .deploy.lock
        raise DeployError(f"Deploy lock exists for {app}: apps:unlock {app} to deploy again")
    if (image is None) == (build_dir is None):
        raise ValidationError("deploy needs exactly one of --image IMAGE or --build DIR")
    if build_dir is not None and not Path(build_dir, "Dockerfile").is_file():
        raise ValidationError(f"no Dockerfile in {build_dir}")
    hooks = hooks or Hooks()
    if procfile is not None:
        processes = read_procfile(procfile)
    source = "given"
    with store.lock(deploy_lock(app), timeout=LOCK_TIMEOUT):
        if build_dir is not None:
            # check before a long build too; _release checks the final plan either way
            networks = read_networks(store, app)
            preflight(scheduler, app, networks, read_port_map(store, app), build=True)
            image = scheduler.build(app, Path(build_dir), networks, hooks, progress)
        assert image is not None
        if processes is None:
            path = procfile_path(store, app)
            processes = image_processes(scheduler, image, path)
            source = f"image:{path}"
        plan = build_plan(store, app, image=image, processes=processes)
        instances = _release(store, scheduler, plan, processes, hooks, progress, source,
                             description or f"Deploy {image}")
        # Dokku's apps properties, written once a deploy succeeded (tools read them to learn
        # what runs): an image deploy, or a build of a directory with a Dockerfile
        deployed_from = ("dockerfile", str(Path(build_dir).resolve())) if build_dir is not None else (
            "docker-image", image)
        store.apply([Put("apps", app, "deploy-source", deployed_from[0]),
                     Put("apps", app, "deploy-source-metadata", deployed_from[1])])
        return instances


def _release(store: PropertyStore, scheduler: Scheduler, plan: DeployPlan, processes: Processes,
             hooks: Hooks, progress: Progress, source: str | None = None, description: str = "Restart",
             config: Mapping[str, str] | None = None) -> list[Instance]:
    """Steps 4-7, under the deploy lock; the plan has passed preflight. ``source``: where
    ``processes`` came from (``PROCESSES_SOURCE``), None to keep the recorded one.

    Every rollout here is a numbered release (``core.releases``), recorded with
    ``description``. ``config`` (a rollback's snapshot) becomes the app's ``config`` scope
    in the batch that records the release, so a rollback that fails changes nothing."""
    preflight(scheduler, plan.app, plan.networks, plan.ports)
    progress = fenced(store, progress)
    store.check_fences()
    hooks.fire("pre-deploy", app=plan.app, plan=plan, store=store, scheduler=scheduler)
    subscribe_routing(hooks, store, scheduler)
    recorded_source = source or store.get(RELEASE, plan.app, PROCESSES_SOURCE) or ""
    record = releases.new_release(
        releases.allocate(store, plan.app), image=plan.image, processes=processes,
        env=dict(config) if config is not None else releases.app_config(store, plan.app),
        scale={p.name: p.scale for p in plan.processes}, description=description, release_id=plan.release,
        source=recorded_source)
    try:
        # recorded once traffic has switched and before the old release retires: from then on
        # the new release is what serves, whatever happens to the retirement
        instances = roll_out(scheduler, plan, hooks, progress, store=store,
                             on_switched=lambda: _record(store, plan, processes, source, record, config))
    except (DockyardError, Interrupted) as exc:  # a failed check, a platform error, a signal
        _record_failed(store, plan.app, record, exc)
        raise
    hooks.fire("post-deploy", app=plan.app, plan=plan, instances=instances, store=store, scheduler=scheduler)
    return instances


def _record_failed(store: PropertyStore, app: str, record: releases.Release, exc: BaseException) -> None:
    """Keep a release that did not take over in the history, with why, so ``releases:list``
    shows what was tried; the failure itself is what the caller raises, whatever happens here."""
    with held():
        try:  # the reason is the error the user sees (``interrupted by SIGTERM`` for a signal)
            store.apply(releases.failed_ops(store, app, record, str(exc)))
        except DockyardError as err:
            log.warning("%s: could not record the failed release %s: %s", app, record.name, err)


def roll_out(scheduler: Scheduler, plan: DeployPlan, hooks: Hooks, progress: Progress = no_progress, *,
             scale: bool = False, store: PropertyStore | None = None,
             on_switched: Callable[[], None] | None = None) -> list[Instance]:
    """Steps 5-6: the rollout, ``core-post-deploy``, then ``finish`` or ``abort``.

    The one place a release takes over from another, for deploys, rebuilds and scales (and
    for a driver's own tests, with no store). ``core-post-deploy`` gets the rollout's
    listeners, so the proxy switches to exactly the instances that passed their checks. If a
    subscriber fails, or an interrupt arrives while they run, the rollout is aborted: the
    new release goes, the old one is what runs, and with ``store`` the proxy is rebuilt from
    what runs (a subscriber after the proxy's may have failed). ``on_switched`` runs once
    traffic has switched, before the old release retires, shielded from SIGINT/SIGTERM.
    """
    rollout = (scheduler.scale if scale else scheduler.rollout)(plan, hooks, progress)
    try:
        failed = hooks.fire("core-post-deploy", app=plan.app, release=plan.release, plan=plan, scheduler=scheduler,
                            instances=rollout.instances, listeners=_RolloutListeners(rollout))
    except BaseException:
        _abort(rollout, scheduler, store)
        raise
    if failed:
        note = _abort(rollout, scheduler, store)
        raise DeployError(
            f"{plan.app}: release {plan.release} passed its checks, but switching traffic to it failed "
            f"({failed[0]}); {note}. Fix it, then deploy again"
        )
    if on_switched is not None:
        with held():
            on_switched()
    rollout.finish(progress)
    return rollout.instances


class _RolloutListeners(Mapping[str, list[Listener]]):
    """The rollout's listeners with every process type of the release, found on first use.

    ``core-post-deploy`` subscribers that route nothing never look, so a deploy behind the
    null proxy asks the platform nothing about where its instances listen."""

    def __init__(self, rollout: Rollout) -> None:
        self._rollout = rollout
        self._found: dict[str, list[Listener]] | None = None

    def _all(self) -> dict[str, list[Listener]]:
        if self._found is None:
            self._found = complete_listeners(self._rollout.listeners, self._rollout.plan.exposure)
        return self._found

    def __getitem__(self, process_type: str) -> list[Listener]:
        return self._all()[process_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _abort(rollout: Rollout, scheduler: Scheduler, store: PropertyStore | None) -> str:
    """Undo a rollout whose switch failed, then route to what runs again; never interrupted."""
    with held():
        note = rollout.abort()
        if store is not None:
            from dockyard.core import routing

            try:
                routing.rebuild(store, scheduler, rollout.plan.app, force=False)
            except DockyardError as exc:
                log.warning("%s: the proxy config could not be rebuilt after the aborted rollout: %s",
                            rollout.plan.app, exc)
    return note


def fenced(store: PropertyStore, progress: Progress) -> Progress:
    """``progress`` that first checks the deploy lock is still ours. Every step a driver
    reports (each container created, started, checked) is then a point where a deploy whose
    lock lapsed (the process was stopped past the lock's TTL and another deploy took over)
    stops with LockLost and goes down the driver's failure path, instead of racing the other
    deploy on the same app. The driver only reports progress; the check is core's."""
    def step(message: str, done: int, total: int) -> None:
        store.check_fences()
        progress(message, done, total)

    return step


def _record(store: PropertyStore, plan: DeployPlan, processes: Processes, source: str | None,
            record: releases.Release, config: Mapping[str, str] | None = None) -> None:
    """Step 6's writes, in one atomic batch: the release (the current one and its numbered
    record, the one it replaces marked superseded, history beyond retention pruned), the
    deployed image, where the processes came from and, for a rollback, the app's restored
    environment. All or nothing: a crash leaves the store saying what ran before, or what runs now."""
    app = plan.app
    ops: list[Op] = [*release_ops(app, plan.release, plan.image, processes),
                     Put("apps", app, "deployed-image", plan.image)]
    if source is not None:
        ops.append(Put(RELEASE, app, PROCESSES_SOURCE, source))
    # a deployed app comes back after a reboot again (Dokku's core-post-deploy sets
    # restore true; unset is true, so ps:stop's false is simply removed)
    if store.exists("ps", app, "restore"):
        ops.append(Delete("ps", app, "restore"))
    ops += releases.succeeded_ops(store, app, record)
    if config is not None:
        ops += releases.config_restore_ops(store, app, config)
    store.apply(ops)


def rebuild_app(store: PropertyStore, scheduler: Scheduler, app: str, hooks: Hooks | None = None,
                progress: Progress = no_progress, reread_procfile: bool = False,
                description: str = "Restart") -> list[Instance]:
    """A fresh zero-downtime rollout of the current image and processes (ps:restart, ps:start).

    ``reread_procfile`` (ps:rebuild, which rebuilds from source in Dokku): when the
    processes were read from the image and ``procfile-path`` has changed since, read the
    image's Procfile again at the new path. Processes given with ``--procfile`` are kept.
    It is a new release (the environment or networks may have changed since), recorded
    with ``description`` (``Rebuild``, ``Set KEY``; ``Restart`` by default).
    """
    require_app(store, app)
    hooks = hooks or Hooks()
    with store.lock(deploy_lock(app), timeout=LOCK_TIMEOUT):
        current = current_release(store, app)
        if current is None:
            raise NotFound(f"app {app} has not been deployed yet")
        _release_id, image, processes = current
        # a release from before the source was recorded was read from the image's Procfile
        source = store.get(RELEASE, app, PROCESSES_SOURCE) or f"image:{DEFAULT_PROCFILE_PATH}"
        path = procfile_path(store, app)
        reread = reread_procfile and source.startswith("image:") and source != f"image:{path}"
        if reread:
            processes = image_processes(scheduler, image, path)
        plan = build_plan(store, app, image=image, processes=processes)
        return _release(store, scheduler, plan, processes, hooks, progress, f"image:{path}" if reread else None,
                        description)


def rollback_app(store: PropertyStore, scheduler: Scheduler, app: str, number: int | None = None,
                 hooks: Hooks | None = None, progress: Progress = no_progress
                 ) -> tuple[releases.Release, list[Instance]]:
    """Bring back release ``number`` (default: the newest that served before the current one)
    as a new release ``Rollback to vN``: its image and processes with its environment, in a
    zero-downtime rollout like a deploy's, under the deploy lock. The app's ``config`` scope
    becomes vN's snapshot in the batch that records the new release, so a failed rollback
    leaves the environment, the current release and what runs as they were; the app's
    current scale is kept (as Heroku's, a rollback restores code and config, not formation).

    Refused, naming the release, when the scheduler says its image is gone
    (``Scheduler.image_available``: docker-local asks its engine). A scheduler that cannot
    tell (one pulling from a registry) gets the reference, which the registry must still hold."""
    require_app(store, app)
    if is_locked(store, app):
        raise DeployError(f"Deploy lock exists for {app}: apps:unlock {app} to roll back")
    hooks = hooks or Hooks()
    with store.lock(deploy_lock(app), timeout=LOCK_TIMEOUT):
        target = releases.rollback_target(store, app, number)
        _check_image(scheduler, app, target)
        processes = target.process_list
        plan = build_plan(store, app, image=target.image, processes=processes, config=target.env)
        instances = _release(store, scheduler, plan, processes, hooks, progress, target.source or None,
                             f"Rollback to {target.name}", config=target.env)
        return target, instances


def _check_image(scheduler: Scheduler, app: str, target: releases.Release) -> None:
    """Refuse a rollback whose image the scheduler no longer has, before anything changes."""
    available = scheduler.image_available(target.image)
    if available is False:
        raise NotFound(f"cannot roll back {app} to {target.name}: its image {target.image} is no longer "
                       f"available to the {scheduler.name} scheduler; nothing was changed")
    if available is None:
        log.info("%s: the %s scheduler cannot tell whether image %s of %s is available; rolling back to "
                 "the reference", app, scheduler.name, target.image, target.name)


# ---- scale --------------------------------------------------------------------------
def parse_scale(args: Sequence[str]) -> dict[str, int]:
    changes: dict[str, int] = {}
    for arg in args:
        name, sep, count = arg.partition("=")
        if not sep or not _TYPE_RE.match(name) or not (count.isascii() and count.isdigit()):
            raise ValidationError(f"invalid scale {arg!r}: expected TYPE=N with N a whole number")
        if int(count) > 1000:
            raise ValidationError(f"invalid scale {arg!r}: at most 1000 instances per process type")
        changes[name.lower()] = int(count)
    if not changes:
        raise ValidationError("ps:scale needs at least one TYPE=N")
    return changes


def scale_app(store: PropertyStore, scheduler: Scheduler, app: str, changes: Mapping[str, int],
              hooks: Hooks | None = None, progress: Progress = no_progress) -> list[Instance] | None:
    """Store the scale; if the app is deployed, bring its instances to it.

    Before the first deploy only the scale is stored (types no Procfile has yet are
    accepted); the next deploy uses it. Otherwise the new scale is stored once traffic has
    switched to it, as a release is recorded: a failed or interrupted rollout (or a kill -9)
    leaves the scale that runs.
    """
    require_app(store, app)
    hooks = hooks or Hooks()
    with store.lock(deploy_lock(app), timeout=LOCK_TIMEOUT):
        current = current_release(store, app)
        if current is None:
            write_scale(store, app, changes)
            return None
        for name in sorted(set(changes) - set(current[2])):
            log.warning("process type %s is not in %s's Procfile; its scale is stored for later deploys", name, app)
        plan = build_plan(store, app, warn=False)
        plan = dataclasses.replace(plan, processes=tuple(
            dataclasses.replace(p, scale=changes.get(p.name, p.scale)) for p in plan.processes))
        preflight(scheduler, app, plan.networks, plan.ports)
        subscribe_routing(hooks, store, scheduler)
        def store_scale() -> None:
            write_scale(store, app, changes)

        return roll_out(scheduler, plan, hooks, fenced(store, progress), scale=True, store=store,
                        on_switched=store_scale)


# ---- run and lifecycle ----------------------------------------------------------------
def run_app(store: PropertyStore, scheduler: Scheduler, app: str, command: Sequence[str],
            hooks: Hooks | None = None, env: Mapping[str, str] | None = None, tty: bool = False) -> int:
    """A one-off container of the current release; returns its exit code."""
    require_app(store, app)
    if not command:
        raise ValidationError("run needs a command")
    plan = build_plan(store, app, warn=False)
    preflight(scheduler, app, plan.networks, (), run=True)
    return scheduler.run(plan, list(command), hooks or Hooks(), tty=tty, env=dict(env or {}))


def start_app(store: PropertyStore, scheduler: Scheduler, app: str, hooks: Hooks | None = None,
              progress: Progress = no_progress) -> None:
    """Start stopped instances; an app with none left gets a fresh rollout, as in Dokku."""
    require_app(store, app)
    if not is_deployed(store, app):
        raise NotFound(f"app {app} has not been deployed yet")
    instances = scheduler.status(app)
    if instances:
        scheduler.start(app)
    else:
        rebuild_app(store, scheduler, app, hooks, progress)
    if not instances or any(i.state != "running" for i in instances):
        store.delete("ps", app, "restore")  # started again: restored after a reboot (Dokku: true)


def retire_app(store: PropertyStore, scheduler: Scheduler, app: str) -> list[str]:
    """ps:retire: remove what earlier rollouts left of ``app`` (Dokku's wait-to-retire
    leftovers); return the removed instances' names.

    Under the app's deploy lock, so a rollout's new instances are never taken for leftovers.
    An app never deployed has nothing to retire.
    """
    require_app(store, app)
    with store.lock(deploy_lock(app), timeout=LOCK_TIMEOUT):
        current = current_release(store, app)
        if current is None:
            return []
        release, image, _processes = current
        return scheduler.retire(app, release, image)


def cleanup_app(store: PropertyStore, scheduler: Scheduler, app: str) -> list[str]:
    """Dokku's ``cleanup``: what ``retire_app`` removes, then the app's exited one-off
    instances (a ``run`` that ended without being removed); a running one is kept."""
    return retire_app(store, scheduler, app) + scheduler.cleanup(app)


def restore_app(store: PropertyStore, scheduler: Scheduler, app: str, hooks: Hooks | None = None,
                progress: Progress = no_progress, warn: Callable[[str], None] = log.warning,
                info: Callable[[str], None] = log.info) -> bool:
    """ps:restore of one app, after a reboot: True if it is (now) running and wants routing.

    As Dokku's: leftovers of earlier rollouts go first (scheduler-pre-restore); an app not
    deployed, or whose ``restore`` is ``false`` (ps:stop sets it), is skipped with a warning;
    otherwise its stopped instances start, or, if any is missing, the app is redeployed.
    """
    require_app(store, app)
    retire_app(store, scheduler, app)
    current = current_release(store, app)
    if current is None:
        warn(f"App {app} has not been deployed")
        return False
    if store.get("ps", app, "restore") == "false":
        warn(f"Skipping ps:restore for {app} as restore property is false")
        return False
    info("Starting app")
    instances = scheduler.status(app)
    scale = effective_scale(read_scale(store, app), current[2])
    have: dict[str, int] = {}
    for i in instances:
        have[i.process_type] = have.get(i.process_type, 0) + 1
    running = [i for i in instances if i.state == "running"]
    if any(have.get(proc, 0) < n for proc, n in scale.items()):
        warn("App is running in mixed mode, releasing" if running else
             "App has been detected as not running, releasing")
        rebuild_app(store, scheduler, app, hooks, progress)
    elif len(running) < len(instances):
        warn("App has been detected as not running, starting its containers")
        scheduler.start(app)
    else:
        warn(f"App {app} already running")
    return True
