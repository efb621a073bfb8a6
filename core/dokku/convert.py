"""Turn a Dokku server's records into Dockyard properties: the import plan.

Every value goes through the check Dockyard applies when a user sets it (DNS names for
domains, the port-map parser and its conflict check against every other app, the nginx
driver's property validators, the certificate pair check, ...), so an imported app is one
Dockyard would have let a user build by hand. A value Dockyard cannot hold refuses the
whole app, with one line saying why: nothing of it is written, and the other apps go on.

Where each thing lands (``plugin/scope/key``):

========================================  ===========================================
Dokku                                     Dockyard
========================================  ===========================================
``ENV`` variables                         ``config/APP/KEY`` (``--global`` for the server's)
``VHOST``, global ``VHOST``               ``domains/APP/vhosts``, ``domains/--global/vhosts``
``ps`` ``scale`` / ``DOKKU_SCALE``        ``ps/APP/scale`` (``TYPE=N`` items)
``ports`` ``map`` / ``DOKKU_PROXY_PORT_MAP``  ``ports/APP/map``
``tls/server.crt``, ``tls/server.key``    ``certs/APP/crt``, ``certs/APP/key``
``dokku/APP:latest`` (deployed apps)      ``release/APP/{current,image,processes}``
========================================  ===========================================

Settings Dokku 0.20 kept as ``DOKKU_*`` variables become the properties later Dokku
releases moved them to (``CONFIG_TO_PROPERTY``); an existing property wins, as in Dokku's
own migration, and the variable is not copied into the environment. Properties of plugins
(or keys) Dockyard has no use for are kept verbatim under their own coordinates: nothing
is lost, ``props:export`` carries them, and a later Dockyard that understands them finds
them where Dokku left them.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.core.dokku.staged import StagedStore
from dockyard.core.dokku.tree import DokkuScope, DokkuServer
from dockyard.core.errors import DockyardError, ValidationError
from dockyard.core.names import GLOBAL_SCOPE, validate_app_name
from dockyard.propstores.base import Put, Value, canonical_op, check_op, encode_data

if TYPE_CHECKING:
    from dockyard.propstores.base import PropertyStore
    from dockyard.proxy.base import Proxy

#: the release id an import records, so a second import recognises its own release
RELEASE_ID = "dokku-import"

#: Dokku 0.20 app config variable -> (plugin, property), as Dokku's MigrateConfigToProperties
#: (and the checks plugin's migration) later moved them
CONFIG_TO_PROPERTY: dict[str, tuple[str, str]] = {
    "DOKKU_PROXY_PORT_MAP": ("ports", "map"),
    "DOKKU_APP_PROXY_TYPE": ("proxy", "type"),
    "DOKKU_DISABLE_PROXY": ("proxy", "disabled"),
    "DOKKU_SCHEDULER": ("scheduler", "selected"),
    "DOKKU_CHECKS_DISABLED": ("checks", "disabled"),
    "DOKKU_CHECKS_SKIPPED": ("checks", "skipped"),
    "DOKKU_WAIT_TO_RETIRE": ("checks", "wait-to-retire"),
    "DOKKU_CHECKS_WAIT": ("checks", "wait"),
    "DOKKU_DEFAULT_CHECKS_WAIT": ("checks", "wait"),
    "DOKKU_CHECKS_TIMEOUT": ("checks", "timeout"),
    "DOKKU_CHECKS_ATTEMPTS": ("checks", "attempts"),
    "DOKKU_DOCKER_STOP_TIMEOUT": ("ps", "stop-timeout-seconds"),
    # 0.20's ps:restore skipped an app whose environment set DOKKU_APP_RESTORE=0
    "DOKKU_APP_RESTORE": ("ps", "restore"),
}

#: the same for the global environment (Dokku's ``GlobalConfigVar`` names)
GLOBAL_CONFIG_TO_PROPERTY: dict[str, tuple[str, str]] = {
    "DOKKU_PROXY_TYPE": ("proxy", "type"),
    "DOKKU_SCHEDULER": ("scheduler", "selected"),
    "DOKKU_WAIT_TO_RETIRE": ("checks", "wait-to-retire"),
    "DOKKU_CHECKS_WAIT": ("checks", "wait"),
    "DOKKU_DEFAULT_CHECKS_WAIT": ("checks", "wait"),
    "DOKKU_CHECKS_TIMEOUT": ("checks", "timeout"),
    "DOKKU_CHECKS_ATTEMPTS": ("checks", "attempts"),
    "DOKKU_DOCKER_STOP_TIMEOUT": ("ps", "stop-timeout-seconds"),
}

#: Dokku's own bookkeeping, meaningless to Dockyard: not imported
DOKKU_ONLY = {("config", "env-migrated"), ("ps", "scale.old"), ("ports", "map-detected"),
              ("common", "deployed"), ("apps", "created-at")}

#: plugins whose values are printed by --dry-run; everything else (env, keys, unknown plugins) is masked
_PLAIN = {"apps", "domains", "ports", "ps", "network", "checks", "scheduler", "proxy", "nginx", "release"}


@dataclass
class ScopePlan:
    """What the import does for one app (or ``--global``)."""

    name: str
    layout: str
    changes: list[Put] = field(default_factory=list)
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)
    #: what was converted (informational)
    notes: list[str] = field(default_factory=list)
    #: what the user should look at: values not taken as written, expired certificates, ...
    warnings: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    error: str | None = None
    new_app: bool = False

    @property
    def status(self) -> str:
        if self.error:
            return "refused"
        if not self.changes:
            return "unchanged"
        return "create" if self.new_app else "update"

    def as_json(self) -> dict[str, Any]:
        return {
            "app": self.name, "layout": self.layout, "status": self.status, "error": self.error,
            "changes": [{"plugin": op.plugin, "scope": op.scope, "key": op.key, "value": shown(op)}
                        for op in self.changes],
            "unchanged": self.unchanged, "kept": self.kept, "notes": self.notes, "warnings": self.warnings,
            "templates": [{"path": p, "todo": template_todo(self.name, p)} for p in self.templates],
        }


def shown(op: Put) -> str | list[str]:
    """The value as --dry-run prints it: secrets (environment, keys, unknown plugins) masked."""
    size = len(encode_data(op.data))
    if op.plugin == "certs":
        return f"<PEM {'private key' if op.key == 'key' else 'certificate'}, {size} bytes>"
    if op.plugin not in _PLAIN:
        return f"*** ({size} chars)"
    return op.data


def template_todo(app: str, path: str) -> str:
    if "/nginx.conf.d/" in path:
        return (f"custom nginx include of {app}: add its directives to a Jinja2 copy of Dockyard's "
                f"template and select it with `dockyard nginx:set {app} template-path FILE`")
    return (f"custom nginx.conf.sigil of {app}: sigil templates cannot be converted; write the same "
            f"server blocks as a Jinja2 template (start from Dockyard's built-in one) and select it with "
            f"`dockyard nginx:set {app} template-path FILE`")


# ---- checks for each kind of value --------------------------------------------------------
def _scale(items: list[str]) -> list[str]:
    from dockyard.core.deploy import parse_scale

    return [f"{k}={v}" for k, v in sorted(parse_scale(items).items())] if items else []


def _checks(key: str, value: str) -> str:
    from dockyard.core.cli.checks import validate_check_value

    return validate_check_value(key, value)


def _ps(key: str, value: str) -> str:
    from dockyard.core.cli.ps import validate_ps_value

    validate_ps_value(key, value)
    return value


def _network(key: str, value: str) -> str:
    from dockyard.core.names import validate_dns_name, validate_network_name
    from dockyard.core.plan import split_networks, validate_attach

    if key in ("attach-post-create", "attach-post-deploy"):
        nets = split_networks(value)
        validate_attach(key, nets, ())
        return ",".join(nets)
    if key == "initial-network":
        return validate_network_name(value)
    if key == "tld":
        return validate_dns_name(value)
    if value.lower() not in ("true", "false"):
        raise ValidationError(f"invalid network bind-all-interfaces {value!r}: true or false")
    return value.lower()


#: (plugin, key) Dockyard understands, with the check a user's value gets there
_KNOWN: dict[tuple[str, str], Callable[[str, str], str]] = {
    **{("checks", k): _checks for k in ("wait", "wait-to-retire", "timeout", "attempts", "path", "disabled")},
    **{("ps", k): _ps for k in ("restart-policy", "stop-timeout-seconds")},
    **{("network", k): _network for k in ("attach-post-create", "attach-post-deploy", "initial-network",
                                           "tld", "bind-all-interfaces")},
}


class _Context:
    """What every app's conversion shares: the staged store, installed drivers, one nginx driver."""

    def __init__(self, store: PropertyStore) -> None:
        from dockyard.core.plugins import PROXIES, SCHEDULERS, installed_names

        self.staged = StagedStore(store, preload=True)
        self.schedulers = set(installed_names(SCHEDULERS))
        self.proxies = set(installed_names(PROXIES))
        self._nginx: Proxy | None = None

    def nginx_check(self, scope: str, key: str, value: str) -> list[Put] | None:
        """The nginx driver's own validation, run on a scratch view; None for a key it lacks."""
        if "nginx" not in self.proxies:
            return None
        from dockyard.core import load_proxy

        scratch = StagedStore(self.staged)
        if self._nginx is None:
            self._nginx = load_proxy("nginx", scratch)
        self._nginx.store = scratch
        try:
            self._nginx.set_property(scope, key, "")  # an empty value is never checked: tells known keys
        except ValidationError:
            return None
        scratch.pending.clear()
        self._nginx.set_property(scope, key, value)  # raises for a bad value of a known key
        return [op for op in scratch.take() if isinstance(op, Put)]


