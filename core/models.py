"""Plain data types shared by the core, the contracts and every driver.

They carry no behaviour that touches the outside world, so a driver can import them
without pulling in another driver or the CLI.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

DEFAULT_WEB_PORT = 5000


class Phase(enum.StrEnum):
    """When a container is created: Dokku's phase argument to post-container-create."""

    BUILD = "build"
    DEPLOY = "deploy"
    RUN = "run"


@dataclass(frozen=True)
class Listener:
    """One address a proxy can send traffic to: a container IP, a Service or an alloc port.

    ``target`` is the container port that this address forwards to, when the address is not
    the instance's own (a node's dynamic port, as Nomad's host address mode registers): the
    proxy then sends a port-map entry for that container port to ``host:port``. Without it
    the address is the instance's, serving every container port (``host:CONTAINER_PORT``),
    as Dokku routes to a container's IP.
    """

    host: str
    port: int
    target: int | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class PortMapping:
    """One port-map entry: ``scheme:host-port:container-port[:process-type]``."""

    scheme: str
    host_port: int
    container_port: int
    process_type: str = "web"

    def __str__(self) -> str:
        base = f"{self.scheme}:{self.host_port}:{self.container_port}"
        return base if self.process_type == "web" else f"{base}:{self.process_type}"


@dataclass(frozen=True)
class ProcessSpec:
    """One process type of a release.

    ``command`` is argv (Procfile commands are shlex-split as Dokku does for Dockerfile
    apps); ``None`` means the image's own CMD.
    """

    name: str
    command: tuple[str, ...] | None
    scale: int = 0


@dataclass(frozen=True)
class NetworkSettings:
    """The network plugin's computed properties (app value, then global, then default)."""

    attach_post_create: tuple[str, ...] = ()
    attach_post_deploy: tuple[str, ...] = ()
    initial_network: str | None = None
    bind_all_interfaces: bool = False
    tld: str | None = None


@dataclass(frozen=True)
class ChecksSettings:
    """Dokku-like zero-downtime checks: wait, then running-with-no-restarts or HTTP."""

    wait: float = 10.0
    wait_to_retire: float = 60.0
    timeout: float = 5.0
    attempts: int = 5
    path: str | None = None
    disabled: frozenset[str] = frozenset()
    skip_all: bool = False
    skipped: frozenset[str] = frozenset()
    disabled_all: bool = False

    def enabled_for(self, process_type: str) -> bool:
        """Are checks run for this type? Off when its zero-downtime is disabled or its checks skipped."""
        return not self.skip_all and process_type not in self.disabled and process_type not in self.skipped

    def zero_downtime_for(self, process_type: str) -> bool:
        """Do new containers start before the old ones stop? Dokku's ``checks:disable`` turns
        this off (old containers stop first: downtime, but never two at once), while
        ``checks:skip`` keeps it and only skips the checks."""
        return not self.disabled_all and process_type not in self.disabled


@dataclass(frozen=True)
class ImageConfig:
    """What a deploy needs from an image's own config: its WORKDIR (the Procfile path is
    relative to it) and its CMD (web's command when there is no Procfile)."""

    workdir: str = "/"
    cmd: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Exposure:
    """What an app's processes listen on: the release's process types, web's ``PORT``, the
    port map (a non-web type listens on its entry's container port) and the initial network
    (whose address a listener uses).

    These are routing settings, not platform state: ``ports:add`` changes them without a
    deploy. The core reads them (``core.plan.read_exposure``, or ``DeployPlan.exposure``
    during a rollout) and hands them to ``Scheduler.listeners``, so no driver reads the
    core's settings itself.
    """

    processes: tuple[str, ...] = ()
    web_port: int = DEFAULT_WEB_PORT
    ports: tuple[PortMapping, ...] = ()
    initial_network: str | None = None

    def port_of(self, process_type: str) -> int:
        """web listens on PORT; another type on its port-map entry's container port, else PORT."""
        if process_type != "web":
            mapped = next((m.container_port for m in self.ports if m.process_type == process_type), None)
            if mapped:
                return mapped
        return self.web_port


@dataclass(frozen=True)
class DeployPlan:
    """Everything a scheduler needs to put one release of an app in place.

    The core builds it from properties and checks it against the driver's capabilities
    before any driver code runs, so every scheduler sees the same processes, scale,
    environment and networks.
    """

    app: str
    release: str
    image: str
    processes: tuple[ProcessSpec, ...]
    env: dict[str, str] = field(default_factory=dict)
    networks: NetworkSettings = field(default_factory=NetworkSettings)
    checks: ChecksSettings = field(default_factory=ChecksSettings)
    ports: tuple[PortMapping, ...] = ()
    restart_policy: str = "on-failure:10"
    web_port: int = DEFAULT_WEB_PORT
    parallelism: int = 8

    def process(self, name: str) -> ProcessSpec | None:
        return next((p for p in self.processes if p.name == name), None)

    @property
    def exposure(self) -> Exposure:
        """What this release listens on, as ``Scheduler.listeners`` takes it mid-rollout."""
        return Exposure(tuple(p.name for p in self.processes), self.web_port, self.ports,
                        self.networks.initial_network)

    def env_for(self, process_type: str) -> dict[str, str]:
        """The app's config plus PORT for web, as Dokku sets it."""
        env = dict(self.env)
        if process_type == "web":
            env.setdefault("PORT", str(self.web_port))
        return env


@dataclass(frozen=True)
class Instance:
    """One running (or stopped) copy of a process type, as a scheduler reports it."""

    app: str
    process_type: str
    index: int
    id: str
    name: str
    state: str
    restart_count: int = 0
    release: str = ""
    addresses: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkInfo:
    """One network as ``network:info`` / ``network:list`` show it; the fields after
    ``containers`` are docker's (Dokku prints them), empty where a platform has none."""

    name: str
    id: str
    driver: str
    managed: bool
    containers: tuple[str, ...] = ()
    scope: str = ""
    created_at: str = ""
    internal: bool = False
    ipv6: bool = False
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SchedulerEvent:
    """One lifecycle event, normalised across engines for the event listener.

    ``action`` is one of start, restart, die, stop, destroy, health. ``max_retries`` is
    the on-failure limit (0 for other restart policies) so the listener can tell an
    exhausted policy from a loop.
    """

    action: str
    app: str
    process_type: str = ""
    instance_id: str = ""
    time: float = 0.0
    restart_policy: str = ""
    restart_count: int = 0
    max_retries: int = 0
    exit_code: int | None = None
