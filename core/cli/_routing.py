"""Shared by the routing commands (proxy, ports, domains, certs, nginx): rebuild after a change."""

from __future__ import annotations

import logging

from dockyard.core.cli.context import CliContext
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.core.properties import require_app

log = logging.getLogger("dockyard.routing")


def scope_of(c: CliContext, app: str | None, is_global: bool) -> str:
    import click

    if is_global:
        return GLOBAL_SCOPE
    if not app:
        raise click.UsageError("specify APP or --global")
    return require_app(c.store, app)


def is_deployed(c: CliContext, app: str) -> bool:
    return bool(c.store.get("release", app, "current"))


def rebuild_if_deployed(c: CliContext, app: str) -> None:
    """Dokku's post-*-update triggers: a deployed app's proxy follows its new settings."""
    if not is_deployed(c, app):
        return
    from dockyard.core.routing import rebuild

    result = rebuild(c.store, c.scheduler_for(app), app)
    if result.changed:
        log.info("Rebuilt the proxy config of %s", app)
