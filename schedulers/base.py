"""The Scheduler contract: what core asks of every scheduler, and the plain types it uses.

Core drives every rollout; a driver carries out one step at a time and never calls back into
core's orchestration:

1. core builds a ``DeployPlan`` and refuses what the driver's ``capabilities`` cannot honour
   (``schedulers.capabilities.check_plan``), then takes the app's deploy lock;
2. ``scheduler.rollout(plan, hooks, progress)`` puts the new release up beside the old one,
   fires ``post-container-create`` (after create, before start), waits for its checks and
   attaches the post-deploy networks, and returns a ``Rollout``: the new, checked instances
   and their listeners. On a failed check it removes what it made and raises DeployError
   (the old release never stopped serving);
3. core fires ``core-post-deploy`` with the rollout's listeners (the proxy switches there,
   as a subscriber like any plugin's);
4. core calls ``rollout.finish()`` (retire the old release), or ``rollout.abort()`` when a
   subscriber failed (remove the new release; the old one keeps serving);
5. core records the release and fires ``post-deploy``.

``docs/architecture.md`` maps each step onto docker-local, Kubernetes and Nomad.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dockyard.core.errors import NotSupported
from dockyard.core.models import (
    DeployPlan,
    Exposure,
    ImageConfig,
    Instance,
    Listener,
    NetworkInfo,
    NetworkSettings,
    Phase,
    PortMapping,
    ProcessSpec,
    SchedulerEvent,
)

if TYPE_CHECKING:
    from dockyard.core.hooks import Hooks
    from dockyard.propstores.base import PropertyStore

__all__ = [
    "Capability",
    "DeployPlan",
    "Exposure",
    "ImageConfig",
    "Instance",
    "Listener",
    "NetworkInfo",
    "Phase",
    "PortMapping",
    "ProcessSpec",
    "Progress",
    "Rollout",
    "Scheduler",
    "SchedulerEvent",
    "no_progress",
]

#: progress callback: (message, done, total); total 0 means unknown
Progress = Callable[[str, int, int], None]


def no_progress(message: str, done: int, total: int) -> None:
    return None


class Capability(enum.StrEnum):
    ATTACH_POST_CREATE = "attach-post-create"
    ATTACH_POST_DEPLOY = "attach-post-deploy"
    MULTIPLE_NETWORKS = "multiple-networks"
    INITIAL_NETWORK = "initial-network"
    BUILD = "build"
    RUN = "run"
    LOGS = "logs"
    EVENTS = "events"
    ZERO_DOWNTIME = "zero-downtime"
    CHECKS_RUN = "checks-run"
    TCP_LISTENERS = "tcp-listeners"
    UDP_LISTENERS = "udp-listeners"


class Rollout(abc.ABC):
    """A new release going up beside the one it replaces, and what it changed so far.

    A driver makes its Rollout when the rollout starts and notes each change on it, so the
    same object undoes a failure halfway (the driver calls ``abort`` and raises) and a
    failed switch later (core calls ``abort``). Once ``Scheduler.rollout`` returns, the
    new instances have passed their checks and ``instances`` and ``listeners`` describe
    them: core hands the listeners to ``core-post-deploy``, so the proxy switches to exactly
    what passed. Core then calls ``finish`` or ``abort``, under the deploy lock.
    """

    def __init__(self, plan: DeployPlan, scheduler: Scheduler) -> None:
        self.plan = plan
        self.scheduler = scheduler
        self.instances: list[Instance] = []
        self._listeners: dict[str, list[Listener]] | None = None
        self._aborted: str | None = None

    @property
    def listeners(self) -> dict[str, list[Listener]]:
        """Where the new instances listen, read when first asked (``read_listeners``).

        Only a proxy that routes traffic asks: behind the null proxy a rollout spends no
        calls finding listeners (on a cluster, Service and EndpointSlice lists and a wait
        for every endpoint), which would be most of a scale's cost there.
        """
        if self._listeners is None:
            self._listeners = self.read_listeners()
        return self._listeners

    def read_listeners(self) -> dict[str, list[Listener]]:
        """The checked instances' listeners; by default what the scheduler finds now. A
        driver whose platform lists endpoints late (kubernetes) waits for them here."""
        return self.scheduler.listeners(self.plan.app, self.plan.exposure)

    @abc.abstractmethod
    def finish(self, progress: Progress = no_progress) -> None:
        """Traffic has switched: retire what the new release replaces (after the app's
        ``wait-to-retire`` where the platform does not do this itself)."""

    @abc.abstractmethod
    def undo(self) -> str:
        """Remove what this rollout changed so that what ran before runs again; return what
        was done, for the error the user sees."""

    def abort(self) -> str:
        """``undo``, once: a failure inside the driver and core's own abort never undo twice."""
        if self._aborted is None:
            self._aborted = self.undo()
        return self._aborted


