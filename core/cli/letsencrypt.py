"""letsencrypt:* commands: certificates from an ACME server, with Dokku's letsencrypt plugin names.

Issuing, renewing and revoking live in ``dockyard.core.letsencrypt``; only the commands
that talk to a server (enable, auto-renew, revoke) reach the ``acme`` library, inside
that module's functions, so report, list, set and active never import it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from dockyard.core import letsencrypt as le
from dockyard.core.cli._props import global_triplet_rows, report_command, set_command, set_property, triplet_rows
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import DockyardError, LockHeld, NotFound
from dockyard.core.properties import letsencrypt_lock, require_app

if TYPE_CHECKING:
    from dockyard.core.certs import CertInfo
    from dockyard.propstores.base import PropertyStore

log = logging.getLogger("dockyard.letsencrypt")


@contextmanager
def _app_lock(c: CliContext, app: str) -> Iterator[None]:
    """One issuer per app at a time (two crons, or a cron and a user), across hosts where the store can."""
    try:
        with c.store.lock(letsencrypt_lock(app), timeout=0):
            yield
    except LockHeld:
        raise DockyardError(f"another letsencrypt command is working on {app}; try again when it is done") from None


def _issue_and_install(c: CliContext, app: str) -> CertInfo:
    """Issue through the app's own nginx, then install the pair as certs:add does: staged,
    validated by ``nginx -t`` and live before the pair (and Dockyard's note that it issued
    it) is stored, so a pair nginx refuses leaves the store and the old certificate as they were."""
    from dockyard.core.certs import add_cert, check_pair
    from dockyard.core.cli._routing import routed_with_ports
    from dockyard.core.plan import is_deployed
    from dockyard.core.routing import rebuild

    if not is_deployed(c.store, app):
        raise DockyardError(f"app {app} is not deployed: its proxy must answer the http-01 challenge "
                            "(deploy it first)")
    scheduler = c.scheduler_for(app)
    issued = le.issue(c.store, app, c.settings.root, lambda: rebuild(c.store, scheduler, app, force=False))
    check_pair(issued.crt_pem, issued.key_pem)

    def install(view: PropertyStore) -> CertInfo:
        info = add_cert(view, app, issued.crt_pem, issued.key_pem)
        le.record_installed(view, app, info, issued.server)
        return info

    info: CertInfo = routed_with_ports(c, app, install)
    return info


def _expiry(info: CertInfo) -> str:
    return f"{info.not_after:%Y-%m-%d %H:%M:%S} UTC"


@click.command("letsencrypt:enable")
@click.argument("app")
@pass_cli
def enable(c: CliContext, app: str) -> None:
    """Get (or renew) a certificate for APP's domains; the app keeps serving meanwhile."""
    require_app(c.store, app)
    c.info(f"Getting a letsencrypt certificate for {app} from {le.server_url(c.store, app)}")
    with _app_lock(c, app):
        info = _issue_and_install(c, app)
    c.info(f"Certificate installed for {', '.join(info.hostnames)}, valid until {_expiry(info)}")


@click.command("letsencrypt:disable")
@click.argument("app")
@pass_cli
def disable(c: CliContext, app: str) -> None:
    """Remove APP's letsencrypt certificate (its https entries go with it)."""
    from dockyard.core.certs import forget_files, remove_cert
    from dockyard.core.cli._routing import routed_with_ports
    from dockyard.core.plan import is_deployed

    require_app(c.store, app)
    with _app_lock(c, app):
        if le.managed(c.store, app) is None:
            raise NotFound(f"app {app} has no certificate from letsencrypt")

        def change(view: PropertyStore) -> None:
            remove_cert(view, app)
            le.forget(view, app, c.settings.root)  # the challenge location goes with this rebuild

        routed_with_ports(c, app, change)
        if not is_deployed(c.store, app):  # a deployed app's proxy removed them once the new config was live
            forget_files(c.settings.root, app)
    c.info(f"Removed the letsencrypt certificate of {app}")


@click.command("letsencrypt:revoke")
@click.argument("app")
@pass_cli
def revoke(c: CliContext, app: str) -> None:
    """Revoke APP's letsencrypt certificate at the ACME server (auto-renew then replaces it)."""
    require_app(c.store, app)
    with _app_lock(c, app):
        info = le.revoke(c.store, app)
    c.info(f"Revoked the certificate of {app} (it was valid until {_expiry(info)}); "
           f"letsencrypt:enable {app} or letsencrypt:auto-renew issues a new one")


