"""scheduler:* commands: which scheduler runs an app.

Precedence: the app's ``selected``, then the global one, then ``--scheduler`` /
``DOCKYARD_SCHEDULER``, then docker-local. Names are checked against installed entry
points without importing any driver.
"""

from __future__ import annotations

from dockyard.core.cli._props import global_triplet_rows, report_command, set_command, set_property, triplet_rows
from dockyard.core.cli.context import CliContext
from dockyard.core.errors import PluginError

PLUGIN = "scheduler"


def _validate_name(prop: str, value: str) -> None:
    """Only an installed scheduler can be selected (checked by entry point name, not import)."""
    from dockyard.core.plugins import SCHEDULERS, installed_names

    names = installed_names(SCHEDULERS)
    if value not in names:
        raise PluginError(f"unknown scheduler {value!r}; installed: {', '.join(names) or 'none'}")


@set_command("scheduler:set")
def set_(c: CliContext, app: str | None, prop: str | None, value: str | None, is_global: bool) -> None:
    """Select APP's (or the --global) scheduler: scheduler:set APP selected NAME."""
    set_property(c, PLUGIN, ("selected",), app, prop, value, is_global, _validate_name)


def _global_rows(c: CliContext) -> dict[str, str]:
    rows = global_triplet_rows(c, PLUGIN, {"selected": ""})
    rows["scheduler-computed-selected"] = c.scheduler_name(None)  # the global one, else the default
    return rows


@report_command("scheduler:report", global_rows=_global_rows)
def report(c: CliContext, name: str) -> dict[str, str]:
    """Report the scheduler selection of APP (or every app); ``--global`` the global one."""
    # computed is the full precedence (down to --scheduler and docker-local), not only properties
    rows = triplet_rows(c, PLUGIN, name, {"selected": ""})
    rows["scheduler-computed-selected"] = c.scheduler_name(name)
    return rows
