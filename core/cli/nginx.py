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


@click.command("nginx:show-config")
@click.argument("app")
@pass_cli
def show_config(c: CliContext, app: str) -> None:
    """Print APP's nginx files."""
    require_app(c.store, app)
    click.echo(_nginx(c).show_config(app))


@click.command("nginx:validate-config")
@click.argument("app", required=False)
@pass_cli
def validate_config(c: CliContext, app: str | None) -> None:
    """Run the real nginx -t on the main config and every app's file."""
    if app:
        require_app(c.store, app)
    message = _nginx(c).validate(app)
    log.info("%s", message)


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


@click.command("nginx:stop")
@pass_cli
def stop(c: CliContext) -> None:
    """Stop the private nginx."""
    log.info("%s", _nginx(c).stop())