@click.command("letsencrypt:auto-renew")
@click.argument("app", required=False)
@pass_cli
def auto_renew(c: CliContext, app: str | None) -> None:
    """Renew APP's (or every app's) certificate when it expires within renew-days or was revoked.

    Safe from cron: an app another run is renewing is skipped; one failure does not stop the
    others, and the command exits 1 if any renewal failed.
    """
    if app is not None:
        require_app(c.store, app)
        if le.managed(c.store, app) is None:
            raise NotFound(f"app {app} has no certificate from letsencrypt (letsencrypt:enable {app})")
        apps = [app]
    else:
        apps = le.managed_apps(c.store)
    done = renew_apps(c, apps, c.info, c.warn)
    if done.failed:
        raise DockyardError(f"renewal failed for {', '.join(name for name, _ in done.failed)}")


def renew_apps(c: CliContext, apps: list[str], say: Callable[[str], None],
               warn: Callable[[str], None]) -> le.RenewalPass:
    """One auto-renew pass over ``apps``: each due one (expiring within renew-days, or
    revoked) is issued again; a failure is noted and the others still run. Shared by
    ``letsencrypt:auto-renew`` and the daily pass of ``events:listen``."""
    done = le.RenewalPass()
    for name in apps:
        info = le.managed(c.store, name)
        if info is None:
            continue
        if not le.renewal_due(c.store, name, info):
            done.not_due.append(name)
            say(f"{name}: not due (expires {_expiry(info)}, renews {le.renew_days(c.store, name)} days before)")
            continue
        try:
            with _app_lock(c, name):
                new = _issue_and_install(c, name)
        except DockyardError as exc:
            done.failed.append((name, str(exc)))
            warn(f"{name}: renewal failed: {exc}")
            continue
        done.renewed.append((name, _expiry(new)))
        say(f"{name}: renewed, valid until {_expiry(new)}")
    return done


@click.command("letsencrypt:list")
@pass_cli
def list_apps(c: CliContext) -> None:
    """List apps with a letsencrypt certificate, its expiry and when it renews."""
    now = dt.datetime.now(dt.UTC)
    rows = []
    for name in le.managed_apps(c.store):
        info = le.managed(c.store, name)
        if info is None:
            continue
        renews = info.not_after - dt.timedelta(days=le.renew_days(c.store, name))
        rows.append({"app": name, "expires": _expiry(info), "expires-in": _span(info.not_after - now),
                     "renews-in": "now" if le.renewal_due(c.store, name, info, now) else _span(renews - now),
                     "revoked": le.is_revoked(c.store, name, info)})
    if c.json:
        c.emit(rows)
        return
    click.echo(f"-----> {'App name':<30} {'Certificate Expiry':<24} {'Time before expiry':<20} Time before renewal")
    for row in rows:
        click.echo(f"       {row['app']:<30} {row['expires']:<24} {row['expires-in']:<20} {row['renews-in']}")


def _span(delta: dt.timedelta) -> str:
    if delta.total_seconds() <= 0:
        return "expired"
    days, rest = divmod(int(delta.total_seconds()), 86400)
    return f"{days}d, {rest // 3600}h, {rest % 3600 // 60}m"


@click.command("letsencrypt:active")
@click.argument("app")
@pass_cli
def active(c: CliContext, app: str) -> None:
    """Exit 0 (and print true) if APP has a letsencrypt certificate, else print false and exit 1."""
    require_app(c.store, app)
    is_active = le.managed(c.store, app) is not None
    click.echo(str(is_active).lower())
    if not is_active:
        raise click.exceptions.Exit(1)


@set_command("letsencrypt:set")
def set_(c: CliContext, app: str | None, prop: str | None, value: str | None, is_global: bool) -> None:
    """Set a letsencrypt property of APP (or --global); an empty value unsets.

    Properties: email, server (default, staging or an ACME directory URL), renew-days.
    """
    set_property(c, le.PLUGIN, le.DEFAULTS, app, prop, value, is_global, le.validate_value)


def _global_rows(c: CliContext) -> Mapping[str, Any]:
    return global_triplet_rows(c, le.PLUGIN, le.DEFAULTS)


@report_command("letsencrypt:report", global_rows=_global_rows)
def report(c: CliContext, name: str) -> Mapping[str, Any]:
    """Report APP's (or every app's, or --global) letsencrypt settings and certificate."""
    info = le.managed(c.store, name)
    rows: dict[str, Any] = {
        "letsencrypt-active": str(info is not None).lower(),
        "letsencrypt-expiration": str(int(info.not_after.timestamp())) if info else "",
        "letsencrypt-expires-at": _expiry(info) if info else "",
        "letsencrypt-revoked": str(info is not None and le.is_revoked(c.store, name, info)).lower(),
    }
    rows.update(triplet_rows(c, le.PLUGIN, name, le.DEFAULTS))
    rows["letsencrypt-computed-server"] = le.server_url(c.store, name)
    return rows
