"""``dockyard nomad:job APP [--image IMAGE]``: the job JSON deploy would register.

Rendered through the same ``render_job`` and capability check as ``deploy``, whichever
scheduler the app has selected; no Nomad agent is contacted.
"""

from __future__ import annotations

import json

import click

from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.schedulers.remote import render_command

#: the description ``dockyard nomad:help`` and ``dockyard help`` print
TOPIC_HELP = "Show what the nomad scheduler would register"


@render_command("nomad:job")
@pass_cli
def job(c: CliContext, app: str, image: str | None) -> None:
    """Print the Nomad job (API JSON) a deploy of APP would register."""
    from dockyard.schedulers.nomad.client import read_settings
    from dockyard.schedulers.nomad.driver import NomadScheduler
    from dockyard.schedulers.nomad.render import render_job
    from dockyard.schedulers.remote import render_as_deployed

    rendered = render_as_deployed(c, app, image, NomadScheduler(c.store),
                                  lambda plan: render_job(plan, read_settings(c.store, app)))
    click.echo(json.dumps(rendered, indent=2, sort_keys=True))