# ---- one app --------------------------------------------------------------------------------
def _converted_env(scope: DokkuScope, plan: ScopePlan) -> tuple[dict[str, str], dict[tuple[str, str], Value]]:
    """Split the environment into the variables to keep and the DOKKU_* settings to convert."""
    env = dict(scope.env)
    props: dict[tuple[str, str], Value] = {}
    table = GLOBAL_CONFIG_TO_PROPERTY if scope.name == GLOBAL_SCOPE else CONFIG_TO_PROPERTY
    for var, (plugin, key) in table.items():
        if var not in env:
            continue
        value = env.pop(var)
        if not value.strip():
            continue
        if (plugin, key) in scope.properties or (plugin, key) in props:
            plan.notes.append(f"{var} not converted: the {plugin} {key} property is already set")
            continue
        if var == "DOKKU_DISABLE_PROXY":
            value = "true"
        elif var == "DOKKU_APP_RESTORE":
            value = "false" if value.strip() in ("0", "false") else "true"
        props[(plugin, key)] = value.split() if (plugin, key) == ("ports", "map") else value
        plan.notes.append(f"{var} became the {plugin} {key} property")
    return env, props


def _restart_policy(text: str | None) -> str | None:
    """Dokku 0.20 kept the restart policy as a docker option: ``--restart=on-failure:10``."""
    for line in (text or "").splitlines():
        for word in shlex.split(line, comments=True) if line.strip() else []:
            if word.startswith("--restart="):
                return word.split("=", 1)[1]
    return None


