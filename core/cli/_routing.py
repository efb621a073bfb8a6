"""Shared by the routing commands (proxy, ports, domains, certs, nginx): rebuild after a change."""

from __future__ import annotations

import logging

from dockyard.core.cli.context import CliContext

log = logging.getLogger("dockyard.routing")


def rebuild_if_deployed(c: CliContext, app: str) -> None:
    """Dokku's post-*-update triggers: a deployed app's proxy follows its new settings."""
    from dockyard.core.plan import is_deployed

    if not is_deployed(c.store, app):
        return
    from dockyard.core.routing import rebuild

    result = rebuild(c.store, c.scheduler_for(app), app)
    if result.changed:
        log.info("Rebuilt the proxy config of %s", app)