class Scheduler(abc.ABC):
    """Abstract scheduler. Drivers set ``name`` and ``capabilities``."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, store: PropertyStore) -> None:
        self.store = store

    # ---- networks ----------------------------------------------------------------
    def network_create(self, name: str) -> NetworkInfo:
        raise NotSupported(f"the {self.name} scheduler does not manage networks")

    def network_destroy(self, name: str) -> None:
        raise NotSupported(f"the {self.name} scheduler does not manage networks")

    def network_exists(self, name: str) -> bool:
        raise NotSupported(f"the {self.name} scheduler does not manage networks")

    def network_list(self) -> list[NetworkInfo]:
        raise NotSupported(f"the {self.name} scheduler does not manage networks")

    def network_inspect(self, name: str) -> NetworkInfo:
        raise NotSupported(f"the {self.name} scheduler does not manage networks")

    # ---- lifecycle ---------------------------------------------------------------
    @abc.abstractmethod
    def rollout(self, plan: DeployPlan, hooks: Hooks, progress: Progress = no_progress) -> Rollout:
        """Put ``plan``'s release up beside the running one and wait for its checks.

        Returns once the new instances passed their checks and joined their post-deploy
        networks; the old ones still run (unless zero downtime is off for their type). On a
        failed check the new instances are removed, the old ones keep serving, and a
        DeployError carrying the failing instance's last log lines is raised. The same holds
        for an interrupt (a BaseException) at any point.
        """

    def scale(self, plan: DeployPlan, hooks: Hooks, progress: Progress = no_progress) -> Rollout:
        """Bring the instance counts to the plan's scale, for the release that runs; by
        default a full rollout. A driver that can add or remove only the changed instances
        overrides it."""
        return self.rollout(plan, hooks, progress)

    def run(self, plan: DeployPlan, command: Sequence[str], hooks: Hooks, tty: bool = False,
            env: dict[str, str] | None = None) -> int:
        """Run a one-off instance of the release in ``plan``; return its exit code."""
        raise NotSupported(f"run is not supported by the {self.name} scheduler")

    def run_checks(self, plan: DeployPlan, process_type: str, index: int | None = None) -> list[tuple[str, str | None]]:
        """Run the zero-downtime checks now on the running instances of ``process_type`` (one
        index, or all): ``(instance name, None or why it failed)`` for each (``checks:run``)."""
        raise NotSupported(f"checks:run is not supported by the {self.name} scheduler")

    def image_config(self, image: str) -> ImageConfig:
        """``image``'s WORKDIR and CMD, read where this platform keeps its images. NotFound
        when the image is not there; NotSupported (the default) when the driver cannot look:
        core then runs the image's own CMD as web and says how to pass a Procfile."""
        raise NotSupported(f"the {self.name} scheduler cannot read images")

    def image_file(self, image: str, path: str) -> str | None:
        """The text of the file at absolute ``path`` in ``image``; None when it has none."""
        raise NotSupported(f"the {self.name} scheduler cannot read images")

    def image_available(self, image: str) -> bool | None:
        """Can an instance of ``image`` start now? None (the default) when the driver cannot
        tell, as when its platform pulls from a registry this host cannot see; core then
        trusts the reference (a rollback to an older release, say)."""
        return None

    def build(self, app: str, context: Path, networks: NetworkSettings, hooks: Hooks,
              progress: Progress = no_progress) -> str:
        """Build an image from a Dockerfile in ``context``; return its reference."""
        raise NotSupported(f"build is not supported by the {self.name} scheduler")

    @abc.abstractmethod
    def stop(self, app: str) -> None: ...

    @abc.abstractmethod
    def start(self, app: str) -> None: ...

    @abc.abstractmethod
    def destroy(self, app: str) -> None:
        """Remove every instance and object of ``app``; properties are the core's job."""

    @abc.abstractmethod
    def status(self, app: str) -> list[Instance]: ...

    def inspect(self, app: str) -> list[dict[str, Any]]:
        """``ps:inspect``: the app's instances in the platform's own detail (Dokku prints
        ``docker container inspect`` of them). A driver whose platform has such a document
        returns it; by default each instance as ``status`` reports it, as plain data."""
        return [dataclasses.asdict(i) for i in self.status(app)]

    def cleanup(self, app: str) -> list[str]:
        """``cleanup``: remove ``app``'s one-off instances that have exited; return their
        names. By default nothing: a platform that removes finished one-offs itself (a
        Kubernetes run pod, a Nomad batch job) leaves none behind."""
        return []

    def retire(self, app: str, release: str, image: str) -> list[str]:
        """``ps:retire``: remove what earlier rollouts left of ``app`` (instances that are not
        the live ones of ``release``, images other than ``image``); return the instances'
        names. The core calls it under the app's deploy lock, so no rollout is under way.

        By default nothing: a platform that replaces instances itself (a Deployment's
        ReplicaSets, a Nomad job's allocations) leaves nothing behind for Dockyard to retire.
        A driver that retires old instances after ``wait-to-retire`` itself (docker-local)
        overrides this, for the ones a failed step left running.
        """
        return []

    @abc.abstractmethod
    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Listener]]:
        """``{process_type: [Listener(host, port)]}`` of ``app``'s live, serving instances.

        ``exposure`` is what the core knows of where the processes listen (the port each type
        uses, the initial network); a platform that publishes its own ports (a Service, a
        Nomad registration) may ignore it. The core adds the release's types that have no
        listener, so a driver lists only what it finds."""

    def logs(self, app: str, process_type: str | None = None, follow: bool = False,
             tail: int | None = None) -> Iterator[str]:
        raise NotSupported(f"logs are not supported by the {self.name} scheduler")

    def events(self) -> Iterator[SchedulerEvent]:
        raise NotSupported(f"events are not supported by the {self.name} scheduler")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""

    @classmethod
    def describe(cls) -> dict[str, str]:
        """How networks, phases, listeners etc. map onto this platform (docs/schedulers.md)."""
        return {}
