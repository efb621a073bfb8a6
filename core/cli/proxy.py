"""proxy:* commands: the proxy type of an app, and rebuilding or clearing its config."""

from __future__ import annotations

import logging

import click

from dockyard.core.cli._all_apps import against_apps, check_parallel
from dockyard.core.cli._props import report_command
from dockyard.core.cli.context import CliContext, pass_cli, scope_of, split_global
from dockyard.core.errors import DockyardError
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.core.plan import is_deployed
from dockyard.core.properties import list_apps, require_app

log = logging.getLogger("dockyard.proxy")


def _targets(c: CliContext, app: str | None, all_apps: bool) -> list[str]:
    if all_apps == bool(app):
        raise click.UsageError("specify APP or --all")
    if app:
        return [require_app(c.store, app)]
    return [a for a in list_apps(c.store) if is_deployed(c.store, a)]


@click.command("proxy:build-config")
@click.argument("app", required=False)
@click.option("--all", "all_apps", is_flag=True, help="Every deployed app: one validation, one reload.")
@click.option("--parallel", type=int, default=None, hidden=True,
              help="Accepted for Dokku compatibility (checked as Dokku checks it); the apps are built in one batch.")
@pass_cli
def build_config(c: CliContext, app: str | None, all_apps: bool, parallel: int | None) -> None:
    """Rebuild the proxy config of APP, or of every deployed app with --all.

    With --all, every app's result is told under Dokku's ``Running build-config against app
    APP``, a rejected one warned as ``Error running build-config against app APP: …`` and
    counted (``build-config command returned N errors``, exit 1), the others kept.
    """
    from dockyard.core.routing import rebuild_many

    if all_apps:
        check_parallel(parallel)
    if all_apps and not app and not list_apps(c.store):
        c.warn("You haven't deployed any applications yet")
        return
    apps = _targets(c, app, all_apps)
    if not apps:
        c.info("No deployed apps")
        return
    with c.timed(f"Built proxy config for {len(apps)} app(s)"):
        results = rebuild_many(c.store, apps, c.scheduler_for, force=True)
    failed = [r for r in results if not r.ok]
    rows = [{"app": r.app, "changed": r.changed, "active": r.active, "ok": r.ok, "message": r.message}
            for r in results]
    if not all_apps:
        c.emit(rows, lambda rows: "\n".join(f"{r['app']}: {'changed' if r['changed'] else 'unchanged'}"
                                            + ("" if r["ok"] else " (rejected)") for r in rows))
        if failed and "\n" not in failed[0].message:
            raise DockyardError(f"{failed[0].message}; its previous config stays active")
        for r in failed:
            click.echo(f" !     {r.app}: {r.message}", err=True)
        if failed:
            raise DockyardError(f"nginx rejected the config of {app}; its previous config stays active")
        return
    if c.json:
        c.emit(rows)
    else:
        for r in results:
            c.info(f"Running build-config against app {r.app}")
            if r.ok:
                click.echo(f"       {'changed' if r.changed else 'unchanged'}")
            else:
                c.warn(f"Error running build-config against app {r.app}: {r.message}")
    if failed:
        raise DockyardError(f"build-config command returned {len(failed)} errors")


@click.command("proxy:clear-config")
@click.argument("app", required=False)
@click.option("--all", "all_apps", is_flag=True)
@pass_cli
def clear_config(c: CliContext, app: str | None, all_apps: bool) -> None:
    """Remove the proxy config of APP (or of every app)."""
    from dockyard.core.routing import proxy_for

    apps = [require_app(c.store, app)] if app and not all_apps else list_apps(c.store)
    if all_apps == bool(app):
        raise click.UsageError("specify APP or --all")
    for name in apps:
        proxy_for(c.store, name).clear_config(name)
        log.info("Cleared the proxy config of %s", name)


def _switch(c: CliContext, app: str, enable: bool) -> None:
    from dockyard.core.apps import set_proxy_enabled

    set_proxy_enabled(c.store, c.scheduler_for, app, enable, info=c.info)


def _switch_all(c: CliContext, app: str | None, all_apps: bool, parallel: int | None, enable: bool) -> None:
    """``APP`` or ``--all`` (every app, one by one, errors counted as Dokku counts them)."""
    against_apps(c, app, all_apps, parallel, "enable" if enable else "disable", lambda name: _switch(c, name, enable))


