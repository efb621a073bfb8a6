"""apps:* commands: the app registry, and app destroy/clone/rename across every plugin."""

from __future__ import annotations

import logging
import time

import click

from dockyard.core.cli._props import report_command, set_command, set_property
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import DockyardError, NotFound, ValidationError
from dockyard.core.plan import is_deployed
from dockyard.core.properties import (
    APP_LOCKS,
    APPS_PLUGIN,
    LOCK_KEY,
    app_exists,
    create_app,
    deploy_lock,
    is_locked,
    list_apps,
    require_app,
)

log = logging.getLogger("dockyard.apps")


@click.command("apps:create")
@click.argument("app")
@pass_cli
def create(c: CliContext, app: str) -> None:
    """Create APP."""
    with c.timed(f"Created {app}"):
        create_app(c.store, app)
        from dockyard.core.domains import default_domains, write_domains
        from dockyard.core.hooks import Hooks

        if defaults := default_domains(c.store, app):  # Dokku: APP.GLOBALDOMAIN at creation
            write_domains(c.store, app, defaults)

        Hooks().fire("post-create", app=app, store=c.store)


@click.command("apps:destroy")
@click.argument("app")
@pass_cli
def destroy(c: CliContext, app: str) -> None:
    """Destroy APP: its containers, its proxy config and every property it has."""
    require_app(c.store, app)
    c.confirm(f"destroy app {app}", app)
    with c.timed(f"Destroyed {app}"):
        _teardown(c, app)
        removed = c.store.destroy_scope(app)
        for lock_of in APP_LOCKS:
            c.store.remove_lock(lock_of(app))
        log.info("Removed %d properties of %s", removed, app)


def _teardown(c: CliContext, app: str) -> None:
    """Remove what runs for ``app`` before its properties go: containers, and every file it
    owns, the proxy's (config, certificate files, logs: ``Proxy.remove_app``) and the core's
    own (the ACME challenge directory, a ``post-delete`` subscriber like any plugin's)."""
    from dockyard.core import letsencrypt
    from dockyard.core.hooks import Hooks
    from dockyard.core.routing import proxy_for

    if is_deployed(c.store, app):
        c.scheduler_for(app).destroy(app)
    try:
        proxy_for(c.store, app).remove_app(app)
    except DockyardError as exc:  # routing is not essential to removing an app
        log.warning("could not remove the proxy files of %s: %s", app, exc)
    hooks = Hooks()
    root = c.settings.root
    hooks.subscribe("post-delete", lambda app, **_: letsencrypt.remove_challenge_dir(root, app))
    hooks.fire("post-delete", app=app, store=c.store)


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
    """Exit 0 if APP exists, 1 otherwise."""
    if not app_exists(c.store, app):
        raise NotFound(f"app {app} does not exist")
    click.echo(f"App {app} exists")


def _check_target(c: CliContext, new: str) -> None:
    if app_exists(c.store, new):
        raise ValidationError(f"app {new} already exists")


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
    require_app(c.store, old)
    from dockyard.core.names import validate_app_name

    validate_app_name(new)
    _check_target(c, new)
    deployed = is_deployed(c.store, old)
    with c.timed(f"Renamed {old} to {new}"), c.store.lock(deploy_lock(old)):
        from dockyard.core import letsencrypt

        # the challenge directory moves with the app; the proxy's files of OLD go (NEW's
        # are written by its next build, from the certificate the store renames with it)
        letsencrypt.rename_challenge_dir(c.settings.root, old, new)
        try:
            _teardown(c, old)
            c.store.rename_scope(old, new)
        except BaseException:
            letsencrypt.rename_challenge_dir(c.settings.root, new, old)
            raise
    if deployed and not skip_deploy:
        from dockyard.core.deploy import rebuild_app

        with c.timed(f"Redeployed {new}"):
            rebuild_app(c.store, c.scheduler_for(new), new)


@click.command("apps:clone")
@click.option("--skip-deploy", is_flag=True, help="Do not deploy NEW from OLD's current image.")
@click.option("--ignore-existing", is_flag=True, help="Warn and exit 0 if NEW already exists.")
@click.argument("old")
@click.argument("new")
@pass_cli
def clone(c: CliContext, skip_deploy: bool, ignore_existing: bool, old: str, new: str) -> None:
    """Clone OLD's properties into a new app NEW and, as Dokku, deploy NEW from OLD's image."""
    from dockyard.core.names import validate_app_name
    from dockyard.core.plan import current_release

    require_app(c.store, old)
    validate_app_name(new)
    if ignore_existing and app_exists(c.store, new):
        c.warn("Name is already taken")
        return
    _check_target(c, new)
    source = current_release(c.store, old)
    with c.timed(f"Cloned {old} to {new}"):
        c.store.clone_scope(old, new)
        # the clone is a new app, not a copy of the old one's runtime state (nor its lock)
        c.store.set(APPS_PLUGIN, new, "created-at", str(int(time.time())))
        for plugin, key in (("release", "current"), ("apps", "deployed-image"), (APPS_PLUGIN, LOCK_KEY)):
            c.store.delete(plugin, new, key)
    if source is not None and not skip_deploy:
        from dockyard.core.deploy import deploy_app

        with c.timed(f"Deployed {new} from {old}'s image"):
            deploy_app(c.store, c.scheduler_for(new), new, image=source[1], processes=source[2])


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
