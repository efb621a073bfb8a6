"""nginx:* commands. They reach the nginx driver through its entry point, like every driver."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from dockyard.core.cli._routing import routed
from dockyard.core.cli.context import CliContext, pass_cli, scope_of
from dockyard.core.errors import ProxyError
from dockyard.core.names import GLOBAL_SCOPE, validate_single_value
from dockyard.core.plan import is_deployed
from dockyard.core.properties import require_app

if TYPE_CHECKING:
    from dockyard.propstores.base import PropertyStore
    from dockyard.proxy.base import Proxy

log = logging.getLogger("dockyard.nginx")

#: properties that say where nginx is, not what an app's file holds
LOCATION_KEYS = {"main-conf", "conf-dir", "binary", "reload-command"}


def _nginx(c: CliContext) -> Proxy:
    """The nginx driver, through the entry point (core never imports a driver module)."""
    return _nginx_on(c.store)


def _nginx_on(store: PropertyStore) -> Proxy:
    from dockyard.core import load_proxy

    return load_proxy("nginx", store)


@click.command("nginx:set")
@click.option("--global", "is_global", is_flag=True, help="Set the default for every app.")
@click.argument("app", required=False)
@click.argument("args", nargs=-1)
@pass_cli
def set_(c: CliContext, is_global: bool, app: str | None, args: tuple[str, ...]) -> None:
    """Set an nginx property: nginx:set APP|--global PROPERTY [VALUE] (no value unsets)."""
    if is_global and app is not None:
        args = (app, *args)
        app = None
    if len(args) not in (1, 2):
        raise click.UsageError("usage: nginx:set APP|--global PROPERTY [VALUE]")
    scope = scope_of(c, app, is_global)
    key, value = args[0], (args[1] if len(args) == 2 else "")
    validate_single_value(f"nginx property {key}", value)
    from dockyard.core.routing import proxy_type

    if key not in LOCATION_KEYS and (scope == GLOBAL_SCOPE or proxy_type(c.store, scope) == "nginx"):
        # validate, then store (issue 10): a setting nginx rejects is never kept, or the next
        # deploy fails at the traffic switch with old and new containers both running; a global
        # one is checked against every deployed app's config and applied by build-config --all
        routed(c, scope, lambda store: _nginx_on(store).set_property(scope, key, value))
    else:
        _nginx(c).set_property(scope, key, value)
    log.info("%s nginx %s for %s", "Set" if value else "Unset", key, scope)
    if scope == GLOBAL_SCOPE and key not in LOCATION_KEYS:
        log.info("Run proxy:build-config --all to apply it to deployed apps")


@click.command("nginx:report")
@click.option("--global", "is_global", is_flag=True)
@click.argument("app", required=False)
@pass_cli
def report(c: CliContext, is_global: bool, app: str | None) -> None:
    """Report nginx properties (app, global and computed values) and whether nginx runs."""
    scope = scope_of(c, app, is_global)
    c.report(f"{scope} nginx information", _nginx(c).report(scope))


def _require_nginx_app(c: CliContext, app: str) -> None:
    from dockyard.core.routing import configured_type

    require_app(c.store, app)
    if configured_type(c.store, app) != "nginx":
        raise ProxyError("This command is only available for apps with the nginx proxy type")


@click.command("nginx:show-config")
@click.argument("app")
@pass_cli
def show_config(c: CliContext, app: str) -> None:
    """Print APP's nginx files (Dokku's ``No nginx.conf exists for APP`` when it has none)."""
    _require_nginx_app(c, app)
    click.echo(_nginx(c).show_config(app))


@click.command("nginx:validate-config")
@click.argument("app", required=False)
@click.option("--clean", is_flag=True, help="Remove the config of each app that fails on its own.")
@pass_cli
def validate_config(c: CliContext, app: str | None, clean: bool) -> None:
    """Run nginx -t; if it fails, name (and with --clean remove) each app config that fails on its own."""
    if app == "--clean":  # Dokku's nginx:validate-config --clean
        app, clean = None, True
    if app:
        require_app(c.store, app)

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


@click.command("nginx:access-logs")
@click.argument("app")
@click.option("-t", "follow", is_flag=True, help="Follow the log (tail -F).")
@pass_cli
def access_logs(c: CliContext, app: str, follow: bool) -> None:
    """Show the last 20 lines of APP's nginx access log, or follow it with -t."""
    _logs(c, app, "access", follow)


@click.command("nginx:error-logs")
@click.argument("app")
@click.option("-t", "follow", is_flag=True, help="Follow the log (tail -F).")
@pass_cli
def error_logs(c: CliContext, app: str, follow: bool) -> None:
    """Show the last 20 lines of APP's nginx error log, or follow it with -t."""
    _logs(c, app, "error", follow)


@click.command("nginx:start")
@pass_cli
def start(c: CliContext) -> None:
    """Start a private nginx (writing a main config if there is none) and build every app's config."""
    from dockyard.core.properties import list_apps
    from dockyard.core.routing import proxy_type, rebuild_many

    log.info("%s", _nginx(c).start())
    apps = [a for a in list_apps(c.store) if is_deployed(c.store, a) and proxy_type(c.store, a) == "nginx"]
    if apps:
        results = rebuild_many(c.store, apps, c.scheduler_for, force=False)
        failed = [r.app for r in results if not r.ok]
        if failed:
            raise ProxyError(f"nginx started, but the config of {', '.join(failed)} was rejected")


@click.command("nginx:reload")
@pass_cli
def reload(c: CliContext) -> None:
    """Check the whole nginx config with nginx -t, then reload nginx."""
    log.info("%s", _nginx(c).reload())


@click.command("nginx:stop")
@pass_cli
def stop(c: CliContext) -> None:
    """Stop the private nginx."""
    log.info("%s", _nginx(c).stop())
