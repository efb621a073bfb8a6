"""Dokku's nginx:* commands, registered as ``dockyard.commands`` entry points.

They belong to the driver and reach core only through the command context (``CliContext``),
as any third-party proxy's commands would: the driver is loaded through its entry point and
core's steps (validate then store, rebuilding every routed app) stay in core.
"""

from __future__ import annotations

import logging

import click

from dockyard.core.cli.context import CliContext, pass_cli, scope_of, split_global
from dockyard.core.errors import ProxyError
from dockyard.core.names import GLOBAL_SCOPE, validate_single_value
from dockyard.proxy.base import Proxy

log = logging.getLogger("dockyard.nginx")

#: the description ``dockyard nginx:help`` prints, as Dokku's ``nginx:help`` does
TOPIC_HELP = "Manage the nginx proxy"

#: properties that say where nginx is, not what an app's file holds
LOCATION_KEYS = {"main-conf", "conf-dir", "binary", "reload-command"}


def _nginx(c: CliContext) -> Proxy:
    return c.load_proxy("nginx")


@click.command("nginx:set", short_help="Set an nginx property")
@click.option("--global", "is_global", is_flag=True, help="Set the default for every app.")
@click.argument("app", required=False)
@click.argument("args", nargs=-1)
@pass_cli
def set_(c: CliContext, is_global: bool, app: str | None, args: tuple[str, ...]) -> None:
    """Set an nginx property: nginx:set APP|--global PROPERTY [VALUE] (no value unsets)."""
    app, args = split_global(is_global, app, args)
    if len(args) not in (1, 2):
        raise click.UsageError("usage: nginx:set APP|--global PROPERTY [VALUE]")
    scope = scope_of(c, app, is_global)
    key, value = args[0], (args[1] if len(args) == 2 else "")
    validate_single_value(f"nginx property {key}", value)
    if key not in LOCATION_KEYS and (scope == GLOBAL_SCOPE or c.proxy_type(scope) == "nginx"):
        # validate, then store (issue 10): a setting nginx rejects is never kept, or the next
        # deploy fails at the traffic switch with old and new containers both running; a global
        # one is checked against every deployed app's config and applied by build-config --all
        c.routed(scope, lambda store: c.load_proxy("nginx", store).set_property(scope, key, value))
    else:
        _nginx(c).set_property(scope, key, value)
    log.info("%s nginx %s for %s", "Set" if value else "Unset", key, scope)
    if scope == GLOBAL_SCOPE and key not in LOCATION_KEYS:
        log.info("Run proxy:build-config --all to apply it to deployed apps")


@click.command("nginx:report", short_help="Report nginx settings",
               context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_cli
def report(c: CliContext, args: tuple[str, ...]) -> None:
    """Report nginx properties (app, global and computed values) and whether nginx runs:
    [APP] [--global] [--nginx-KEY] as Dokku's (no APP: every app)."""
    c.show_report("nginx", args, lambda app: _nginx(c).report(app), lambda: _nginx(c).report(GLOBAL_SCOPE))


def _require_nginx_app(c: CliContext, app: str) -> None:
    c.require_app(app)
    if c.proxy_type(app, configured=True) != "nginx":
        raise ProxyError("This command is only available for apps with the nginx proxy type")


@click.command("nginx:show-config", short_help="Print an app's nginx config")
@click.argument("app")
@pass_cli
def show_config(c: CliContext, app: str) -> None:
    """Print APP's nginx files (Dokku's ``No nginx.conf exists for APP`` when it has none)."""
    _require_nginx_app(c, app)
    click.echo(_nginx(c).show_config(app))


@click.command("nginx:validate-config", short_help="Validate nginx config with nginx -t")
@click.argument("app", required=False)
@click.option("--clean", is_flag=True, help="Remove the config of each app that fails on its own.")
@pass_cli
def validate_config(c: CliContext, app: str | None, clean: bool) -> None:
    """Run nginx -t; if it fails, name (and with --clean remove) each app config that fails on its own."""
    if app == "--clean":  # Dokku's nginx:validate-config --clean
        app, clean = None, True
    if app:
        c.require_app(app)

    def warn(message: str) -> None:  # Dokku: the warning, then the file's contents on stdout
        head, _, contents = message.partition("\n")
        c.warn(head)
        if contents:
            click.echo(contents)

    message = _nginx(c).validate(app, clean, warn)
    log.info("%s", message or "nginx config is valid")


def _logs(c: CliContext, app: str, kind: str, follow: bool) -> None:
    """Dokku's ``nginx:KIND-logs APP [-t]``: the last 20 lines of the app's log, or follow it."""
    import subprocess

    _require_nginx_app(c, app)
    path = _nginx(c).report(app).get(f"nginx-computed-{kind}-log-path", "")
    if path in ("off", "/dev/null", ""):
        raise ProxyError(f"{kind} logs are disabled for this app")
    if follow:
        try:
            code = subprocess.run(["tail", "-F", path], check=False).returncode
        except KeyboardInterrupt:
            return
        if code:
            raise ProxyError(f"cannot follow {path}")
        return
    try:
        with open(path, "rb") as fh:
            lines = fh.read().decode(errors="replace").splitlines()[-20:]
    except OSError as exc:
        raise ProxyError(f"cannot open '{path}' for reading: {exc.strerror}") from None
    for line in lines:
        click.echo(line)


@click.command("nginx:access-logs", short_help="Show (or -t follow) an app's nginx access log")
@click.argument("app")
@click.option("-t", "follow", is_flag=True, help="Follow the log (tail -F).")
@pass_cli
def access_logs(c: CliContext, app: str, follow: bool) -> None:
    """Show the last 20 lines of APP's nginx access log, or follow it with -t."""
    _logs(c, app, "access", follow)


@click.command("nginx:error-logs", short_help="Show (or -t follow) an app's nginx error log")
@click.argument("app")
@click.option("-t", "follow", is_flag=True, help="Follow the log (tail -F).")
@pass_cli
def error_logs(c: CliContext, app: str, follow: bool) -> None:
    """Show the last 20 lines of APP's nginx error log, or follow it with -t."""
    _logs(c, app, "error", follow)


@click.command("nginx:start", short_help="Start a private nginx")
@pass_cli
def start(c: CliContext) -> None:
    """Start a private nginx (writing a main config if there is none) and build every app's config."""
    log.info("%s", _nginx(c).start())
    failed = c.rebuild_routed_by("nginx")
    if failed:
        raise ProxyError(f"nginx started, but the config of {', '.join(failed)} was rejected")


@click.command("nginx:reload", short_help="Check the nginx config (nginx -t), then reload nginx")
@pass_cli
def reload(c: CliContext) -> None:
    """Check the whole nginx config with nginx -t, then reload nginx."""
    log.info("%s", _nginx(c).reload())


@click.command("nginx:stop", short_help="Stop the private nginx")
@pass_cli
def stop(c: CliContext) -> None:
    """Stop the private nginx."""
    log.info("%s", _nginx(c).stop())
