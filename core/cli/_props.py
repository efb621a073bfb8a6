"""Shared by the property commands (checks, scheduler, ps, network, proxy): set and report.

Dokku's ``PLUGIN:set`` and ``PLUGIN:report`` commands all behave alike (an empty value
unsets; a report covers one app or every app, with app, global and computed rows), so they
are written once here and each command only supplies its plugin's names and checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import click

from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.core.properties import check_property, list_apps, report_triplet, require_app, set_or_unset

#: the body of a ``PLUGIN:set``: (cli, app, prop, value, is_global)
SetBody = Callable[[CliContext, str | None, str | None, str | None, bool], None]


def set_command(name: str) -> Callable[[SetBody], click.Command]:
    """``@set_command("checks:set")``: the ``APP PROP [VALUE]`` / ``--global PROP [VALUE]`` arguments."""
    def wrap(body: SetBody) -> click.Command:
        f: Any = pass_cli(body)
        f = click.option("--global", "is_global", is_flag=True, help="Set the global value.")(f)
        for arg in ("value", "prop", "app"):
            f = click.argument(arg, required=False)(f)
        return click.command(name)(f)

    return wrap


def scope_args(c: CliContext, app: str | None, prop: str | None, value: str | None,
               is_global: bool) -> tuple[str, str, str]:
    """``APP PROP [VALUE]`` or ``--global PROP [VALUE]`` -> (scope, prop, value)."""
    if is_global:
        if prop is None and app is not None:
            return GLOBAL_SCOPE, app, ""
        if app is not None and prop is not None and not value:
            return GLOBAL_SCOPE, app, prop
        raise click.UsageError("usage: --global PROP [VALUE]")
    if app is None or prop is None:
        raise click.UsageError("usage: APP PROP [VALUE] (or --global PROP [VALUE])")
    return require_app(c.store, app), prop, value or ""


def store_property(c: CliContext, plugin: str, scope: str, prop: str, value: str) -> None:
    """Set ``prop`` (an empty value unsets it, as in Dokku) and say which happened."""
    if set_or_unset(c.store, plugin, scope, prop, value):
        click.echo(f"-----> Setting {prop} to {value}")
    else:
        click.echo(f"-----> Removing {prop}")


def set_property(c: CliContext, plugin: str, allowed: Iterable[str], app: str | None, prop: str | None,
                 value: str | None, is_global: bool,
                 validate: Callable[[str, str], object] | None = None) -> None:
    """``PLUGIN:set APP PROP [VALUE]`` / ``--global PROP [VALUE]``.

    The property name and (non-empty) value are checked before anything is stored, so a
    refused value leaves the old one in place.
    """
    scope, prop, value = scope_args(c, app, prop, value, is_global)
    check_property(plugin, prop, allowed, scope)
    if value and validate is not None:
        validate(prop, value)
    store_property(c, plugin, scope, prop, value)


def triplet_rows(c: CliContext, plugin: str, app: str, defaults: Mapping[str, str],
                 prefix: str | None = None) -> dict[str, str]:
    """``PREFIX-PROP``, ``PREFIX-global-PROP`` and ``PREFIX-computed-PROP`` rows for each property."""
    prefix = prefix or plugin
    rows: dict[str, str] = {}
    for prop, default in defaults.items():
        own, glob, computed = report_triplet(c.store, plugin, app, prop, default)
        rows[f"{prefix}-{prop}"] = own
        rows[f"{prefix}-global-{prop}"] = glob
        rows[f"{prefix}-computed-{prop}"] = computed
    return rows


def report_apps(c: CliContext, app: str | None, topic: str,
                rows_for: Callable[[str], Mapping[str, Any]]) -> None:
    """``PLUGIN:report [APP]``: one app's rows, or every app's under ``=====> APP TOPIC information``.

    With ``--format json`` one app gives its rows and no app gives ``{app: rows}``.
    """
    apps = [require_app(c.store, app)] if app else list_apps(c.store)
    out = {name: dict(rows_for(name)) for name in apps}
    if c.json:
        c.emit(out[app] if app else out)
        return
    for name, rows in out.items():
        c.report(f"{name} {topic} information", rows)
