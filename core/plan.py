"""Build a DeployPlan from properties, and record releases.

Every scheduler (and the render commands ``k8s:manifests`` / ``nomad:job``) gets its plan
from here, so processes, scale, environment, networks and checks mean the same thing on
docker-local, Kubernetes and Nomad.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dockyard.core.errors import NotFound, ValidationError
from dockyard.core.models import ChecksSettings, DeployPlan, Exposure, Listener, NetworkSettings, ProcessSpec
from dockyard.core.names import GLOBAL_SCOPE, validate_dns_name, validate_network_name
from dockyard.core.ports import read_port_map, web_port
from dockyard.core.procfile import Processes
from dockyard.core.properties import as_bool, computed, computed_float, computed_int
from dockyard.propstores.base import PropertyStore, Put

if TYPE_CHECKING:
    from dockyard.schedulers.base import Scheduler

log = logging.getLogger("dockyard.plan")

RELEASE = "release"  # plugin holding the current release: image, processes, id
PS = "ps"  # plugin holding scale (list "scale" of TYPE=N) and restart-policy
NETWORK = "network"
CHECKS = "checks"

RESERVED_NETWORKS = ("host", "bridge")
#: the network properties that name networks to attach, several per value
ATTACH_PHASES = ("attach-post-create", "attach-post-deploy")
DEFAULT_RESTART_POLICY = "on-failure:10"


# ---- networks -----------------------------------------------------------------------
def split_networks(value: str) -> tuple[str, ...]:
    """Dokku 0.31+ stores several networks as one comma-separated value."""
    return tuple(n.strip() for n in value.split(",") if n.strip())


def validate_attach(prop: str, networks: tuple[str, ...], other: tuple[str, ...]) -> None:
    for net in networks:
        validate_network_name(net)
        if net in RESERVED_NETWORKS:
            raise ValidationError(f"invalid network {net!r} for {prop}: host and bridge cannot be attached")
        if net in other:
            raise ValidationError(f"network {net!r} is already associated with this app in the other attach phase")


def other_attach_phase(prop: str) -> str:
    return ATTACH_PHASES[1] if prop == ATTACH_PHASES[0] else ATTACH_PHASES[0]


def network_value(prop: str, values: tuple[str, ...], other: tuple[str, ...] = ()) -> str:
    """The value ``network:set`` stores for ``prop``, refused here if a deploy would refuse it
    (``read_networks`` checks the same), so one set of rules and messages serves both.

    ``other`` holds the networks of the other attach phase, for an attach property.
    """
    items = [v for raw in values for v in split_networks(raw)] if prop in ATTACH_PHASES else [v for v in values if v]
    if prop not in ATTACH_PHASES and len(items) > 1:
        raise ValidationError(f"network property {prop} takes one value")
    value = ",".join(items)
    if prop in ATTACH_PHASES:
        validate_attach(prop, tuple(items), other)
        if len(set(items)) != len(items):
            raise ValidationError(f"network property {prop} names a network twice: {value}")
    elif prop == "initial-network" and value:
        validate_network_name(value)
    elif prop == "tld" and value:
        validate_dns_name(value)
    elif prop == "bind-all-interfaces":
        if value and value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ValidationError(f"invalid bind-all-interfaces {value!r}: true or false")
        value = "true" if value and as_bool(value) else "false"  # Dokku stores false for empty
    return value


def read_networks(store: PropertyStore, app: str) -> NetworkSettings:
    create, deploy = (split_networks(computed(store, NETWORK, app, phase)) for phase in ATTACH_PHASES)
    validate_attach(ATTACH_PHASES[0], create, deploy)
    validate_attach(ATTACH_PHASES[1], deploy, create)
    initial = computed(store, NETWORK, app, "initial-network") or None
    if initial:
        validate_network_name(initial)
    return NetworkSettings(
        attach_post_create=create,
        attach_post_deploy=deploy,
        initial_network=initial,
        bind_all_interfaces=as_bool(computed(store, NETWORK, app, "bind-all-interfaces", "false")),
        tld=computed(store, NETWORK, app, "tld") or None,
    )


# ---- checks -------------------------------------------------------------------------
def _process_list(store: PropertyStore, app: str, prop: str) -> frozenset[str]:
    raw = computed(store, CHECKS, app, prop, "")
    return frozenset(p.strip() for p in raw.split(",") if p.strip())


def read_checks(store: PropertyStore, app: str) -> ChecksSettings:
    """Dokku's checks properties; ``disabled`` and ``skipped`` hold process types or ``_all_``."""
    disabled = _process_list(store, app, "disabled")
    skipped = _process_list(store, app, "skipped")
    return ChecksSettings(
        wait=computed_float(store, CHECKS, app, "wait", 10.0, minimum=0),
        wait_to_retire=computed_float(store, CHECKS, app, "wait-to-retire", 60.0, minimum=0),
        timeout=computed_float(store, CHECKS, app, "timeout", 5.0, minimum=0),
        attempts=computed_int(store, CHECKS, app, "attempts", 5, minimum=0),
        path=computed(store, CHECKS, app, "path") or None,
        disabled=disabled - {"_all_"},
        skipped=skipped - {"_all_"},
        disabled_all="_all_" in disabled,
        skip_all="_all_" in disabled or "_all_" in skipped,
    )


# ---- scale --------------------------------------------------------------------------
def read_scale(store: PropertyStore, app: str) -> dict[str, int]:
    """Stored scale (``ps/<app>/scale``, one ``TYPE=N`` per line); web=1 is implied."""
    scale: dict[str, int] = {}
    for item in store.list_get(PS, app, "scale"):
        name, _, count = item.partition("=")
        if (count.isascii() and count.isdigit()):
            scale[name] = int(count)
    return scale


