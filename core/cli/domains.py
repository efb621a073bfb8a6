"""domains:* commands: the names an app answers to (validated as DNS names).

A deployed app's domains are stored only once the config built from them is live.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import click

from dockyard.core.cli._props import report_command
from dockyard.core.cli._routing import routed
from dockyard.core.cli.context import CliContext, pass_cli, scope_of, split_global
from dockyard.core.domains import (
    DISABLED_KEY,
    PLUGIN,
    default_domains,
    domains_enabled,
    read_domains,
    stored_domains,
    update_domains,
    validate_domains,
    write_domains,
)
from dockyard.core.errors import ValidationError
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.core.properties import require_app
from dockyard.propstores.base import PropertyStore

log = logging.getLogger("dockyard.domains")



def _after(c: CliContext, scope: str) -> None:
    if scope == GLOBAL_SCOPE:
        log.info("Global domains changed; run proxy:build-config --all to apply them to deployed apps")


@click.command("domains:add")
@click.option("--global", "is_global", is_flag=True)
@click.argument("app", required=False)
@click.argument("names", nargs=-1)
@pass_cli
def add(c: CliContext, is_global: bool, app: str | None, names: tuple[str, ...]) -> None:
    """Add DOMAIN… to APP (or --global)."""
    app, names = split_global(is_global, app, names)
    scope = scope_of(c, app, is_global)
    if not names:
        raise click.UsageError("specify at least one domain")
    new = validate_domains(names)
    routed(c, scope, lambda s: update_domains(s, scope, lambda current: current + new))
    _after(c, scope)
    log.info("Added %s to %s", " ".join(new), scope)


@click.command("domains:remove")
@click.option("--global", "is_global", is_flag=True)
@click.argument("app", required=False)
@click.argument("names", nargs=-1)
@pass_cli
def remove(c: CliContext, is_global: bool, app: str | None, names: tuple[str, ...]) -> None:
    """Remove DOMAIN… from APP (or --global)."""
    app, names = split_global(is_global, app, names)
    scope = scope_of(c, app, is_global)
    gone = validate_domains(names)

    def drop(current: list[str]) -> list[str]:
        missing = [n for n in gone if n not in current]
        if missing:
            raise ValidationError(f"{scope} has no domain {', '.join(missing)}")
        return [d for d in current if d not in gone]

    routed(c, scope, lambda s: update_domains(s, scope, drop))
    _after(c, scope)
    log.info("Removed %s from %s", " ".join(gone), scope)


@click.command("domains:set")
@click.option("--global", "is_global", is_flag=True)
@click.argument("app", required=False)
@click.argument("names", nargs=-1)
@pass_cli
def set_(c: CliContext, is_global: bool, app: str | None, names: tuple[str, ...]) -> None:
    """Replace the domains of APP (or --global); no names clears them."""
    app, names = split_global(is_global, app, names)
    scope = scope_of(c, app, is_global)
    routed(c, scope, lambda s: write_domains(s, scope, names))
    _after(c, scope)


def _global_command(name: str, what: str, body: Callable[[CliContext, tuple[str, ...]], None],
                    needs_names: bool = True) -> click.Command:
    """``domains:add-global`` and kin: the ``--global`` forms under Dokku's own names."""
    def run(c: CliContext, names: tuple[str, ...]) -> None:
        if needs_names and not names:
            raise click.UsageError("specify at least one domain")
        body(c, names)
        _after(c, GLOBAL_SCOPE)

    run.__doc__ = what
    f: Any = pass_cli(run)
    f = click.argument("names", nargs=-1)(f)
    return click.command(name)(f)


def _add_global(c: CliContext, names: tuple[str, ...]) -> None:
    new = validate_domains(names)
    update_domains(c.store, GLOBAL_SCOPE, lambda current: current + new)
    for name in new:
        c.info(f"Added {name}")


def _remove_global(c: CliContext, names: tuple[str, ...]) -> None:
    gone = validate_domains(names)
    update_domains(c.store, GLOBAL_SCOPE, lambda current: [d for d in current if d not in gone])
    for name in gone:
        c.info(f"Removed {name}")


def _set_global(c: CliContext, names: tuple[str, ...]) -> None:
    write_domains(c.store, GLOBAL_SCOPE, names)
    c.info(f"Set {' '.join(validate_domains(names))}")


def _clear_global(c: CliContext, names: tuple[str, ...]) -> None:
    if names:
        raise click.UsageError("domains:clear-global takes no arguments")
    write_domains(c.store, GLOBAL_SCOPE, [])
    c.info("Cleared global domains")


add_global = _global_command("domains:add-global", "Add global DOMAIN…", _add_global)
remove_global = _global_command("domains:remove-global", "Remove global DOMAIN…", _remove_global)
set_global = _global_command("domains:set-global", "Replace the global domains", _set_global)
clear_global = _global_command("domains:clear-global", "Remove every global domain", _clear_global,
                               needs_names=False)


@click.command("domains:clear")
@click.argument("app")
@pass_cli
def clear(c: CliContext, app: str) -> None:
    """Remove every domain of APP."""
    require_app(c.store, app)
    routed(c, app, lambda s: write_domains(s, app, []))
    c.info(f"Cleared domains in {app}")


@click.command("domains:reset")
@click.argument("app")
@pass_cli
def reset(c: CliContext, app: str) -> None:
    """Set APP's domains back to the defaults from the global ones (APP.GLOBALDOMAIN)."""
    require_app(c.store, app)
    names = routed(c, app, lambda s: write_domains(s, app, default_domains(s, app)))
    c.info(f"Reset domains for {app}: {' '.join(names) or '(none)'}")


@click.command("domains:enable")
@click.argument("app")
@pass_cli
def enable(c: CliContext, app: str) -> None:
    """Route APP's domains again; an app with none gets the defaults, as in Dokku."""
    require_app(c.store, app)

    def enable_on(store: PropertyStore) -> None:
        store.delete(PLUGIN, app, DISABLED_KEY)
        if not stored_domains(store, app):
            write_domains(store, app, default_domains(store, app))

    routed(c, app, enable_on)
    c.info(f"Enabled domains for {app}")


@click.command("domains:disable")
@click.argument("app")
@pass_cli
def disable(c: CliContext, app: str) -> None:
    """Route none of APP's domains (they are kept for domains:enable)."""
    require_app(c.store, app)
    routed(c, app, lambda s: s.set(PLUGIN, app, DISABLED_KEY, "true"))
    c.info(f"Disabled domains for {app}")


def _global_rows(c: CliContext) -> dict[str, str]:
    return {"domains-global-enabled": "true",
            "domains-global-vhosts": " ".join(stored_domains(c.store, GLOBAL_SCOPE))}


@report_command("domains:report", global_rows=_global_rows)
def report(c: CliContext, app: str) -> dict[str, str]:
    """Report domains, each once (Dokku's rows: the app's own and the global ones)."""
    return {"domains-app-enabled": str(domains_enabled(c.store, app)).lower(),
            "domains-app-vhosts": " ".join(read_domains(c.store, app)),
            **_global_rows(c)}
