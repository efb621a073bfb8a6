"""``dockyard nomad:job APP [--image IMAGE]``: the job JSON deploy would register.

Rendered through the same ``render_job`` and capability check as ``deploy``, whichever
scheduler the app has selected; no Nomad agent is contacted.
"""

from __future__ import annotations

import json

import click
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.models import DeployPlan
from dockyard.propstores.base import PropertyStore


def plan_for_render(store: PropertyStore, app: str, image: str | None) -> DeployPlan:
    """The plan deploy would use: the given image (its Procfile read through the local docker
    engine, else its CMD as web, exactly as ``deploy`` does) or the app's last deployed
    release. (The kubernetes driver has the same helper; drivers do not import each other.)"""
    import logging

    from dockyard.core.errors import DockyardError, ValidationError
    from dockyard.core.plan import build_plan
    from dockyard.core.properties import require_app

    require_app(store, app)
    if image is None:
        return build_plan(store, app)
    try:
        from dockyard.core.images import image_processes

        processes = image_processes(image)
    except ValidationError:
        raise
    except DockyardError as exc:  # a registry image this engine does not have: as deploy does
        logging.getLogger("dockyard").warning(
            "could not read a Procfile from %s (%s); using its CMD as web", image, exc)
        processes = {"web": None}
    return build_plan(store, app, image=image, processes=processes)


@click.command("nomad:job")
@click.argument("app")
@click.option("--image", metavar="IMAGE", help="Image to render (default: the app's last deployed one).")
@pass_cli
def job(c: CliContext, app: str, image: str | None) -> None:
    """Print the Nomad job (API JSON) a deploy of APP would register."""
    from dockyard.schedulers.base import check_plan
    from dockyard.schedulers.nomad.client import read_settings
    from dockyard.schedulers.nomad.driver import NomadScheduler
    from dockyard.schedulers.nomad.render import render_job

    plan = plan_for_render(c.store, app, image)
    check_plan(app, plan.networks, plan.ports, NomadScheduler.name, NomadScheduler.capabilities)
    click.echo(json.dumps(render_job(plan, read_settings(c.store, app)), indent=2, sort_keys=True))
