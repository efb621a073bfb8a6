"""network:* commands: networks on the scheduler, and the app's network properties.

Several networks per attach phase are stored as one comma-separated value, as Dokku 0.31+
does, so Dokku's own property files read the same. A network that does not exist yet is
accepted at set time (as in Dokku); the next deploy refuses it before changing anything.
"""

from __future__ import annotations

import click

from dockyard.core.cli._props import global_triplet_rows, report_command, store_property, triplet_rows
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import NotFound, ValidationError
from dockyard.core.models import NetworkInfo
from dockyard.core.names import GLOBAL_SCOPE, validate_network_name
from dockyard.core.plan import ATTACH_PHASES as ATTACH
from dockyard.core.plan import NETWORK, app_listeners, is_deployed, network_value, other_attach_phase, split_networks
from dockyard.core.properties import check_property, computed, list_apps, require_app

DEFAULTS = {
    "attach-post-create": "",
    "attach-post-deploy": "",
    "bind-all-interfaces": "false",
    "initial-network": "",
    "tld": "",
}



def _dokku_json(n: NetworkInfo) -> dict[str, object]:
    """Dokku's JSON of a network (its Go ``DockerNetwork``: docker's own field names)."""
    return {"CreatedAt": n.created_at, "DokkuManaged": n.managed, "Driver": n.driver, "ID": n.id,
            "Internal": n.internal, "IPv6": n.ipv6, "Labels": dict(n.labels), "Name": n.name,
            "Scope": n.scope}


def _named(network: str | None) -> str:
    if not network:
        raise ValidationError("No network name specified")
    return network


@click.command("network:create")
@click.argument("network", required=False)
@pass_cli
def create(c: CliContext, network: str | None) -> None:
    """Create NETWORK: an attachable bridge labelled as Dockyard's."""
    network = _named(network)
    validate_network_name(network)
    c.info(f"Creating network {network}")
    info = c.scheduler_for(None).network_create(network)
    if c.json:
        c.emit(_dokku_json(info))


@click.command("network:destroy")
@click.argument("network", required=False)
@pass_cli
def destroy(c: CliContext, network: str | None) -> None:
    """Destroy NETWORK; refused while any container is attached, even with --force."""
    network = _named(network)
    scheduler = c.scheduler_for(None)
    if not scheduler.network_exists(network):
        raise NotFound("Network does not exist")
    c.confirm(f"destroy network {network}", network)
    c.info(f"Destroying network {network}")
    scheduler.network_destroy(network)


@click.command("network:exists")
@click.argument("network", required=False)
@pass_cli
def exists(c: CliContext, network: str | None) -> None:
    """Exit 0 if NETWORK exists, 1 otherwise."""
    if not c.scheduler_for(None).network_exists(_named(network)):
        raise NotFound("Network does not exist")
    c.info("Network exists")


@click.command("network:info")
@click.argument("network", required=False)
@pass_cli
def info(c: CliContext, network: str | None) -> None:
    """Show NETWORK as Dokku does (ID, name, driver, scope, whether Dockyard made it), and its containers."""
    network = _named(network)
    try:  # one lookup: the driver's inspect says when the network is missing
        found = c.scheduler_for(None).network_inspect(network)
    except NotFound:
        raise NotFound("Network does not exist") from None
    if c.json:
        c.emit({**_dokku_json(found), "Containers": list(found.containers)})
        return
    if not c.quiet:
        click.echo(f"=====> {network} network information")
    for label, value in (("ID:", found.id), ("Name:", found.name), ("Driver:", found.driver),
                         ("Scope:", found.scope), ("Dokku managed:", str(found.managed).lower()),
                         ("Containers:", " ".join(found.containers))):
        click.echo(f"       {label:<16}{value}")


@click.command("network:list")
@click.option("--quiet", is_flag=True, help="Names only, no header.")
@click.option("--dokku-managed", "--managed", "managed_only", is_flag=True,
              help="Only networks made by network:create (Dokku's flag; --managed is an alias).")
