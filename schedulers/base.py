"""The Scheduler contract.

The core builds a ``DeployPlan`` from properties, checks it against the driver's declared
capabilities (``check_plan``) before anything changes, then hands it to ``deploy``. The
driver carries out the phases and fires the hooks at the points Dokku fires its triggers:
``post-container-create`` (after create, before start) and ``core-post-deploy`` (new
instances passed their checks and are on their post-deploy networks; the old ones have not
retired yet), which is where the proxy switches.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeVar

from dockyard.core.errors import DockyardError, NotFound, NotSupported, ValidationError
from dockyard.core.hooks import Hooks
from dockyard.core.models import (
    DeployPlan,
    Exposure,
    Instance,
    Listener,
    NetworkInfo,
    NetworkSettings,
    Phase,
    PortMapping,
    ProcessSpec,
    SchedulerEvent,
)
from dockyard.core.properties import computed_float, computed_int
from dockyard.propstores.base import PropertyStore

__all__ = [
    "Capability",
    "DeployPlan",
    "Instance",
    "Listener",
    "NetworkInfo",
    "Phase",
    "PortMapping",
    "ProcessSpec",
    "Progress",
    "Scheduler",
    "SchedulerEvent",
    "check_plan",
]

#: progress callback: (message, done, total); total 0 means unknown
Progress = Callable[[str, int, int], None]


#: Dokku's app names (``^[a-z0-9][a-z0-9.-]*$``) can hold dots and start with a digit; a
#: platform name may not (a Kubernetes Service name is a DNS-1035 label).
_PLATFORM_SUFFIX = re.compile(r"-x[0-9a-f]{10}$")


def platform_name(name: str, valid: re.Pattern[str], max_len: int = 63) -> str:
    """The one way every driver maps a Dokku name onto its platform's naming rule (pure).

    - A name that already matches ``valid``, fits ``max_len`` and does not end like a mapped
      name (``-x`` and 10 hex digits) is used unchanged, so existing objects keep their names.
    - Any other name becomes: lower-cased, each character outside ``[a-z0-9-]`` replaced by
      ``-``, an ``a`` put in front if it does not start with a letter, cut so the result fits,
      then ``-x`` + the first 10 hex digits of SHA-256 of the *original* name.

    The two sets never meet (unchanged names cannot end in the suffix; mapped ones always
    do), and two mapped names are equal only if their originals share a 40-bit SHA-256
    prefix, so ``a.b`` and ``a-b`` stay apart. ``valid`` must accept ``[a-z][a-z0-9-]*[a-z0-9]``.
    """
    import hashlib

    if len(name) <= max_len and valid.fullmatch(name) and not _PLATFORM_SUFFIX.search(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    base = re.sub(r"[^a-z0-9-]", "-", name.lower())
    if not base[:1].isalpha():
        base = "a" + base
    base = base[: max_len - 12].rstrip("-")
    return f"{base}-x{digest}"


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


def required_capabilities(networks: NetworkSettings, ports: Sequence[PortMapping] = ()) -> dict[str, Capability]:
    """Setting name -> the capability it needs, for the settings a plan actually uses."""
    need: dict[str, Capability] = {}
    if networks.attach_post_create:
        need["attach-post-create"] = Capability.ATTACH_POST_CREATE
    if networks.attach_post_deploy:
        need["attach-post-deploy"] = Capability.ATTACH_POST_DEPLOY
    if networks.initial_network:
        need["initial-network"] = Capability.INITIAL_NETWORK
    total = len(networks.attach_post_create) + len(networks.attach_post_deploy) + bool(networks.initial_network)
    if len(networks.attach_post_create) > 1 or len(networks.attach_post_deploy) > 1 or total > 1:
        need["networks (more than one)"] = Capability.MULTIPLE_NETWORKS
    if any(p.scheme == "tcp" for p in ports):
        need["ports (tcp)"] = Capability.TCP_LISTENERS
    if any(p.scheme == "udp" for p in ports):
        need["ports (udp)"] = Capability.UDP_LISTENERS
    return need


def check_plan(app: str, networks: NetworkSettings, ports: Sequence[PortMapping],
               scheduler_name: str, capabilities: frozenset[Capability]) -> None:
    """Refuse, before any change, a setting the scheduler cannot honour."""
    for setting, cap in required_capabilities(networks, ports).items():
        if cap not in capabilities:
            raise NotSupported(
                f"app {app}: setting {setting} cannot be honoured by the {scheduler_name} scheduler "
                f"(it lacks the {cap} capability)"
            )


def run_argv(plan: DeployPlan, command: Sequence[str]) -> list[str]:
    """The argv a one-off ``run`` executes.

    As in Dokku, a first word naming a Procfile process runs that process's command with the
    remaining words appended; anything else runs as given.
    """
    argv = list(command)
    if not argv:
        raise ValidationError("run needs a command")
    spec = plan.process(argv[0])
    if spec is not None and spec.command is not None:
        argv = list(spec.command) + argv[1:]
    return argv


T = TypeVar("T")


class CallFailure(NamedTuple):
    """A driver's verdict on one failed API call."""

    #: raised (from the original exception) when the call is given up
    error: DockyardError
    #: worth another try: 5xx, 429, a dropped connection
    retriable: bool
    #: what the retry warning says happened
    note: str


