"""certs:* commands: an app's TLS certificate and key.

The pair is checked before anything is stored (the key matches, the certificate has not
expired). The PEM text, key included, is stored as properties so exports and migrations
carry it; see ``dockyard.core.certs``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from dockyard.core.cli._routing import rebuild_if_deployed
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import NotFound, ValidationError
from dockyard.core.properties import require_app

log = logging.getLogger("dockyard.certs")


def _read(path: str, what: str) -> str:
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read the {what} {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    return text


@click.command("certs:add")
@click.argument("app")
@click.argument("crt_file")
@click.argument("key_file")
@pass_cli
def add(c: CliContext, app: str, crt_file: str, key_file: str) -> None:
    """Add (or replace) APP's certificate CRT_FILE and key KEY_FILE (PEM)."""
    from dockyard.core.certs import add_cert

    require_app(c.store, app)
    info = add_cert(c.store, app, _read(crt_file, "certificate"), _read(key_file, "key"))
    log.info("Added a certificate for %s (%s), valid until %s", app, ", ".join(info.hostnames) or info.subject,
             f"{info.not_after:%Y-%m-%d}")
    rebuild_if_deployed(c, app)


@click.command("certs:remove")
@click.argument("app")
@pass_cli
def remove(c: CliContext, app: str) -> None:
    """Remove APP's certificate; https:443 entries go with it."""
    from dockyard.core.certs import has_cert, remove_cert

    require_app(c.store, app)
    if not has_cert(c.store, app):
        raise NotFound(f"app {app} has no certificate")
    remove_cert(c.store, app, c.settings.root)
    log.info("Removed the certificate of %s", app)
    rebuild_if_deployed(c, app)


@click.command("certs:report")
@click.argument("app")
@pass_cli
def report(c: CliContext, app: str) -> None:
    """Report APP's certificate."""
    from dockyard.core.certs import CRT, PLUGIN, inspect

    require_app(c.store, app)
    crt = c.store.get(PLUGIN, app, CRT)
    if not crt:
        c.report(f"{app} ssl information", {"ssl-enabled": "false"})
        return
    info = inspect(crt)
    c.report(f"{app} ssl information", {
        "ssl-enabled": "true",
        "ssl-hostnames": " ".join(info.hostnames),
        "ssl-subject": info.subject,
        "ssl-issuer": info.issuer,
        "ssl-starts-at": f"{info.not_before:%Y-%m-%d %H:%M:%S} UTC",
        "ssl-expires-at": f"{info.not_after:%Y-%m-%d %H:%M:%S} UTC",
        "ssl-expired": str(info.expired).lower(),
        "ssl-fingerprint-sha256": info.fingerprint,
        "ssl-key-stored-in": c.store.display_url,
    })
