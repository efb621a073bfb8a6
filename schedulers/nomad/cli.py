"""``dockyard nomad:job APP [--image IMAGE]``: the job JSON deploy would register.

Rendered through the same ``render_job`` and capability check as ``deploy``, whichever
scheduler the app has selected; no Nomad agent is contacted.
"""

from __future__ import annotations

import json

import click

from dockyard.core.cli.context import CliContext, pass_cli


@click.command("nomad:job")
@click.argument("app")
@click.option("--image", metavar="IMAGE", help="Image to render (default: the app's last deployed one).")
@pass_cli
def job(c: CliContext, app: str, image: str | None) -> None:
    """Print the Nomad job (API JSON) a deploy of APP would register."""
    from dockyard.core.deploy import plan_for_render
    from dockyard.schedulers.capabilities import check_plan
    from dockyard.schedulers.nomad.client import read_settings
    from dockyard.schedulers.nomad.driver import NomadScheduler
    from dockyard.schedulers.nomad.render import render_job

    plan = plan_for_render(c.store, app, image, NomadScheduler(c.store))
    check_plan(app, plan.networks, plan.ports, NomadScheduler.name, NomadScheduler.capabilities)
    click.echo(json.dumps(render_job(plan, read_settings(c.store, app)), indent=2, sort_keys=True))
