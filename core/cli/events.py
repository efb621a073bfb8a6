"""events:listen: follow scheduler events and keep routing right (see dockyard.core.events)."""

from __future__ import annotations

import click

from dockyard.core.cli.context import CliContext, pass_cli


@click.command("events:listen")
@click.option("--max-events", type=int, default=None, help="Stop after this many events (tests).")
@click.option("--max-seconds", type=float, default=None, help="Stop after this many seconds.")
@click.option("--debounce", type=float, default=0.05, show_default=True,
              help="Seconds to gather a burst of events into one rebuild.")
@pass_cli
def listen(c: CliContext, max_events: int | None, max_seconds: float | None, debounce: float) -> None:
    """Rebuild proxy configs when container addresses change; redeploy exhausted apps."""
    from dockyard.core.events import EventListener

    name = c.settings.scheduler_default
    listener = EventListener(c.store, lambda: c.scheduler(name), scheduler_for=c.scheduler_for,
                             debounce=debounce)
    listener.run(max_events=max_events, max_seconds=max_seconds)
