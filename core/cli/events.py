"""events:listen: follow scheduler events and keep routing right (see dockyard.core.events)."""

from __future__ import annotations

import logging

import click

from dockyard.core.cli.context import CliContext, pass_cli

log = logging.getLogger("dockyard.letsencrypt")


@click.command("events:listen")
@click.option("--max-events", type=int, default=None, help="Stop after this many events (tests).")
@click.option("--max-seconds", type=float, default=None, help="Stop after this many seconds.")
@click.option("--debounce", type=float, default=0.05, show_default=True,
              help="Seconds to gather a burst of events into one rebuild.")
@pass_cli
def listen(c: CliContext, max_events: int | None, max_seconds: float | None, debounce: float) -> None:
    """Rebuild proxy configs when container addresses change; redeploy exhausted apps; renew
    letsencrypt certificates once a day (and shortly after start)."""
    from dockyard.core import letsencrypt as le
    from dockyard.core.cli.letsencrypt import renew_apps
    from dockyard.core.events import EventListener, renew_schedule

    def renew() -> le.RenewalPass:
        """letsencrypt:auto-renew's pass over every app; the listener logs its summary."""
        return renew_apps(c, le.managed_apps(c.store), log.debug, log.warning)

    name = c.settings.scheduler_default
    every, first = renew_schedule()
    listener = EventListener(c.store, lambda: c.scheduler(name), scheduler_for=c.scheduler_for,
                             debounce=debounce, renew=renew, renew_every=every, renew_first=first,
                             scheduler_named=c.scheduler, default_scheduler=name)
    listener.run(max_events=max_events, max_seconds=max_seconds)