def _processes(scope: DokkuScope) -> dict[str, Any]:
    """The release's process list: the deployed Procfile, as Dokku ran it."""
    from dockyard.core.procfile import parse_procfile

    procs = parse_procfile(scope.procfile) if scope.procfile else {}
    start = scope.properties.get(("ps", "start-cmd")) or scope.env.get("DOKKU_START_CMD") \
        or scope.properties.get(("ps", "dockerfile-start-cmd")) or scope.env.get("DOKKU_DOCKERFILE_START_CMD")
    if not procs and isinstance(start, str) and start.strip():
        procs = {"web": tuple(shlex.split(start))}  # Dokku's start command replaces the image's CMD
    if scope.builder == "herokuish":
        # buildpack images run every process type through herokuish's /start, as Dokku does
        return {name: ["/start", name] for name in (procs or {"web": None})}
    return {name: list(argv) if argv is not None else None for name, argv in (procs or {"web": None}).items()}


def _cert(app: str, crt: str, key: str, plan: ScopePlan) -> None:
    from dockyard.core.certs import check_pair, inspect

    info = inspect(crt)
    inside = min(max(dt.datetime.now(dt.UTC), info.not_before), info.not_after)
    check_pair(crt, key, now=inside)  # the pair must match; an expired one is kept, with a warning
    if info.expired:
        plan.warnings.append(f"the certificate of {app} expired on {info.not_after:%Y-%m-%d}; renew it "
                          f"with `dockyard certs:add {app} CRT KEY`")


