"""Dokku's ``[--parallel N] [--all|APP]``: run one command against one app or every app.

Dokku's ``RunCommandAgainstAllApps`` behaves alike for every plugin that has ``--all``
(``ps:start|stop|restart|rebuild``, ``proxy:enable|disable``): ``--parallel`` below -1 is
refused, no app at all is a warning, each app is announced (``Running CMD against app
APP``), a failure is warned and counted while the other apps go on, and the command ends
with ``CMD command returned N errors`` (exit 1). Written once here; Dockyard runs the apps
one by one whatever ``--parallel`` says (docs/moving-from-dokku.md).
"""

from __future__ import annotations

from collections.abc import Callable

import click

from dockyard.core.cli.context import CliContext
from dockyard.core.errors import DockyardError


def check_parallel(parallel: int | None) -> None:
    """Dokku's check of ``--parallel`` (-1 means one per CPU; anything lower is refused)."""
    if parallel is not None and parallel < -1:
        raise DockyardError(f"Invalid value {parallel} for --parallel flag")


def against_apps(c: CliContext, app: str | None, all_apps: bool, parallel: int | None, command: str,
                 action: Callable[[str], None], deployed_only: bool = False) -> None:
    """``action(APP)``, or with ``--all`` ``action`` on every app in turn, as Dokku does it.

    ``deployed_only``: an app never deployed is passed over with Dokku's ``App APP has not
    been deployed`` warning (exit 0), as ``ps:*`` do.
    """
    from dockyard.core.plan import is_deployed
    from dockyard.core.properties import list_apps, require_app

    if all_apps == bool(app):
        raise click.UsageError("specify APP or --all")
    check_parallel(parallel)

    def undeployed(name: str) -> bool:
        if deployed_only and not is_deployed(c.store, name):
            c.warn(f"App {name} has not been deployed")
            return True
        return False

    if app:
        name = require_app(c.store, app)
        if not undeployed(name):
            action(name)
        return
    apps = list_apps(c.store)
    if not apps:
        c.warn("You haven't deployed any applications yet")
        return
    c.warn(f"Running {command} in serial mode")
    errors = 0
    for name in apps:
        c.info(f"Running {command} against app {name}")
        if undeployed(name):
            continue
        try:
            action(name)
        except Exception as exc:  # any failure of one app is counted, as Dokku counts it
            c.warn(f"Error running {command} against app {name}: {exc}")
            errors += 1
    if errors:
        raise DockyardError(f"{command} command returned {errors} errors")
