"""config:* commands: the app's environment, kept under the plugin ``config``.

Each variable is one property (``config/<app>/<KEY>``), so the environment is exported,
backed up and migrated with everything else.
"""

from __future__ import annotations

import re
import shlex

import click

from dockyard.core.cli.context import CliContext, pass_cli, scope_of
from dockyard.core.errors import NotFound, ValidationError
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.core.properties import require_app
from dockyard.propstores.base import Delete, Put

PLUGIN = "config"
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _key(key: str) -> str:
    if not _KEY_RE.match(key):
        raise ValidationError(f"invalid environment variable name {key!r}")
    return key


@click.command("config:set")
@click.option("--global", "is_global", is_flag=True, help="Set for every app.")
@click.option("--no-restart", is_flag=True, help="Do not redeploy the app with its new environment.")
@click.argument("args", nargs=-1, required=True)
@pass_cli
def set_(c: CliContext, is_global: bool, no_restart: bool, args: tuple[str, ...]) -> None:
    """Set KEY=VALUE pairs on APP (or --global)."""
    app = None if is_global else args[0]
    pairs = args if is_global else args[1:]
    scope = scope_of(c, app, is_global)
    if not pairs:
        raise click.UsageError("give at least one KEY=VALUE")
    ops: list[Put | Delete] = []
    for pair in pairs:
        if "=" not in pair:
            raise ValidationError(f"expected KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        ops.append(Put(PLUGIN, scope, _key(key), value) if value else Delete(PLUGIN, scope, _key(key)))
    c.store.apply(ops)
    c.emit({"set": [p.split("=", 1)[0] for p in pairs]},
           "-----> Setting config vars\n" + "\n".join(f"       {p.split('=', 1)[0]}" for p in pairs))
    if not no_restart:
        _apply_env(c, scope)


@click.command("config:get")
@click.option("--global", "is_global", is_flag=True)
@click.argument("args", nargs=-1, required=True)
@pass_cli
def get(c: CliContext, is_global: bool, args: tuple[str, ...]) -> None:
    """Print the value of KEY for APP (or --global); exit 1 if unset."""
    if is_global:
        scope, key = GLOBAL_SCOPE, args[0]
    elif len(args) == 2:
        scope, key = args[0], args[1]
    else:
        raise click.UsageError("usage: config:get APP KEY")
    value = c.store.get(PLUGIN, scope, _key(key))
    if value is None:
        if scope != GLOBAL_SCOPE:
            require_app(c.store, scope)
        raise NotFound(f"{key} is not set")
    c.emit({key: value}, value)


@click.command("config:unset")
@click.option("--global", "is_global", is_flag=True)
@click.option("--no-restart", is_flag=True, help="Do not redeploy the app with its new environment.")
@click.argument("args", nargs=-1, required=True)
@pass_cli
def unset(c: CliContext, is_global: bool, no_restart: bool, args: tuple[str, ...]) -> None:
    """Unset KEYs on APP (or --global)."""
    app = None if is_global else args[0]
    keys = args if is_global else args[1:]
    scope = scope_of(c, app, is_global)
    c.store.apply([Delete(PLUGIN, scope, _key(k)) for k in keys])
    c.emit({"unset": list(keys)}, "-----> Unsetting " + ", ".join(keys))
    if not no_restart:
        _apply_env(c, scope)


def _apply_env(c: CliContext, scope: str) -> None:
    """As Dokku does, a deployed app is redeployed (zero downtime) so its containers get the
    new environment. Global config reaches each app at its next deploy or ps:restart."""
    if scope == GLOBAL_SCOPE:
        return
    from dockyard.core.plan import is_deployed

    if not is_deployed(c.store, scope):
        return
    from dockyard.core.deploy import rebuild_app

    with c.timed(f"Redeployed {scope} with its new environment"):
        rebuild_app(c.store, c.scheduler_for(scope), scope)


@click.command("config:show")
@click.option("--global", "is_global", is_flag=True)
@click.option("--shell", is_flag=True, help="Print as shell-quoted KEY=VALUE.")
@click.argument("app", required=False)
@pass_cli
def show(c: CliContext, is_global: bool, shell: bool, app: str | None) -> None:
    """Show APP's (or the global) environment."""
    scope = scope_of(c, app, is_global)
    values = {k: v for k, v in sorted(c.store.get_all(PLUGIN, scope).items()) if isinstance(v, str)}
    if shell:
        c.emit(values, "\n".join(f"{k}={shlex.quote(v)}" for k, v in values.items()))
        return
    width = max((len(k) for k in values), default=0)
    c.emit(values, f"=====> {scope} env vars\n" + "\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in values.items()))
