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


def routed_with_ports(c: CliContext, app: str, change: Callable[[PropertyStore], Any]) -> Any:
    """``routed`` under the store-wide ports lock: for a change that reads the app's port map
    and writes it back (a certificate adds or drops its https entries), so no ``ports:*``
    of another process falls in between."""
    from dockyard.core.ports import PORTS_LOCK

    with c.store.lock(PORTS_LOCK, timeout=30):
        return routed(c, app, change, held=(PORTS_LOCK,))
