"""checks:* commands: the zero-downtime check settings (Dokku's checks plugin)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from dockyard.core import checks as zd
from dockyard.core.cli._props import (
    global_triplet_rows,
    report_command,
    set_command,
    set_property,
    triplet_rows,
)
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import DeployError, ValidationError
from dockyard.core.plan import CHECKS
from dockyard.propstores.base import PropertyStore

#: property -> default, as Dokku documents them
DEFAULTS = {"wait": "10", "wait-to-retire": "60", "timeout": "5", "attempts": "5", "path": "", "disabled": "",
            "skipped": ""}
NUMERIC = {"wait", "wait-to-retire", "timeout", "attempts"}


def validate_check_value(prop: str, value: str) -> str:
    if prop in NUMERIC:
        try:
            number = float(value)
        except ValueError as exc:
            raise ValidationError(f"invalid checks {prop} {value!r}: not a number") from exc
        if number < 0 or number > 3600:
            raise ValidationError(f"invalid checks {prop} {value!r}: must be between 0 and 3600")
        if prop == "attempts" and (not (value.isascii() and value.isdigit()) or int(value) < 1):
            raise ValidationError(f"invalid checks attempts {value!r}: a whole number of at least 1")
    elif prop == "path":
        if not value.startswith("/") or any(ch.isspace() for ch in value):
            raise ValidationError(f"invalid checks path {value!r}: an absolute URL path like /health")
    elif prop in ("disabled", "skipped"):
        from dockyard.core.procfile import _TYPE_RE

        for item in value.split(","):
            if item.strip() != "_all_" and not _TYPE_RE.match(item.strip()):
                raise ValidationError(f"invalid checks {prop} {value!r}: process types or _all_, comma-separated")
    return value


@set_command("checks:set")
def set_(c: CliContext, app: str | None, prop: str | None, value: str | None, is_global: bool) -> None:
    """Set a checks property of APP (or --global); an empty value unsets.

    Properties: wait, wait-to-retire, timeout, attempts, path, disabled, skipped.
    """
    set_property(c, CHECKS, DEFAULTS, app, prop, value, is_global, validate_check_value)


def _global_rows(c: CliContext) -> dict[str, str]:
    return global_triplet_rows(c, CHECKS, DEFAULTS)


@report_command("checks:report", global_rows=_global_rows)
def report(c: CliContext, name: str) -> dict[str, str]:
    """Report APP's (or every app's, or --global) checks settings; ``APP --checks-disabled-list`` prints one value."""
    out = {f"checks-{prop}-list": c.store.get(CHECKS, name, prop) or "none" for prop in ("disabled", "skipped")}
    out.update(triplet_rows(c, CHECKS, name, DEFAULTS))
    return out


def _types_arg(f: Any) -> Any:
    f = click.argument("proctypes", required=False)(f)
    return click.argument("app")(f)


def _list_command(name: str, change: Callable[[PropertyStore, str, Sequence[str]], None], verb: str,
                  doc: str) -> click.Command:
    """checks:disable/enable/skip differ only in the list a type moves into and the word said."""
    def body(c: CliContext, app: str, proctypes: str | None) -> None:
        types = zd.parse_types(proctypes)
        change(c.store, app, types)
        click.echo(f"-----> {verb} zero downtime for {_which(verb, app, types)}")

    body.__doc__ = doc
    return click.command(name)(_types_arg(pass_cli(body)))


disable = _list_command("checks:disable", zd.disable, "Disabling", """\
    Disable zero-downtime deployment for APP's processes (all, or a comma-separated list).

    The old containers of those types stop before new ones start: there is downtime on every
    deploy, but two never run at once.
    """)
enable = _list_command("checks:enable", zd.enable, "Enabling",
                       "Enable zero-downtime deployment (and checks) for APP's processes (all, or a list).")
skip = _list_command("checks:skip", zd.skip, "Skipping",
                     "Skip the checks of APP's processes (all, or a list) but keep zero-downtime deploys.")


@click.command("checks:run")
@_types_arg
@pass_cli
def run(c: CliContext, app: str, proctypes: str | None) -> None:
    """Run the checks now on APP's running containers (all, TYPE, or TYPE.INDEX, comma-separated).

    Exits 1 on the first failing container.
    """
    c.require_app(app)  # Dokku's verify_app_name comes before any output
    types = zd.parse_types(proctypes)
    click.echo("-----> Running pre-flight checks")
    scheduler = c.scheduler_for(app)
    for kind, what, reason in zd.run(c.store, scheduler, app, types):
        if kind == "skip":
            click.echo(f"-----> Zero downtime is disabled for app ({what}). Skipping checks")
            continue
        click.echo(f"-----> Running checks for app ({what})")
        if reason:
            raise DeployError(f"checks failed for {what}: {reason}")
        click.echo(f"       {what} passed")


def _which(verb: str, app: str, types: list[str]) -> str:
    """Dokku's words: ``app's (APP) proctypes (TYPES)``, and for every type ``app (APP)``,
    except that Dokku's checks:enable says ``app's (APP)`` there too."""
    if types == [zd.ALL]:
        return f"app's ({app})" if verb == "Enabling" else f"app ({app})"
    return f"app's ({app}) proctypes ({','.join(types)})"
