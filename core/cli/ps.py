"""ps:* commands: scale, report, start/stop/restart, rebuild and the ps properties."""

from __future__ import annotations

import re
from typing import Any

import click

from dockyard.core.cli._all_apps import against_apps, check_parallel
from dockyard.core.cli._props import (
    global_triplet_rows,
    report_command,
    set_command,
    set_property,
    triplet_rows,
)
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import ValidationError
from dockyard.core.lookup import DEFAULT_STOP_TIMEOUT_SECONDS
from dockyard.core.plan import DEFAULT_RESTART_POLICY, PS, current_release, is_deployed, read_scale
from dockyard.core.procfile import DEFAULT_PROCFILE_PATH, validate_procfile_path
from dockyard.core.properties import require_app

_POLICY_RE = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")
#: Dokku's ps properties that Dockyard honours; ``restore`` is per app only, as in Dokku
PROPERTIES = ("procfile-path", "restart-policy", "restore", "stop-timeout-seconds")
GLOBAL_PROPERTIES = ("procfile-path", "restart-policy", "stop-timeout-seconds")
#: what docker-local (and Dokku since 0.36.0) use when no stop-timeout-seconds is set
DEFAULT_STOP_TIMEOUT = str(DEFAULT_STOP_TIMEOUT_SECONDS)
#: the triplet properties of ps:report (app, global, computed) with their defaults
TRIPLETS = {"procfile-path": DEFAULT_PROCFILE_PATH, "restart-policy": DEFAULT_RESTART_POLICY,
            "stop-timeout-seconds": DEFAULT_STOP_TIMEOUT}


def validate_restart_policy(value: str) -> str:
    if not _POLICY_RE.match(value):
        raise ValidationError(
            f"invalid restart policy {value!r}: use no, always, unless-stopped or on-failure[:N]"
        )
    return value


def validate_ps_value(prop: str, value: str) -> None:
    if prop == "restart-policy":
        validate_restart_policy(value)
    elif prop == "stop-timeout-seconds" and not ((value.isascii() and value.isdigit()) and int(value) <= 3600):
        raise ValidationError(f"invalid stop-timeout-seconds {value!r}: a whole number of seconds up to 3600")
    elif prop == "procfile-path":
        validate_procfile_path(value)
    elif prop == "restore" and value not in ("true", "false"):
        raise ValidationError(f"invalid restore {value!r}: use true or false")


@click.command("ps:scale")
@click.argument("app")
@click.argument("pairs", nargs=-1)
@click.option("--skip-deploy", is_flag=True, help="Store the new counts only; the next deploy uses them.")
@pass_cli
def scale(c: CliContext, app: str, pairs: tuple[str, ...], skip_deploy: bool) -> None:
    """Set APP's process counts (TYPE=N…), or show them."""
    from dockyard.core.apps import parse_scale, scale_app
    from dockyard.core.plan import effective_scale

    require_app(c.store, app)

    def show() -> None:
        current = current_release(c.store, app)
        stored = read_scale(c.store, app)
        # before a deploy, web=1 is implied (Dokku writes it when the app is created)
        shown = effective_scale(stored, current[2]) if current else {"web": 1, **stored}
        if c.json:  # Dokku's formations: [{"process_type": …, "quantity": …}], sorted by type
            import json

            click.echo(json.dumps([{"process_type": k, "quantity": v} for k, v in sorted(shown.items())],
                                  separators=(",", ":")))
            return
        c.info(f"Scaling for {app}")
        rows = ([] if c.quiet else [("proctype", "qty"), ("--------", "---")]) + [
            (k, str(v)) for k, v in sorted(shown.items())]
        for kind, qty in rows:  # Dokku's RightPad("TYPE:", 5) then the count
            click.echo(f"{(kind + ':').ljust(5)} {qty}")

    if not pairs:
        show()
        return
    changes = parse_scale(pairs)
    from dockyard.core.cli.deploy import progress_logger
    from dockyard.core.interrupts import interruptible

    # a rollout like deploy's: SIGINT/SIGTERM remove the new instances, the old scale stays
    with interruptible(), c.timed(f"Scaled {app}: {' '.join(f'{k}={v}' for k, v in changes.items())}"):
        scheduler = c.scheduler_for(app) if is_deployed(c.store, app) and not skip_deploy else None
        if scheduler is None:
            from dockyard.core.plan import write_scale

            write_scale(c.store, app, changes)
        else:
            scale_app(c.store, scheduler, app, changes, progress=progress_logger(c))
    if c.json:  # the resulting scale, so a script reads what it now is
        show()


