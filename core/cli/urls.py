"""``url``, ``urls`` and ``version``: Dokku's standard-plugin commands a user's scripts read.

The URLs come from the same domains and port map the proxy routes by, so what ``urls``
prints is what nginx serves: http and https mappings of the web process, the default port
of each scheme left out, as Dokku prints them.
"""

from __future__ import annotations

import socket

import click

from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import NotFound

_DEFAULT_PORT = {"http": 80, "https": 443}


def app_urls(c: CliContext, app: str) -> list[str]:
    from dockyard.core.domains import read_domains
    from dockyard.core.ports import read_port_map
    from dockyard.core.properties import require_app

    require_app(c.store, app)
    hosts = read_domains(c.store, app) or [socket.gethostname()]
    maps = [m for m in read_port_map(c.store, app) if m.scheme in _DEFAULT_PORT and m.process_type == "web"]
    urls: list[str] = []
    for host in hosts:
        for m in maps:
            port = "" if m.host_port == _DEFAULT_PORT[m.scheme] else f":{m.host_port}"
            url = f"{m.scheme}://{host}{port}"
            if url not in urls:
                urls.append(url)
    return urls


@click.command("urls")
@click.argument("app")
@pass_cli
def urls(c: CliContext, app: str) -> None:
    """Print every URL APP is served on (one per line)."""
    found = app_urls(c, app)
    c.emit(found, lambda r: "\n".join(r))


@click.command("url")
@click.argument("app")
@pass_cli
def url(c: CliContext, app: str) -> None:
    """Print APP's first URL; exits 1 when APP has no web port mapping."""
    found = app_urls(c, app)
    if not found:
        raise NotFound(f"app {app} has no http or https port mapping")
    c.emit(found[0], found[0])


@click.command("version")
@pass_cli
def version(c: CliContext) -> None:
    """Print Dockyard's version."""
    from importlib.metadata import version as dist_version

    number = dist_version("dockyard")
    c.emit({"version": number}, f"dockyard version {number}")