def write_scale(store: PropertyStore, app: str, changes: Mapping[str, int]) -> dict[str, int]:
    scale = read_scale(store, app)
    scale.update(changes)
    store.list_write(PS, app, "scale", [f"{k}={v}" for k, v in sorted(scale.items())])
    return scale


def effective_scale(stored: Mapping[str, int], processes: Processes) -> dict[str, int]:
    """Dokku's default: web=1, every other type 0, overridden by ps:scale."""
    return {name: stored.get(name, 1 if name == "web" else 0) for name in processes}


# ---- releases -----------------------------------------------------------------------
def is_deployed(store: PropertyStore, app: str) -> bool:
    """One read: has ``app`` a current release (has it been deployed and not destroyed)?"""
    return bool(store.get(RELEASE, app, "current"))


def current_release(store: PropertyStore, app: str) -> tuple[str, str, Processes] | None:
    release = store.get(RELEASE, app, "current")
    image = store.get(RELEASE, app, "image")
    procs = store.get(RELEASE, app, "processes")
    if not release or not image or procs is None:
        return None
    decoded = json.loads(procs)
    return release, image, {k: (tuple(v) if v is not None else None) for k, v in decoded.items()}


def new_release_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + f"{int(time.time() * 1000) % 1000:03d}"


def release_ops(app: str, release: str, image: str, processes: Processes) -> list[Put]:
    """The writes that make ``release`` current, for a caller's own batch."""
    encoded = json.dumps({k: list(v) if v is not None else None for k, v in processes.items()}, sort_keys=True)
    return [
        Put(RELEASE, app, "current", release),
        Put(RELEASE, app, "image", image),
        Put(RELEASE, app, "processes", encoded),
    ]


def record_release(store: PropertyStore, app: str, release: str, image: str, processes: Processes) -> None:
    """Store the release with its parsed process list, so every scheduler uses the same one."""
    store.apply(release_ops(app, release, image, processes))


# ---- the plan -----------------------------------------------------------------------
def app_env(store: PropertyStore, app: str, config: Mapping[str, str] | None = None) -> dict[str, str]:
    """Global config overlaid with the app's: the containers' environment. ``config``, when
    given, stands for the app's own scope (a rollback's snapshot, not yet stored)."""
    env = {k: v for k, v in store.get_all("config", GLOBAL_SCOPE).items() if isinstance(v, str)}
    if config is None:
        env.update({k: v for k, v in store.get_all("config", app).items() if isinstance(v, str)})
    else:
        env.update(config)
    return env


def build_plan(
    store: PropertyStore,
    app: str,
    image: str | None = None,
    processes: Processes | None = None,
    release: str | None = None,
    warn: bool = True,
    config: Mapping[str, str] | None = None,
) -> DeployPlan:
    """The plan for ``app``: the given image/processes, or the current release's.

    ``config`` replaces the app's own environment (its ``config`` scope) in the plan: a
    rollback deploys a release's snapshot and stores it only once that release serves."""
    current = current_release(store, app)
    if image is None or processes is None:
        if current is None:
            raise NotFound(f"app {app} has not been deployed yet: pass --image")
        image = image or current[1]
        processes = processes if processes is not None else current[2]
        release = release or current[0]
    stored_scale = read_scale(store, app)
    if warn:
        for name in sorted(set(stored_scale) - set(processes)):
            if stored_scale[name]:
                log.warning("process type %s is scaled to %d but the Procfile has no such type",
                            name, stored_scale[name])
    scale = effective_scale(stored_scale, processes)
    specs = tuple(ProcessSpec(name, processes[name], scale[name]) for name in sorted(processes))
    return DeployPlan(
        app=app,
        release=release or new_release_id(),
        image=image,
        processes=specs,
        env=app_env(store, app, config),
        networks=read_networks(store, app),
        checks=read_checks(store, app),
        ports=tuple(read_port_map(store, app)),
        restart_policy=computed(store, PS, app, "restart-policy", DEFAULT_RESTART_POLICY),
        web_port=web_port(store, app),
    )


# ---- listeners ----------------------------------------------------------------------
def read_exposure(store: PropertyStore, app: str) -> Exposure:
    """What ``app``'s current release listens on, read from the store (a few reads: this is on
    the event listener's rebuild path, so the initial network is read alone, not every
    network setting; ``network:set`` and imports validated it when it was stored)."""
    current = current_release(store, app)
    return Exposure(tuple(sorted(current[2])) if current else (), web_port(store, app),
                    tuple(read_port_map(store, app)), computed(store, NETWORK, app, "initial-network") or None)


def complete_listeners(found: Mapping[str, list[Listener]], exposure: Exposure) -> dict[str, list[Listener]]:
    """A scheduler's listeners with every process type of the release (an empty list for one
    with no running instance), sorted: what the proxy gets, mid-rollout or not."""
    out: dict[str, list[Listener]] = {t: [] for t in exposure.processes}
    for proc, listeners in found.items():
        out[proc] = sorted(listeners, key=lambda x: (x.host, x.port))
    return dict(sorted(out.items()))


def app_listeners(store: PropertyStore, scheduler: Scheduler, app: str,
                  exposure: Exposure | None = None) -> dict[str, list[Listener]]:
    """``{process_type: [Listener]}`` of ``app`` for its proxy, as the scheduler finds them.

    The one way core asks a scheduler where an app listens; ``exposure`` defaults to the
    stored one."""
    exposure = exposure if exposure is not None else read_exposure(store, app)
    return complete_listeners(scheduler.listeners(app, exposure), exposure)