def _global_rows(c: CliContext) -> dict[str, str]:
    """Dokku's ``ps:report --global``: each global value, and the computed one (global, else default)."""
    rows = global_triplet_rows(c, PS, TRIPLETS)
    for prop, default in TRIPLETS.items():
        rows[f"ps-computed-{prop}"] = rows[f"ps-global-{prop}"] or default
    return dict(sorted(rows.items()))


@report_command("ps:report", global_rows=_global_rows)
def report(c: CliContext, name: str) -> dict[str, object]:
    """Report on APP's processes (or every app's); ``APP --ps-restart-policy`` prints one value."""
    from dockyard.core.plan import effective_scale

    current = current_release(c.store, name)
    rows: dict[str, object] = {
        "deployed": "true" if current else "false",
        "processes": "",
        **triplet_rows(c, PS, name, TRIPLETS),
        # Dokku's row has no ps- prefix; unset means true (ps:stop sets false, a deploy unsets it)
        "restore": c.store.get(PS, name, "restore") or "true",
        "running": "false",
        "ps-can-scale": "true",  # Dokku: false for an app.json with formations; Dockyard reads none
        "ps-scheduler": c.scheduler_name(name),
    }
    if current:
        rows["release"] = current[0]
        rows["image"] = current[1]
        scales = effective_scale(read_scale(c.store, name), current[2])
        rows["processes"] = " ".join(f"{k}={v}" for k, v in sorted(scales.items()))
        instances = c.scheduler_for(name).status(name)
        running = sum(1 for i in instances if i.state == "running")
        rows["running"] = "true" if instances and running == len(instances) else (
            "mixed" if running else "false")
        for i in instances:
            addrs = ",".join(f"{k}={v}" for k, v in i.addresses.items())
            rows[f"status-{i.process_type}-{i.index}"] = (
                f"{i.state} (CID: {i.id[:12]}, restarts: {i.restart_count}{', ' + addrs if addrs else ''})")
    return rows


#: env prefixes Dokku's ps:inspect shows; every other variable's value is masked
INSPECT_VISIBLE_ENV = ("CACHE_PATH=", "DOCKER_", "DOKKU_", "DYNO=", "PATH=", "PORT=", "USER=")


def sanitize_inspect(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mask environment values as Dokku's ps:inspect does (``KEY=XXXXXX``), so the output can
    be pasted elsewhere without leaking secrets."""
    for item in items:
        config = item.get("Config")
        if isinstance(config, dict) and isinstance(config.get("Env"), list):
            config["Env"] = [e if str(e).startswith(INSPECT_VISIBLE_ENV) else f"{str(e).partition('=')[0]}=XXXXXX"
                             for e in config["Env"]]
    return items


@click.command("ps:inspect")
@click.argument("app")
@pass_cli
def inspect(c: CliContext, app: str) -> None:
    """Print APP's instances as JSON (docker-local: ``docker container inspect`` of its
    containers), environment values masked as Dokku's ps:inspect does."""
    import json

    require_app(c.store, app)
    data = sanitize_inspect(c.scheduler_for(app).inspect(app))
    click.echo(json.dumps(data, sort_keys=True, indent=4, default=str))  # Dokku's layout, text or json


