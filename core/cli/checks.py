"""checks:* commands: the zero-downtime check settings (Dokku's checks plugin)."""

from __future__ import annotations

import click

from dockyard.core.cli._props import report_apps, set_command, set_property, triplet_rows
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import ValidationError
from dockyard.core.plan import CHECKS

#: property -> default, as Dokku documents them
DEFAULTS = {"wait": "10", "wait-to-retire": "60", "timeout": "5", "attempts": "5", "path": "", "disabled": ""}
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
    elif prop == "disabled":
        from dockyard.core.procfile import _TYPE_RE

        for item in value.split(","):
            if item.strip() != "_all_" and not _TYPE_RE.match(item.strip()):
                raise ValidationError(f"invalid checks disabled {value!r}: process types or _all_, comma-separated")
    return value


@set_command("checks:set")
def set_(c: CliContext, app: str | None, prop: str | None, value: str | None, is_global: bool) -> None:
    """Set a checks property of APP (or --global); an empty value unsets.

    Properties: wait, wait-to-retire, timeout, attempts, path, disabled.
    """
    set_property(c, CHECKS, DEFAULTS, app, prop, value, is_global, validate_check_value)


@click.command("checks:report")
@click.argument("app", required=False)
@pass_cli
def report(c: CliContext, app: str | None) -> None:
    """Report APP's (or every app's) checks settings: app, global and computed values."""
    report_apps(c, app, "checks", lambda name: triplet_rows(c, CHECKS, name, DEFAULTS))
