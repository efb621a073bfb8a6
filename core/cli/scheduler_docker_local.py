"""scheduler-docker-local:set / :report: Dokku's docker-local settings, as properties.

Only the store is touched, so these commands never load the driver (or reach docker): the
driver reads ``scheduler-docker-local/<app|--global>/<prop>`` at its next deploy.
"""

from __future__ import annotations

from dockyard.core.cli._props import (
    global_triplet_rows,
    report_command,
    set_command,
    set_property,
    triplet_rows,
)
from dockyard.core.cli.context import CliContext
from dockyard.core.errors import ValidationError

PLUGIN = "scheduler-docker-local"
#: Dokku's defaults: tini as PID 1, and Dockyard's own parallelism for starting containers
DEFAULTS = {"init-process": "true", "parallel-schedule-count": "8"}


def _validate(prop: str, value: str) -> None:
    if prop == "init-process" and value not in ("true", "false"):
        raise ValidationError(f"invalid init-process {value!r}: true or false")
    if prop == "parallel-schedule-count" and not ((value.isascii() and value.isdigit()) and 1 <= int(value) <= 64):
        raise ValidationError(f"invalid parallel-schedule-count {value!r}: a whole number from 1 to 64")


@set_command("scheduler-docker-local:set")
def set_(c: CliContext, app: str | None, prop: str | None, value: str | None, is_global: bool) -> None:
    """Set init-process or parallel-schedule-count for APP (or --global); no value unsets."""
    set_property(c, PLUGIN, tuple(DEFAULTS), app, prop, value, is_global, _validate)


def _global_rows(c: CliContext) -> dict[str, str]:
    return global_triplet_rows(c, PLUGIN, DEFAULTS, prefix=PLUGIN)


@report_command("scheduler-docker-local:report", global_rows=_global_rows)
def report(c: CliContext, app: str) -> dict[str, str]:
    """Report APP's docker-local settings (app, global and computed)."""
    return triplet_rows(c, PLUGIN, app, DEFAULTS, prefix=PLUGIN)