def _port_map(ctx: _Context, scope: DokkuScope, entries: list[str] | None, plan: ScopePlan) -> list[str] | None:
    from dockyard.core.certs import with_https
    from dockyard.core.models import PortMapping
    from dockyard.core.ports import check_conflicts, parse_mappings

    if not entries:
        detected = scope.properties.get(("ports", "map-detected"))
        entries = ([detected] if isinstance(detected, str) else detected) or None
        if entries:
            plan.notes.append("the port map is Dokku's detected one (ports map-detected)")
    mappings = parse_mappings(entries) if entries else []
    if scope.cert and not any(m.scheme == "https" for m in mappings):
        env_port = scope.env.get("PORT", "")
        port = int(env_port) if env_port.isascii() and env_port.isdigit() else 5000
        mappings = with_https(mappings or [PortMapping("http", 80, port)])
    if not mappings:
        return None
    entries = [str(m) for m in mappings]
    if ctx.staged.read("ports", scope.name, "map") != entries:  # an unchanged map was checked when written
        check_conflicts(ctx.staged, scope.name, mappings)
    return entries


def _desired(ctx: _Context, scope: DokkuScope, plan: ScopePlan) -> list[Put]:
    """Every property the app should have after the import (before comparing with the store)."""
    from dockyard.core.domains import validate_domains

    name = scope.name
    is_global = name == GLOBAL_SCOPE
    env, converted = _converted_env(scope, plan)
    props = {**converted, **scope.properties}
    ops: list[Put] = []
    for var, text in env.items():
        ops.append(Put("config", name, var, text))
        if text.endswith("\n"):
            plan.warnings.append(f"{var} ends with a newline: Dockyard's store keeps such a value as a list, "
                              "and deploys leave it out of the environment")
    if scope.vhosts:
        ops.append(Put("domains", name, "vhosts", validate_domains(scope.vhosts)))
    if not is_global and scope.env.get("NO_VHOST") == "1":
        plan.warnings.append("domains were disabled in Dokku (NO_VHOST=1); Dockyard gives the app its global domains")
    if scope.scale:
        ops.append(Put("ps", name, "scale", _scale(scope.scale)))
    policy = _restart_policy(scope.docker_options_deploy)
    if policy and ("ps", "restart-policy") not in props:
        props[("ps", "restart-policy")] = policy
        plan.notes.append("the --restart docker option became the ps restart-policy property")
    for (plugin, key), value in sorted(props.items()):
        if (plugin, key) in DOKKU_ONLY or (plugin, key) == ("ps", "scale"):
            continue
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(f"property {plugin} {key} is not UTF-8 text")
        if (plugin, key) == ("ports", "map"):
            continue  # below, with the certificate
        check = _KNOWN.get((plugin, key))
        if check is not None:
            ops.append(Put(plugin, name, key, check(key, value if isinstance(value, str) else ",".join(value))))
        elif (plugin, key) in (("scheduler", "selected"), ("proxy", "type")):
            installed = ctx.schedulers if plugin == "scheduler" else ctx.proxies
            if value in installed:
                ops.append(Put(plugin, name, key, str(value)))
            else:
                plan.warnings.append(f"{plugin} {key} {value!r} is not installed in Dockyard; "
                                  f"the default ({'docker-local' if plugin == 'scheduler' else 'nginx'}) applies")
        elif plugin == "nginx" and isinstance(value, str) and value:
            checked = ctx.nginx_check(name, key, value)
            if checked is None:
                ops.append(Put(plugin, name, key, value))
                plan.kept.append(f"{plugin}/{name}/{key}")
            else:
                ops.extend(checked)
            if key == "nginx-conf-sigil-path":
                plan.notes.append(f"Dokku read this app's nginx template from {value} in the repository; "
                                  "see the templates section")
        else:
            ops.append(Put(plugin, name, key, value))
            plan.kept.append(f"{plugin}/{name}/{key}")
    if not is_global:
        ports = props.get(("ports", "map"))
        mapped = _port_map(ctx, scope, [ports] if isinstance(ports, str) else ports, plan)
        if mapped:
            ops.append(Put("ports", name, "map", mapped))
        if scope.cert:
            _cert(name, *scope.cert, plan)
            ops += [Put("certs", name, "crt", scope.cert[0]), Put("certs", name, "key", scope.cert[1])]
        if ctx.staged.read("apps", name, "created-at") is None:
            plan.new_app = True
            ops.append(Put("apps", name, "created-at", scope.created_at or "0"))
        ops += _release(ctx, scope, plan)
    return ops


