"""domains:* commands: the names an app answers to (validated as DNS names)."""

from __future__ import annotations

import logging

import click

from dockyard.core.cli._props import report_command
from dockyard.core.cli._routing import rebuild_if_deployed
from dockyard.core.cli.context import CliContext, pass_cli, scope_of
from dockyard.core.domains import read_domains, stored_domains, update_domains, validate_domains, write_domains
from dockyard.core.errors import ValidationError
from dockyard.core.names import GLOBAL_SCOPE

log = logging.getLogger("dockyard.domains")


def _split(is_global: bool, app: str | None, names: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    if is_global and app is not None:
        return None, (app, *names)
    return app, names


def _after(c: CliContext, scope: str) -> None:
    if scope == GLOBAL_SCOPE:
        log.info("Global domains changed; run proxy:build-config --all to apply them to deployed apps")
    else:
        rebuild_if_deployed(c, scope)


@click.command("domains:add")
@click.option("--global", "is_global", is_flag=True)
@click.argument("app", required=False)
@click.argument("names", nargs=-1)
@pass_cli
def add(c: CliContext, is_global: bool, app: str | None, names: tuple[str, ...]) -> None:
    """Add DOMAIN… to APP (or --global)."""
    app, names = _split(is_global, app, names)
    scope = scope_of(c, app, is_global)
    if not names:
        raise click.UsageError("specify at least one domain")
    new = validate_domains(names)
    update_domains(c.store, scope, lambda current: current + new)
    _after(c, scope)
    log.info("Added %s to %s", " ".join(new), scope)


@click.command("domains:remove")
@click.option("--global", "is_global", is_flag=True)
@click.argument("app", required=False)
@click.argument("names", nargs=-1)
@pass_cli
def remove(c: CliContext, is_global: bool, app: str | None, names: tuple[str, ...]) -> None:
    """Remove DOMAIN… from APP (or --global)."""
    app, names = _split(is_global, app, names)
    scope = scope_of(c, app, is_global)
    gone = validate_domains(names)

    def drop(current: list[str]) -> list[str]:
        missing = [n for n in gone if n not in current]
        if missing:
            raise ValidationError(f"{scope} has no domain {', '.join(missing)}")
        return [d for d in current if d not in gone]

    update_domains(c.store, scope, drop)
    _after(c, scope)
    log.info("Removed %s from %s", " ".join(gone), scope)


@click.command("domains:set")
@click.option("--global", "is_global", is_flag=True)
@click.argument("app", required=False)
@click.argument("names", nargs=-1)
@pass_cli
def set_(c: CliContext, is_global: bool, app: str | None, names: tuple[str, ...]) -> None:
    """Replace the domains of APP (or --global); no names clears them."""
    app, names = _split(is_global, app, names)
    scope = scope_of(c, app, is_global)
    write_domains(c.store, scope, names)
    _after(c, scope)


def _global_rows(c: CliContext) -> dict[str, str]:
    return {"domains-global-enabled": "true",
            "domains-global-vhosts": " ".join(stored_domains(c.store, GLOBAL_SCOPE))}


@report_command("domains:report", global_rows=_global_rows)
def report(c: CliContext, app: str) -> dict[str, str]:
    """Report domains, each once (Dokku's rows: the app's own and the global ones)."""
    return {"domains-app-enabled": "true",
            "domains-app-vhosts": " ".join(read_domains(c.store, app)),
            **_global_rows(c)}
