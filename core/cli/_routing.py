"""Shared by the routing commands (proxy, ports, domains, certs, nginx): validate, then store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dockyard.core.cli.context import CliContext
from dockyard.propstores.base import PropertyStore


def routed(c: CliContext, app: str, change: Callable[[PropertyStore], Any], held: Iterable[str] = ()) -> Any:
    """Dokku's post-*-update triggers, made safe: a deployed app's proxy follows its new settings.

    ``change`` runs on a view of the store; the app's config is rendered from that view,
    checked by ``nginx -t`` and swapped in, and only then is the change stored. If the proxy
    rejects it (or nginx cannot bind a port at reload), the command fails and the setting stays
    as it was (issue 10). See ``dockyard.core.routing.apply_routed``.
    """
    from dockyard.core.routing import apply_routed

    return apply_routed(c.store, c.scheduler_for, app, change, held)
