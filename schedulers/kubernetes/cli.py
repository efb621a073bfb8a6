"""``dockyard k8s:manifests APP [--image IMAGE]``: what deploy would apply, as YAML.

It renders through the same ``render_manifests`` and the same capability check as
``deploy``, whichever scheduler the app has selected, and needs no cluster: nothing here
creates a Kubernetes client.
"""

from __future__ import annotations

import click

from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.schedulers.remote import render_command

#: the description ``dockyard k8s:help`` and ``dockyard help`` print
TOPIC_HELP = "Show what the kubernetes scheduler would apply"


@render_command("k8s:manifests")
@pass_cli
def manifests(c: CliContext, app: str, image: str | None) -> None:
    """Print the Kubernetes objects a deploy of APP would apply, as YAML documents."""
    import yaml

    from dockyard.schedulers.kubernetes.client import read_settings
    from dockyard.schedulers.kubernetes.driver import KubernetesScheduler
    from dockyard.schedulers.kubernetes.render import render_manifests
    from dockyard.schedulers.remote import render_as_deployed

    docs = render_as_deployed(c, app, image, KubernetesScheduler(c.store),
                              lambda plan: render_manifests(plan, read_settings(c.store, app)))
    if c.json:
        c.emit(docs)
        return
    click.echo(yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True), nl=False)