def _release(ctx: _Context, scope: DokkuScope, plan: ScopePlan) -> list[Put]:
    if not scope.deployed:
        return []
    name = scope.name
    current = ctx.staged.read("release", name, "current")
    if current not in (None, RELEASE_ID):
        plan.warnings.append(f"{name} already has a Dockyard release ({current}); Dokku's image is not recorded")
        return []
    image = f"dokku/{name}:latest"
    processes = json.dumps(_processes(scope), sort_keys=True)
    return [Put("release", name, "current", RELEASE_ID), Put("release", name, "image", image),
            Put("release", name, "processes", processes), Put("apps", name, "deployed-image", image)]


def plan_scope(ctx: _Context, scope: DokkuScope) -> ScopePlan:
    plan = ScopePlan(scope.name, scope.layout, warnings=list(scope.warnings), templates=list(scope.templates))
    try:
        if scope.error:
            raise ValidationError(scope.error)
        if scope.name != GLOBAL_SCOPE:
            validate_app_name(scope.name)
        desired = _desired(ctx, scope, plan)
        for op in desired:
            check_op(op)
    except DockyardError as exc:
        plan.error = str(exc)
        plan.kept.clear()
        return plan
    for op in desired:
        canonical = canonical_op(op)
        if not isinstance(canonical, Put):
            continue
        if ctx.staged.read(op.plugin, op.scope, op.key) == canonical.data:
            plan.unchanged += 1
        else:
            plan.changes.append(canonical)
    ctx.staged.apply(plan.changes)  # later apps see this one (port conflicts), as after a real write
    return plan


def plan_import(store: PropertyStore, server: DokkuServer, only: set[str] | None = None) -> list[ScopePlan]:
    """The plan for the global settings, then each app in name order; nothing is written."""
    ctx = _Context(store)
    plans = [plan_scope(ctx, server.globals)]
    for name, app in server.apps.items():
        if only is None or name in only:
            plans.append(plan_scope(ctx, app))
    return plans