@pass_cli
def list_networks(c: CliContext, quiet: bool, managed_only: bool) -> None:
    """List networks."""
    nets = [n for n in c.scheduler_for(None).network_list() if n.managed or not managed_only]
    if c.json:
        c.emit([_dokku_json(n) for n in nets])
        return
    if not quiet and not c.quiet:
        click.echo("=====> Networks")
    for n in nets:
        click.echo(n.name)


def _rebuild(c: CliContext, app: str) -> dict[str, list[str]]:
    """Recompute APP's listeners from the scheduler and announce them (network-build-config)."""
    from dockyard.core.hooks import Hooks

    if not is_deployed(c.store, app):
        return {}
    scheduler = c.scheduler_for(app)
    listeners = app_listeners(c.store, scheduler, app)
    Hooks().fire("network-build-config", app=app, listeners=listeners, store=c.store, scheduler=scheduler)
    return {proc: [str(x) for x in lst] for proc, lst in listeners.items()}


def _say_rebuilt(c: CliContext, app: str, listeners: dict[str, list[str]]) -> None:
    """Dokku's line for a deployed app, then Dockyard's: each type's listeners."""
    c.info(f"Ensuring network configuration is in sync for {app}")
    for proc, found in listeners.items():
        click.echo(f"       {proc}: {' '.join(found) or '-'}")


@click.command("network:rebuild")
@click.argument("app")
@pass_cli
def rebuild(c: CliContext, app: str) -> None:
    """Recompute APP's listeners (every process type); an app never deployed has none (no output)."""
    result = _rebuild(c, require_app(c.store, app))
    if c.json:
        c.emit(result)
    elif is_deployed(c.store, app):
        _say_rebuilt(c, app, result)


@click.command("network:rebuildall")
@pass_cli
def rebuildall(c: CliContext) -> None:
    """Recompute every app's listeners."""
    apps = list_apps(c.store)
    if not apps:
        c.warn("You haven't deployed any applications yet")
        if c.json:
            c.emit({})
        return
    result = {app: _rebuild(c, app) for app in apps}
    if c.json:
        c.emit(result)
        return
    for app, listeners in result.items():
        if is_deployed(c.store, app):
            _say_rebuilt(c, app, listeners)


def _global_rows(c: CliContext) -> dict[str, str]:
    return global_triplet_rows(c, NETWORK, DEFAULTS)


@report_command("network:report", global_rows=_global_rows)
def report(c: CliContext, name: str) -> dict[str, str]:
    """Report APP's (or every app's, or --global) network settings and web listeners."""
    rows = triplet_rows(c, NETWORK, name, DEFAULTS)
    listeners = ""
    if is_deployed(c.store, name):
        listeners = " ".join(str(x) for x in app_listeners(c.store, c.scheduler_for(name), name).get("web", []))
    rows["network-web-listeners"] = listeners
    return rows


@click.command("network:set")
@click.argument("target", required=False)
@click.argument("prop", required=False)
@click.argument("values", nargs=-1)
@click.option("--global", "is_global", is_flag=True, help="Set the global value.")
@pass_cli
def set_(c: CliContext, target: str | None, prop: str | None, values: tuple[str, ...], is_global: bool) -> None:
    """Set a network property of APP (or --global); no value unsets.

    attach-post-create and attach-post-deploy take several networks (stored comma-joined).
    """
    if is_global:
        if target is None:
            raise ValidationError("No property specified")
        scope, prop, values = GLOBAL_SCOPE, target, ((prop,) if prop else ()) + values
    else:
        if target is None:
            raise ValidationError("App name must not be null")
        scope = require_app(c.store, target)
        if prop is None:
            raise ValidationError("No property specified")
    check_property(NETWORK, prop, DEFAULTS, scope)
    other = split_networks(computed(c.store, NETWORK, scope, other_attach_phase(prop))) if prop in ATTACH else ()
    store_property(c, NETWORK, scope, prop, network_value(prop, values, other))