@click.command("ps:retire")
@click.argument("app", required=False)
@pass_cli
def retire(c: CliContext, app: str | None) -> None:
    """Remove old containers and images left after a deploy, of APP or of every app."""
    from dockyard.core.apps import retire_app

    c.info("Retiring old containers and images")
    _each_deployed(c, app, retire_app, "ps:retire", "Retired", "not retired")


@click.command("cleanup")
@click.argument("app", required=False)
@pass_cli
def cleanup(c: CliContext, app: str | None) -> None:
    """Dokku's cleanup: what ps:retire removes, and exited one-off (run) instances, of APP or of every app."""
    from dockyard.core.apps import cleanup_app

    c.info("Cleaning up")
    _each_deployed(c, app, cleanup_app, "cleanup", "Removed", "not cleaned up")


def _each_deployed(c: CliContext, app: str | None, action: Any, command: str, verb: str, undone: str) -> None:
    """``action(store, scheduler, app)`` on APP or every deployed app, naming what it removed;
    an app whose deploy is running is passed over (its new instances are not leftovers)."""
    from dockyard.core.errors import DockyardError, LockHeld
    from dockyard.core.properties import list_apps

    apps = [require_app(c.store, app)] if app else list_apps(c.store)
    busy: list[str] = []
    for name in apps:
        if not is_deployed(c.store, name):
            continue
        try:
            removed = action(c.store, c.scheduler_for(name), name)
        except LockHeld:
            if app:
                raise
            busy.append(name)
            continue
        for one in removed:
            if not c.quiet:
                click.echo(f"       {verb} {name} container {one}")
    if busy:
        raise DockyardError(f"{undone}, a deploy is running: {', '.join(busy)}; run {command} again later")


@click.command("ps:restore")
@click.argument("app", required=False)
@click.option("--all", "all_apps", is_flag=True, help="Every app (also when no APP is given).")
@click.option("--parallel", type=int, default=0, help="Accepted as Dokku's; apps are restored one by one.")
@pass_cli
def restore(c: CliContext, app: str | None, all_apps: bool, parallel: int) -> None:
    """Start apps that were running before a reboot: every app whose ``restore`` property is
    not false (ps:stop sets it), or only APP; then rebuild their proxy config."""
    from dockyard.core.apps import restore_app
    from dockyard.core.cli.deploy import progress_logger
    from dockyard.core.errors import DockyardError
    from dockyard.core.properties import list_apps

    check_parallel(parallel)
    every = all_apps or not app
    if every and not all_apps:
        c.warn("Restore specified without app, assuming --all")
    if every:
        c.warn("Running restore in serial mode")
    apps = list_apps(c.store) if every else [require_app(c.store, app or "")]
    routed: list[str] = []
    errors = 0
    for name in apps:
        if every:
            c.info(f"Running restore against app {name}")
        try:
            if restore_app(c.store, c.scheduler_for(name), name, progress=progress_logger(c), warn=c.warn,
                           info=c.info):
                routed.append(name)
        except DockyardError as exc:
            if not every:
                raise
            c.warn(f"Error running restore against app {name}: {exc}")
            errors += 1
    if routed:
        from dockyard.core.routing import rebuild_many

        for result in rebuild_many(c.store, routed, c.scheduler_for, force=True):
            if not result.ok:
                c.warn(f"Error running restore against app {result.app}: {result.message}")
                errors += 1
    if errors:
        raise DockyardError(f"restore command returned {errors} errors")


def _all_apps_option(verb: str) -> Any:
    """Dokku's ``[--parallel count] [--all|APP]`` of ps:start/stop/restart/rebuild."""
    def wrap(f: Any) -> Any:
        f = click.option("--parallel", type=int, default=0, metavar="COUNT",
                         help="Accepted as Dokku's (-1: CPU count); apps are handled one by one.")(f)
        return click.option("--all", "all_apps", is_flag=True, help=f"{verb} every app, one by one.")(f)
    return wrap


