"""One-off runs: what every driver's ``run`` executes."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Sequence
from typing import Any

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


def stream_output(api: Any, container_id: str, tty: bool) -> None:
    """Copy a one-off container's output from its very start until it exits, through the
    docker engine API ``api`` (docker-local's, or any driver's whose one-offs are local
    containers, such as swarm's).

    ``logs --follow`` ends when the container stops (an attach stream may not); one
    follower per stream keeps stdout and stderr apart (a tty has only one).
    """

    def follow(stdout: bool, target: Any) -> None:
        for chunk in api.logs(container_id, stdout=stdout, stderr=not stdout, stream=True, follow=True):
            _write(target, chunk)

    err = threading.Thread(target=follow, args=(False, sys.stderr), daemon=True)
    if not tty:
        err.start()
    with contextlib.suppress(KeyboardInterrupt):
        follow(True, sys.stdout)
    if not tty:
        err.join(timeout=5)


def _write(stream: Any, data: bytes) -> None:
    """Bytes as they came to a binary stream; decoded to a text-only one (a test's capture)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode(errors="replace"))
        stream.flush()
