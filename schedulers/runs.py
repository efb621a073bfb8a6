"""One-off runs: what every driver's ``run`` executes."""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.core.errors import ValidationError
from dockyard.core.models import DeployPlan


def run_argv(plan: DeployPlan, command: Sequence[str]) -> list[str]:
    """The argv a one-off ``run`` executes.

    As in Dokku, a first word naming a Procfile process runs that process's command with the
    remaining words appended; anything else runs as given.
    """
    argv = list(command)
    if not argv:
        raise ValidationError("run needs a command")
    spec = plan.process(argv[0])
    if spec is not None and spec.command is not None:
        argv = list(spec.command) + argv[1:]
    return argv
