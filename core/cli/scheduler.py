"""scheduler:* commands: which scheduler runs an app.

Precedence: the app's ``selected``, then the global one, then ``--scheduler`` /
``DOCKYARD_SCHEDULER``, then docker-local. Names are checked against installed entry
points without importing any driver.
"""

from __future__ import annotations

import click
from dockyard.core.cli.checks import scope_args
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import PluginError
from dockyard.core.properties import check_property, list_apps, report_triplet, require_app, set_or_unset

PLUGIN = "scheduler"


@click.command("scheduler:set")
@click.argument("app", required=False)
@click.argument("prop", required=False)
@click.argument("value", required=False)
@click.option("--global", "is_global", is_flag=True, help="Set the global value.")
@pass_cli
def set_(c: CliContext, app: str | None, prop: str | None, value: str | None, is_global: bool) -> None:
    """Select APP's (or the --global) scheduler: scheduler:set APP selected NAME."""
    from dockyard.core.plugins import SCHEDULERS, installed_names

    scope, prop, value = scope_args(c, app, prop, value, is_global)
    check_property(PLUGIN, prop, ("selected",), scope)
    if value:
        names = installed_names(SCHEDULERS)
        if value not in names:
            raise PluginError(f"unknown scheduler {value!r}; installed: {', '.join(names) or 'none'}")
    if set_or_unset(c.store, PLUGIN, scope, prop, value):
        click.echo(f"-----> Setting {prop} to {value}")
    else:
        click.echo(f"-----> Removing {prop}")


@click.command("scheduler:report")
@click.argument("app", required=False)
@pass_cli
def report(c: CliContext, app: str | None) -> None:
    """Report the scheduler selection of APP (or every app)."""
    apps = [require_app(c.store, app)] if app else list_apps(c.store)
    out = {}
    for name in apps:
        own, glob, _ = report_triplet(c.store, PLUGIN, name, "selected")
        out[name] = {
            "scheduler-selected": own,
            "scheduler-global-selected": glob,
            "scheduler-computed-selected": c.scheduler_name(name),
        }
    if c.json:
        c.emit(out[app] if app else out)
        return
    for name, rows in out.items():
        c.report(f"{name} scheduler information", rows)
