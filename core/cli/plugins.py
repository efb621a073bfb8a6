"""plugins:list: every installed driver with its capabilities, or why it failed to load."""

from __future__ import annotations

import click

from dockyard.core.cli.context import CliContext, pass_cli


@click.command("plugins:list")
@pass_cli
def list_plugins(c: CliContext) -> None:
    """List installed drivers, their capabilities and load failures."""
    from dockyard.core.plugins import describe_all

    infos = describe_all()
    if c.json:
        c.emit([i._asdict() for i in infos])
        return
    for group in sorted({i.group for i in infos}):
        click.echo(f"=====> {group}")
        for i in (x for x in infos if x.group == group):
            if i.loaded:
                click.echo(f"       {i.name:<14} {', '.join(i.capabilities) or '-'}")
            else:
                click.echo(f"       {i.name:<14} FAILED: {i.error}")
