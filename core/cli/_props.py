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
    from dockyard.core.errors import ValidationError

    if is_global:
        if prop is None and app is not None:
            return GLOBAL_SCOPE, app, ""
        if app is not None and prop is not None and not value:
            return GLOBAL_SCOPE, app, prop
        if app is None:  # Dokku: exit 1, as for an app with no property
            raise ValidationError("No property specified")
        raise click.UsageError("usage: --global PROP [VALUE]")
    if app is None:
        raise ValidationError("App name must not be null")
    if prop is None:  # Dokku's message and exit code (1), after the app is checked
        require_app(c.store, app)
        raise ValidationError("No property specified")
    return require_app(c.store, app), prop, value or ""


def store_property(c: CliContext, plugin: str, scope: str, prop: str, value: str) -> None:
    """Set ``prop`` (an empty value unsets it, as in Dokku) and say which happened."""
    if set_or_unset(c.store, plugin, scope, prop, value):
        c.info2(f"Setting {prop} to {value}")
    else:
        c.info2(f"Unsetting {prop}")


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


#: ``rows_for(app)`` of a report, and ``global_rows()`` of its ``--global`` form
RowsFor = Callable[[str], Mapping[str, Any]]
GlobalRows = Callable[[], Mapping[str, Any]]


def json_rows(topic: str, rows: Mapping[str, Any]) -> dict[str, Any]:
    """Dokku's JSON report keys: each ``TOPIC-KEY`` also as ``KEY`` (current Dokku strips the
    prefix and keeps the prefixed key for older scripts); keys without the prefix stay as they are."""
    out: dict[str, Any] = {}
    prefix = f"{topic}-"
    for key, value in rows.items():
        out[key] = value
        if key.startswith(prefix) and len(key) > len(prefix):
            out.setdefault(key[len(prefix):], value)
    return out


def global_triplet_rows(c: CliContext, plugin: str, defaults: Mapping[str, str],
                        prefix: str | None = None) -> dict[str, str]:
    """The ``--global`` report of a triplet plugin, as Dokku's: each ``PREFIX-global-PROP``
    row, then each ``PREFIX-computed-PROP`` (the global value, else the default)."""
    prefix = prefix or plugin
    glob = {prop: c.store.get(plugin, GLOBAL_SCOPE, prop) or "" for prop in defaults}
    rows = {f"{prefix}-global-{prop}": value for prop, value in glob.items()}
    rows.update({f"{prefix}-computed-{prop}": glob[prop] or default for prop, default in defaults.items()})
    return rows


def parse_report_args(args: tuple[str, ...]) -> tuple[str | None, bool, str | None]:
    """``[APP] [--global] [--INFO-FLAG]`` in any order -> (app, is_global, info flag key)."""
    app: str | None = None
    is_global = False
    flag: str | None = None
    for tok in args:
        if tok == "--global":
            is_global = True
        elif tok.startswith("--"):
            if flag is not None:
                raise click.UsageError("only one info flag may be given")
            flag = tok[2:]
        elif app is None:
            app = tok
        else:
            raise click.UsageError(f"unexpected argument {tok!r}")
    return app, is_global, flag


def show_report(c: CliContext, topic: str, title: str, app: str | None, is_global: bool,
                flag: str | None, rows_for: RowsFor, global_rows: GlobalRows | None = None,
                prefix: str | None = None) -> None:
    """Everything a ``PLUGIN:report`` does, as Dokku does it.

    ``APP --KEY`` prints that one value alone (the form scripts read); ``--global`` reports
    the global rows under ``=====> Global TITLE information``; no app reports every app.
    An info flag with ``--format json`` is refused, as in Dokku, since it has one bare value.
    """
    from dockyard.core.errors import DockyardError

    prefix = prefix or topic  # the rows' key prefix, stripped in JSON (``ssl-`` for certs)
    if flag is not None and c.json:  # Dokku fails (exit 1) here, not a usage error
        raise DockyardError("--format flag cannot be specified when specifying an info flag")
    if is_global:
        if global_rows is None:
            raise click.UsageError(f"{topic}:report has no --global form")
        if app is not None:
            raise click.UsageError("give APP or --global, not both")
        rows: Mapping[str, Any] = dict(global_rows())
        if flag is not None:
            click.echo(_info_value(rows, flag))
        elif c.json:
            c.emit(json_rows(prefix, rows))
        else:
            c.report(f"Global {title} information", rows)
        return
    if flag is not None and app is None:
        raise click.UsageError("an info flag needs APP")
    apps = [require_app(c.store, app)] if app else list_apps(c.store)
    out = {name: dict(rows_for(name)) for name in apps}
    if flag is not None:
        click.echo(_info_value(out[apps[0]], flag))
        return
    if c.json:
        c.emit(json_rows(prefix, out[apps[0]]) if app else
               {name: json_rows(prefix, rows) for name, rows in out.items()})
        return
    for name, rows in out.items():
        c.report(f"{name} {title} information", rows)


def _info_value(rows: Mapping[str, Any], flag: str) -> str:
    from dockyard.core.errors import DockyardError

    if flag not in rows:
        valid = ", ".join(f"--{k}" for k in rows)
        raise DockyardError(f"Invalid flag passed, valid flags: {valid}")
    return str(rows[flag])


def report_command(name: str, title: str | None = None,
                   global_rows: Callable[[CliContext], Mapping[str, Any]] | None = None,
                   prefix: str | None = None,
                   ) -> Callable[[Callable[[CliContext, str], Mapping[str, Any]]], click.Command]:
    """``@report_command("ports:report")`` over ``rows_for(c, app)``: the whole Dokku report
    command (``[APP] [--global] [--INFO-FLAG]``). A plugin gets info flags by declaring its
    rows' keys and ``--global`` by passing ``global_rows(c)``; ``prefix`` is the rows' key
    prefix when it is not the plugin's name (certs' rows are Dokku's ``ssl-*``)."""
    topic = name.split(":", 1)[0]

    def wrap(rows_for: Callable[[CliContext, str], Mapping[str, Any]]) -> click.Command:
        def body(c: CliContext, args: tuple[str, ...]) -> None:
            app, is_global, flag = parse_report_args(args)
            show_report(c, topic, title or topic, app, is_global, flag,
                        lambda a: rows_for(c, a),
                        (lambda: global_rows(c)) if global_rows is not None else None, prefix)

        body.__doc__ = rows_for.__doc__
        f: Any = pass_cli(body)
        f = click.argument("args", nargs=-1, type=click.UNPROCESSED)(f)
        return click.command(name, context_settings={"ignore_unknown_options": True})(f)

    return wrap