@click.command("ps:start")
@click.argument("app", required=False)
@_all_apps_option("Start")
@pass_cli
def start(c: CliContext, app: str | None, all_apps: bool, parallel: int) -> None:
    """Start APP's stopped processes (a fresh rollout if none are left), or every app's with --all."""
    from dockyard.core.apps import start_app
    from dockyard.core.cli.deploy import progress_logger

    def one(name: str) -> None:
        with c.timed(f"Started {name}"):
            start_app(c.store, c.scheduler_for(name), name, progress=progress_logger(c))

    against_apps(c, app, all_apps, parallel, "start", one, deployed_only=True)


@click.command("ps:stop")
@click.argument("app", required=False)
@_all_apps_option("Stop")
@pass_cli
def stop(c: CliContext, app: str | None, all_apps: bool, parallel: int) -> None:
    """Stop APP's processes (the containers are kept), or every app's with --all."""
    from dockyard.core.apps import stop_app

    def one(name: str) -> None:
        c.info(f"Stopping {name}")
        with c.timed(f"Stopped {name}"):
            stop_app(c.store, c.scheduler_for, name)

    against_apps(c, app, all_apps, parallel, "stop", one, deployed_only=True)


@click.command("ps:restart")
@click.argument("app", required=False)
@click.argument("process_type", required=False)
@_all_apps_option("Restart")
@pass_cli
def restart(c: CliContext, app: str | None, process_type: str | None, all_apps: bool, parallel: int) -> None:
    """Restart APP as Dokku does: a zero-downtime redeploy of its current release, so
    containers pick up the current environment, networks and scale (--all: every app)."""
    from dockyard.core.errors import DockyardError

    if all_apps and process_type:
        raise DockyardError("Unable to restart all apps when specifying a process name")  # Dokku's words
    if process_type:
        raise DockyardError(f"ps:restart of one process type ({process_type}) is not supported: "
                            f"run ps:restart {app} to restart every process type")
    against_apps(c, app, all_apps, parallel, "restart", lambda name: _redeploy(c, name, "Restarted"),
                 deployed_only=True)


@click.command("ps:rebuild")
@click.argument("app", required=False)
@_all_apps_option("Rebuild")
@pass_cli
def rebuild(c: CliContext, app: str | None, all_apps: bool, parallel: int) -> None:
    """Redeploy APP's current image and processes as a new release (zero downtime); a changed
    procfile-path reads the image's Procfile again, as Dokku's rebuild from source does."""
    against_apps(c, app, all_apps, parallel, "rebuild",
                 lambda name: _redeploy(c, name, "Rebuilt", reread_procfile=True, description="Rebuild"),
                 deployed_only=True)


def _redeploy(c: CliContext, app: str, what: str, reread_procfile: bool = False,
              description: str = "Restart") -> None:
    from dockyard.core.apps import rebuild_app
    from dockyard.core.cli.deploy import progress_logger
    from dockyard.core.interrupts import interruptible

    require_app(c.store, app)
    # a rollout like deploy's: SIGINT/SIGTERM go down its failure path, as for deploy
    with interruptible(), c.timed(f"{what} {app}"):
        rebuild_app(c.store, c.scheduler_for(app), app, progress=progress_logger(c),
                    reread_procfile=reread_procfile, description=description)


@set_command("ps:set")
def set_(c: CliContext, app: str | None, prop: str | None, value: str | None, is_global: bool) -> None:
    """Set a ps property of APP (or --global): procfile-path, restart-policy, restore (APP
    only), stop-timeout-seconds."""
    from dockyard.core.errors import DockyardError

    if is_global and app in PROPERTIES and app not in GLOBAL_PROPERTIES:  # app holds PROP here
        raise DockyardError("Property cannot be specified globally")  # Dokku's words
    set_property(c, PS, PROPERTIES, app, prop, value, is_global, validate_ps_value)