@click.command("proxy:enable")
@click.argument("app", required=False)
@click.option("--all", "all_apps", is_flag=True, help="Every app, one by one.")
@click.option("--parallel", type=int, default=None, hidden=True, help="Accepted for Dokku compatibility.")
@pass_cli
def enable(c: CliContext, app: str | None, all_apps: bool, parallel: int | None) -> None:
    """Route APP (or every app with --all) through its proxy again; its config is validated first."""
    _switch_all(c, app, all_apps, parallel, enable=True)


@click.command("proxy:disable")
@click.argument("app", required=False)
@click.option("--all", "all_apps", is_flag=True, help="Every app, one by one.")
@click.option("--parallel", type=int, default=None, hidden=True, help="Accepted for Dokku compatibility.")
@pass_cli
def disable(c: CliContext, app: str | None, all_apps: bool, parallel: int | None) -> None:
    """Stop routing APP (or every app with --all): its proxy config is removed until proxy:enable."""
    _switch_all(c, app, all_apps, parallel, enable=False)


def _global_rows(c: CliContext) -> dict[str, str]:
    return {"proxy-global-type": c.store.get("proxy", GLOBAL_SCOPE, "type") or ""}


@report_command("proxy:report", global_rows=_global_rows)
def report(c: CliContext, name: str) -> dict[str, str]:
    """Report the proxy type, port map and whether routing is active; ``APP --proxy-type`` prints one value.

    ``proxy-type`` is the raw value, as in Dokku; ``proxy-computed-type`` is what is used.
    """
    from dockyard.core.ports import read_port_map
    from dockyard.core.routing import DEFAULT_TYPE, DISABLED, PLUGIN, configured_type, proxy_enabled, proxy_for

    kind = configured_type(c.store, name)
    active, why = proxy_for(c.store, name).status()
    own = c.store.get(PLUGIN, name, "type") or ""
    enabled = proxy_enabled(c.store, name)
    return {
        "proxy-enabled": str(enabled).lower(),
        "proxy-disabled": c.store.get(PLUGIN, name, DISABLED) or "",
        "proxy-computed-disabled": str(not enabled).lower(),
        "proxy-type": own,
        "proxy-app-type": own,
        "proxy-global-type": c.store.get(PLUGIN, GLOBAL_SCOPE, "type") or "",
        "proxy-computed-type": kind or DEFAULT_TYPE,
        "proxy-port-map": " ".join(str(p) for p in read_port_map(c.store, name)),
        "proxy-routing-active": "true" if active else f"false ({why})",
    }


@click.command("proxy:set")
@click.option("--global", "is_global", is_flag=True, help="Set the default for every app.")
@click.argument("app", required=False)
@click.argument("args", nargs=-1)
@pass_cli
def set_(c: CliContext, is_global: bool, app: str | None, args: tuple[str, ...]) -> None:
    """Set the proxy type: proxy:set APP|--global type NAME (an empty NAME unsets)."""
    from dockyard.core.apps import set_proxy_type
    from dockyard.core.errors import ValidationError

    app, args = split_global(is_global, app, args)
    if not is_global and not app:
        raise ValidationError("App name must not be null")
    if not args:
        scope_of(c, app, is_global)
        raise ValidationError("No property specified")
    if len(args) == 1 and args[0] != "type":
        if ":" in args[0]:  # Dokku's guard against a port mapping given as a proxy type
            c.warn("Detected potential port mapping instead of proxy type")
            raise ValidationError("Consider using ports:set command or specifying a valid proxy")
        value = args[0]  # Dokku's older form: proxy:set APP NAME
    elif len(args) in (1, 2) and args[0] == "type":
        value = args[1] if len(args) == 2 else ""
    elif args[0] != "type":  # Dokku's proxy-port/proxy-ssl-port: not Dockyard's (see the docs)
        scope_of(c, app, is_global)
        raise ValidationError(f"Invalid property specified, valid properties include: type (not {args[0]})")
    else:
        raise click.UsageError("usage: proxy:set APP|--global type NAME")
    set_proxy_type(c.store, c.scheduler_for, scope_of(c, app, is_global), value)
