"""certs:* commands: an app's TLS certificate and key.

The pair is checked before anything else (the key matches, is strong enough for this
host's OpenSSL, the certificate has not expired). For a deployed app the new pair is then
staged under new file names, the candidate config is validated with every other app's by
the real ``nginx -t`` and swapped in, and only then is the pair stored: a rejected
certificate leaves the store, the files and nginx as they were (issue 10). The PEM text,
key included, is stored as properties so exports and migrations carry it; see
``dockyard.core.certs``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

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
    from dockyard.core.certs import add_cert, check_pair
    from dockyard.core.ports import PORTS_LOCK
    from dockyard.core.routing import apply_routed

    require_app(c.store, app)
    crt, key = _read(crt_file, "certificate"), _read(key_file, "key")
    check_pair(crt, key)  # before anything: one line, and nothing written anywhere
    with c.store.lock(PORTS_LOCK, timeout=30):  # the map is read and written back: no ports:* between
        info = apply_routed(c.store, c.scheduler_for, app, lambda view: add_cert(view, app, crt, key),
                            held=(PORTS_LOCK,))
    log.info("Added a certificate for %s (%s), valid until %s", app, ", ".join(info.hostnames) or info.subject,
             f"{info.not_after:%Y-%m-%d}")


@click.command("certs:remove")
@click.argument("app")
@pass_cli
def remove(c: CliContext, app: str) -> None:
    """Remove APP's certificate; https:443 entries go with it."""
    from dockyard.core.certs import forget_files, has_cert, remove_cert
    from dockyard.core.plan import is_deployed
    from dockyard.core.ports import PORTS_LOCK
    from dockyard.core.routing import apply_routed

    require_app(c.store, app)
    if not has_cert(c.store, app):
        raise NotFound(f"app {app} has no certificate")
    with c.store.lock(PORTS_LOCK, timeout=30):
        apply_routed(c.store, c.scheduler_for, app, lambda view: remove_cert(view, app), held=(PORTS_LOCK,))
    if not is_deployed(c.store, app):  # a deployed app's proxy removed them once the new config was live
        forget_files(c.settings.root, app)
    log.info("Removed the certificate of %s", app)


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
