"""apps:* commands: the app registry; create, destroy, clone and rename are ``dockyard.core.apps``'s."""

from __future__ import annotations

import click

from dockyard.core.cli._props import report_command, set_command, set_property
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import AppNotFound, DockyardError
from dockyard.core.properties import APPS_PLUGIN, LOCK_KEY, app_exists, is_locked, list_apps, require_app


@click.command("apps:create")
@click.argument("app")
@pass_cli
def create(c: CliContext, app: str) -> None:
    """Create APP."""
    from dockyard.core.apps import create_app

    with c.timed(f"Created {app}"):
        create_app(c.store, app)


@click.command("apps:destroy")
@click.argument("app")
@pass_cli
def destroy(c: CliContext, app: str) -> None:
    """Destroy APP: its containers, its proxy config and every property it has."""
    from dockyard.core.apps import destroy_app

    require_app(c.store, app)
    c.confirm(f"destroy app {app}", app)
    with c.timed(f"Destroyed {app}"):
        destroy_app(c.store, c.scheduler_for, app, root=c.settings.root)


@click.command("apps:list")
@pass_cli
def list_cmd(c: CliContext) -> None:
    """List apps."""
    apps = list_apps(c.store)
    if not apps and not c.json:  # Dokku's words, on stderr, exit 0
        if not c.quiet:
            click.echo("=====> My Apps")
        c.warn("You haven't deployed any applications yet")
        return
    c.emit(apps, lambda a: ("" if c.quiet else "=====> My Apps\n") + "\n".join(a))


@click.command("apps:lock")
@click.argument("app")
@pass_cli
def lock(c: CliContext, app: str) -> None:
    """Refuse deploys of APP until apps:unlock (Dokku's deploy lock)."""
    c.store.set(APPS_PLUGIN, require_app(c.store, app), LOCK_KEY, "true")
    c.info("Deploy lock created")


@click.command("apps:unlock")
@click.argument("app")
@pass_cli
def unlock(c: CliContext, app: str) -> None:
    """Remove APP's deploy lock (a deploy already running goes on)."""
    require_app(c.store, app)
    if not is_locked(c.store, app):
        c.warn("Deploy lock does not exist")
        return
    c.warn("A deploy may be in progress.")
    c.warn("Removing the app lock will not stop in progress deploys.")
    c.store.delete(APPS_PLUGIN, app, LOCK_KEY)
    c.info("Deploy lock removed.")


@click.command("apps:locked")
@click.argument("app")
@pass_cli
def locked(c: CliContext, app: str) -> None:
    """Exit 0 (saying so) if APP is locked, else 1."""
    if not is_locked(c.store, require_app(c.store, app)):
        raise DockyardError("Deploy lock does not exist")
    if not c.quiet:
        click.echo("Deploy lock exists")


@click.command("apps:exists")
@click.argument("app")
@pass_cli
def exists(c: CliContext, app: str) -> None:
    """Exit 0 if APP exists, else 20 (Dokku's exit code for a missing app)."""
    if not app_exists(c.store, app):
        raise AppNotFound(f"App {app} does not exist")
    click.echo(f"App {app} exists")


@click.command("apps:rename")
@click.argument("old")
@click.argument("new")
@click.option("--skip-deploy", is_flag=True, help="Do not redeploy the renamed app.")
@pass_cli
def rename(c: CliContext, old: str, new: str, skip_deploy: bool) -> None:
    """Rename OLD to NEW, moving every property in one batch, then redeploy it as NEW.

    As in Dokku, the old containers go first (their names carry the old app name), so the
    app is briefly down; ``--skip-deploy`` leaves NEW undeployed.
    """
    from dockyard.core.apps import rename_app

    rename_app(c.store, c.scheduler_for, old, new, skip_deploy, root=c.settings.root, timed=c.timed)


@click.command("apps:clone")
@click.option("--skip-deploy", is_flag=True, help="Do not deploy NEW from OLD's current image.")
@click.option("--ignore-existing", is_flag=True, help="Warn and exit 0 if NEW already exists.")
@click.argument("old")
@click.argument("new")
@pass_cli
def clone(c: CliContext, skip_deploy: bool, ignore_existing: bool, old: str, new: str) -> None:
    """Clone OLD's properties into a new app NEW and, as Dokku, deploy NEW from OLD's image."""
    from dockyard.core.apps import clone_app
    from dockyard.core.names import validate_app_name

    require_app(c.store, old)
    if ignore_existing and app_exists(c.store, validate_app_name(new)):
        c.warn("Name is already taken")
        return
    clone_app(c.store, c.scheduler_for, old, new, skip_deploy, timed=c.timed)


#: Dokku's apps properties; a deploy writes both once it succeeded
APPS_PROPERTIES = ("deploy-source", "deploy-source-metadata")


@set_command("apps:set")
def set_(c: CliContext, app: str | None, prop: str | None, value: str | None, is_global: bool) -> None:
    """Set deploy-source or deploy-source-metadata for APP (or --global); no value unsets."""
    if app is not None and not is_global:
        require_app(c.store, app)
    set_property(c, APPS_PLUGIN, APPS_PROPERTIES, app, prop, value, is_global)


@report_command("apps:report", title="app")
def report(c: CliContext, name: str) -> dict[str, object]:
    """Report on APP, or on every app; ``APP --app-deployed-image`` prints one value."""
    return {
        "app-created-at": c.store.get(APPS_PLUGIN, name, "created-at") or "",
        "app-locked": str(is_locked(c.store, name)).lower(),
        "app-deployed-image": c.store.get(APPS_PLUGIN, name, "deployed-image") or "",
        "app-deploy-source": c.store.get(APPS_PLUGIN, name, "deploy-source") or "",
        "app-deploy-source-metadata": c.store.get(APPS_PLUGIN, name, "deploy-source-metadata") or "",
        "app-scheduler": c.scheduler_name(name),
        "app-properties": sum(1 for _ in c.store.iter_properties(scope=name)),
    }
