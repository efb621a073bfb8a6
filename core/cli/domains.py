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


def _need_names(c: CliContext, cmd: str, app: str | None, is_global: bool, names: tuple[str, ...]) -> str:
    """The scope of an ``APP|--global DOMAIN…`` command; no DOMAIN fails as Dokku's (exit 1)."""
    if not is_global and not app:
        raise ValidationError("App name must not be null")
    if not names:
        target = "--global" if is_global else app
        raise ValidationError(f"Please specify a domain name. Usage: dockyard {cmd} {target} <domain> [<domain> ...]")
    return scope_of(c, app, is_global)


def _enabled_again(store: PropertyStore, scope: str) -> None:
    """Dokku's domains:add and domains:set enable the app's domains if they were disabled."""
    if scope != GLOBAL_SCOPE:
        store.delete(PLUGIN, scope, DISABLED_KEY)


@click.command("domains:add")
@click.option("--global", "is_global", is_flag=True)
@click.argument("app", required=False)
@click.argument("names", nargs=-1)
@pass_cli
def add(c: CliContext, is_global: bool, app: str | None, names: tuple[str, ...]) -> None:
    """Add DOMAIN… to APP (or --global); one already there is skipped."""
    app, names = split_global(is_global, app, names)
    scope = _need_names(c, "domains:add", app, is_global, names)
    new = validate_domains(names)
    had: list[str] = []

    def change(s: PropertyStore) -> None:
        def extend(current: list[str]) -> list[str]:
            had[:] = current
            return current + new

        update_domains(s, scope, extend)
        _enabled_again(s, scope)

    routed(c, scope, change)
    for name in new:
        c.info(f"Skipping: {name} already added to {scope}" if name in had else f"Added {name} to {scope}")
    _after(c, scope)


@click.command("domains:remove")
@click.option("--global", "is_global", is_flag=True)
@click.argument("app", required=False)
@click.argument("names", nargs=-1)
@pass_cli
def remove(c: CliContext, is_global: bool, app: str | None, names: tuple[str, ...]) -> None:
    """Remove DOMAIN… from APP (or --global); one that is not there is no error, as in Dokku."""
    app, names = split_global(is_global, app, names)
    scope = _need_names(c, "domains:remove", app, is_global, names)
    gone = [n.strip().lower() for n in names]
    routed(c, scope, lambda s: update_domains(s, scope, lambda current: [d for d in current if d not in gone]))
    for name in gone:
        c.info(f"Removed {name} from {scope}")
    _after(c, scope)


@click.command("domains:set")
@click.option("--global", "is_global", is_flag=True)
@click.argument("app", required=False)
@click.argument("names", nargs=-1)
@pass_cli
def set_(c: CliContext, is_global: bool, app: str | None, names: tuple[str, ...]) -> None:
    """Replace the domains of APP (or --global) with DOMAIN… (domains:clear removes them all)."""
    app, names = split_global(is_global, app, names)
    scope = _need_names(c, "domains:set", app, is_global, names)
    new = validate_domains(names)

    def change(s: PropertyStore) -> None:
        write_domains(s, scope, new)
        _enabled_again(s, scope)

    routed(c, scope, change)
    c.info(f"Set {' '.join(new)} for {scope}")
    _after(c, scope)


def _global_command(name: str, what: str, body: Callable[[CliContext, tuple[str, ...]], None],
                    needs_names: bool = True) -> click.Command:
    """``domains:add-global`` and kin: the ``--global`` forms under Dokku's own names."""
    def run(c: CliContext, names: tuple[str, ...]) -> None:
        if needs_names and not names:  # Dokku: exit 1
            raise ValidationError(f"Please specify a domain name. Usage: dockyard {name} <domain> [<domain> ...]")
        body(c, names)
        _after(c, GLOBAL_SCOPE)

    run.__doc__ = what
    f: Any = pass_cli(run)
    f = click.argument("names", nargs=-1)(f)
    return click.command(name)(f)


def _add_global(c: CliContext, names: tuple[str, ...]) -> None:
    new = validate_domains(names)
    had: list[str] = []

    def extend(current: list[str]) -> list[str]:
        had[:] = current
        return current + new

    update_domains(c.store, GLOBAL_SCOPE, extend)
    for name in new:
        c.info(f"Skipping {name}: already added" if name in had else f"Added {name}")


def _remove_global(c: CliContext, names: tuple[str, ...]) -> None:
    gone = [n.strip().lower() for n in names]
    update_domains(c.store, GLOBAL_SCOPE, lambda current: [d for d in current if d not in gone])
    for name in gone:
        c.info(f"Removed {name}")


def _set_global(c: CliContext, names: tuple[str, ...]) -> None:
    write_domains(c.store, GLOBAL_SCOPE, names)
    c.info(f"Set {' '.join(validate_domains(names))}")


def _clear_global(c: CliContext, names: tuple[str, ...]) -> None:
    if names:
        raise click.UsageError("domains:clear-global takes no arguments")
    c.info("Clearing global domains")
    write_domains(c.store, GLOBAL_SCOPE, [])


add_global = _global_command("domains:add-global", "Add global DOMAIN…", _add_global)
remove_global = _global_command("domains:remove-global", "Remove global DOMAIN…", _remove_global)
set_global = _global_command("domains:set-global", "Replace the global domains", _set_global)
clear_global = _global_command("domains:clear-global", "Remove every global domain", _clear_global,
                               needs_names=False)


@click.command("domains:clear")
@click.argument("app", required=False)
@click.option("--all", "all_apps", is_flag=True, help="Every app, one by one (Dokku's domains:clear --all).")
@pass_cli
def clear(c: CliContext, app: str | None, all_apps: bool) -> None:
    """Remove every domain of APP (or of every app, with --all)."""
    from dockyard.core.properties import list_apps

    if all_apps and app:
        raise click.UsageError("give APP or --all, not both")
    if not all_apps and not app:
        raise ValidationError("App name must not be null")
    def clear_one(name: str) -> None:
        routed(c, name, lambda s: write_domains(s, name, []))
        c.info(f"Cleared domains in {name}")

    for name in list_apps(c.store) if all_apps else [require_app(c.store, app or "")]:
        clear_one(name)


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
    if domains_enabled(c.store, app):
        c.info(f"Domains (VHOST) support is already enabled for app ({app})")
        return

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
    if not domains_enabled(c.store, app):
        c.info(f"Domains (VHOST) support is already disabled for app ({app})")
        return
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