def call_with_retries(fn: Callable[[], T], retries: int, backoff: float,
                      judge: Callable[[Exception], CallFailure | None], log: logging.Logger) -> T:
    """``fn()``, retried with exponential backoff (capped at 5 s) while ``judge`` calls the failure retriable.

    Cluster APIs blip (a leader election, a restarting API server), so every remote driver
    retries the same way; only the judging of its client library's exceptions differs. An
    exception ``judge`` does not recognise (None) propagates untouched.
    """
    delay = backoff
    for attempt in range(1, retries + 1):
        try:
            return fn()
        except Exception as exc:
            failure = judge(exc)
            if failure is None:
                raise
            if not failure.retriable or attempt >= retries:
                raise failure.error from exc
            log.warning("%s; retry %d/%d in %.1fs", failure.note, attempt, retries - 1, delay)
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    raise DockyardError(f"no attempt made ({retries} retries configured)")


class RetryingClient:
    """Base of the remote drivers' API clients: ``call`` with the shared retry policy, ``maybe``.

    A subclass says how its client library fails (``judge``); ``retries`` and ``backoff``
    come from the driver's ``retries`` / ``retry-backoff`` properties (``retry_settings``).
    """

    log: ClassVar[logging.Logger] = logging.getLogger("dockyard.schedulers")

    def __init__(self, retries: int = 5, backoff: float = 0.2) -> None:
        self.retries = retries
        self.backoff = backoff

    def judge(self, what: str, exc: Exception) -> CallFailure | None:
        """The verdict on ``exc`` from the call doing ``what``; None for an exception not from the API."""
        return None

    def call(self, what: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """``fn(*args, **kwargs)``, retrying 5xx/429 and dropped connections with backoff."""
        return call_with_retries(lambda: fn(*args, **kwargs), self.retries, self.backoff,
                                 lambda exc: self.judge(what, exc), self.log)

    def maybe(self, what: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T | None:
        """Like ``call`` but "not found" is None."""
        try:
            return self.call(what, fn, *args, **kwargs)
        except NotFound:
            return None


def retry_settings(store: PropertyStore, plugin: str) -> tuple[int, float]:
    """(retries, backoff seconds) from the driver's global ``retries`` and ``retry-backoff``."""
    return (computed_int(store, plugin, None, "retries", 5, minimum=1),
            computed_float(store, plugin, None, "retry-backoff", 0.2, minimum=0))


#: a log source: the prefix its lines get, and a callable that opens its byte stream
LogSource = tuple[str, Callable[[], Iterable[bytes]]]


def merge_log_streams(sources: Sequence[LogSource]) -> Iterator[str]:
    """Interleave followed log streams line by line as they are written, prefixed ``PREFIX: line``.

    One daemon thread per source opens and reads its stream, so a slow or silent source never
    holds up the others; the generator ends when every source has ended. A source that fails
    with a DockyardError ends with a ``[log stream ended: ...]`` line instead of killing the
    whole ``logs -t``.
    """
    lines: queue.Queue[str | None] = queue.Queue()

    def pump(prefix: str, open_stream: Callable[[], Iterable[bytes]]) -> None:
        try:
            pending = b""
            for chunk in open_stream():
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    lines.put(f"{prefix}: {line.decode(errors='replace')}")
            if pending:
                lines.put(f"{prefix}: {pending.decode(errors='replace')}")
        except DockyardError as exc:
            lines.put(f"{prefix}: [log stream ended: {exc}]")
        finally:
            lines.put(None)

    for prefix, open_stream in sources:
        threading.Thread(target=pump, args=(prefix, open_stream), daemon=True).start()
    remaining = len(sources)
    while remaining:
        item = lines.get()
        if item is None:
            remaining -= 1
        else:
            yield item


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
    def deploy(self, plan: DeployPlan, hooks: Hooks, progress: Progress = no_progress) -> list[Instance]:
        """Put ``plan`` in place with zero downtime where declared; return the new instances.

        On a failed check the new instances are removed, the old ones keep serving, and a
        DeployError carrying the failing instance's last log lines is raised.
        """

    def scale(self, plan: DeployPlan, hooks: Hooks, progress: Progress = no_progress) -> list[Instance]:
        """Bring the instance counts to the plan's scale; by default a full deploy."""
        return self.deploy(plan, hooks, progress)

    def run(self, plan: DeployPlan, command: Sequence[str], hooks: Hooks, tty: bool = False,
            env: dict[str, str] | None = None) -> int:
        """Run a one-off instance of the release in ``plan``; return its exit code."""
        raise NotSupported(f"run is not supported by the {self.name} scheduler")

    def run_checks(self, plan: DeployPlan, process_type: str, index: int | None = None) -> list[tuple[str, str | None]]:
        """Run the zero-downtime checks now on the running instances of ``process_type`` (one
        index, or all): ``(instance name, None or why it failed)`` for each (``checks:run``)."""
        raise NotSupported(f"checks:run is not supported by the {self.name} scheduler")

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


__all__ += [
    "CallFailure",
    "LogSource",
    "ProcessSpec",
    "call_with_retries",
    "merge_log_streams",
    "no_progress",
    "required_capabilities",
    "run_argv",
]
