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
import sys
from typing import TYPE_CHECKING

import click

from dockyard.core.certtools import MAX_TAR_BYTES, pair_from_tar, read_file
from dockyard.core.cli._props import report_command
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import NotFound, ValidationError
from dockyard.core.properties import require_app

if TYPE_CHECKING:
    from dockyard.core.certs import CertInfo
    from dockyard.propstores.base import PropertyStore

log = logging.getLogger("dockyard.certs")


def _stdin_tar() -> bytes | None:
    """The bytes on stdin when it is not a terminal (Dokku's tar import), else None."""
    stream = sys.stdin
    try:
        if stream is None or stream.isatty():
            return None
        return stream.buffer.read(MAX_TAR_BYTES + 1) if hasattr(stream, "buffer") else stream.read().encode()
    except (OSError, ValueError):  # closed or unreadable: no tar was given
        return None


def _pair_from_args(crt_file: str | None, key_file: str | None) -> tuple[str, str]:
    """``CRT KEY`` files, or a tar on stdin holding one ``.crt`` and one ``.key`` (as Dokku reads them)."""
    if crt_file and key_file:
        return read_file(crt_file, "crt"), read_file(key_file, "key")
    data = _stdin_tar()
    if not data:
        raise ValidationError("Tar archive containing server.crt and server.key expected on stdin")
    return pair_from_tar(data)


def _store_pair(c: CliContext, app: str, crt: str, key: str, domain: str | None = None) -> CertInfo:
    """Check the pair, then stage it (and ``domain``), nginx -t, and only then store it."""
    from dockyard.core.certs import add_cert, check_pair
    from dockyard.core.cli._routing import routed_with_ports
    from dockyard.core.domains import update_domains

    checked = check_pair(crt, key, allow_expired=True)  # before anything: one line, nothing written
    if checked.expired:  # Dokku takes it too (nginx loads it); clients will refuse it
        c.warn(f"the certificate expired on {checked.not_after:%Y-%m-%d %H:%M:%S} UTC: clients will refuse it "
               "until it is renewed")

    def change(view: PropertyStore) -> CertInfo:
        info = add_cert(view, app, crt, key, allow_expired=True)
        if domain:
            update_domains(view, app, lambda current: current if domain in current else [*current, domain])
        return info

    info: CertInfo = routed_with_ports(c, app, change)
    return info


def _add(c: CliContext, app: str, crt_file: str | None, key_file: str | None) -> None:
    require_app(c.store, app)
    crt, key = _pair_from_args(crt_file, key_file)
    info = _store_pair(c, app, crt, key)
    log.info("Added a certificate for %s (%s), valid until %s", app, ", ".join(info.hostnames) or info.subject,
             f"{info.not_after:%Y-%m-%d}")


@click.command("certs:add")
@click.argument("app")
@click.argument("crt_file", required=False)
@click.argument("key_file", required=False)
@pass_cli
def add(c: CliContext, app: str, crt_file: str | None, key_file: str | None) -> None:
    """Add (or replace) APP's certificate: CRT_FILE KEY_FILE (PEM), or a tar of server.crt and server.key on stdin."""
    _add(c, app, crt_file, key_file)


@click.command("certs:update")
@click.argument("app")
@click.argument("crt_file", required=False)
@click.argument("key_file", required=False)
@pass_cli
def update(c: CliContext, app: str, crt_file: str | None, key_file: str | None) -> None:
    """Replace APP's certificate (the same command as certs:add, as in Dokku)."""
    _add(c, app, crt_file, key_file)


@click.command("certs:show")
@click.argument("app")
@click.argument("key_type", required=False, default="")
@pass_cli
def show(c: CliContext, app: str, key_type: str) -> None:
    """Print APP's certificate (crt) or private key (key), the only command that prints the key."""
    from dockyard.core.certs import CRT, KEY, PLUGIN, has_cert

    require_app(c.store, app)
    if key_type not in ("crt", "key"):
        raise ValidationError("specify either 'key' or 'crt'")
    if not has_cert(c.store, app):
        raise ValidationError(f"{app} doesn't have an SSL endpoint defined")
    text = c.store.get(PLUGIN, app, CRT if key_type == "crt" else KEY) or ""
    click.echo(text, nl=not text.endswith("\n"))


@click.command("certs:generate")
@click.argument("app")
@click.argument("domain", required=False)
@pass_cli
def generate(c: CliContext, app: str, domain: str | None) -> None:
    """Generate a self-signed certificate for APP at DOMAIN (added to APP's domains) and print its CSR.

    Dokku asks openssl's questions on the terminal; Dockyard needs none: the subject is
    ``CN=DOMAIN`` (without DOMAIN, APP's first domain, else APP). The key is never printed.
    """
    from dockyard.core.certs import has_cert
    from dockyard.core.certtools import self_signed
    from dockyard.core.domains import read_domains, validate_domains

    require_app(c.store, app)
    if domain:
        domain = validate_domains([domain])[0]
    if has_cert(c.store, app):
        c.info(f"{app} has an SSL endpoint already defined")
        return
    name = domain or next(iter(read_domains(c.store, app)), app)
    pair = self_signed(name)
    c.info("Installing certificate and key...")
    _store_pair(c, app, pair.crt, pair.key, domain)
    c.info("The following is a certificate signing request that can be used")
    c.info(f"to generate an 'officially' signed SSL certificate for {app} at {name}")
    c.info("by a CA of your choosing.")
    click.echo(pair.csr, nl=False)


@click.command("certs:remove")
@click.argument("app")
@pass_cli
def remove(c: CliContext, app: str) -> None:
    """Remove APP's certificate; https:443 entries go with it."""
    from dockyard.core.certs import forget_files, has_cert, remove_cert
    from dockyard.core.cli._routing import routed_with_ports
    from dockyard.core.plan import is_deployed

    require_app(c.store, app)
    if not has_cert(c.store, app):
        raise NotFound("An app-specific SSL endpoint is not defined")  # Dokku's words, exit 1
    c.info(f"Removing SSL endpoint from {app}")
    routed_with_ports(c, app, lambda view: remove_cert(view, app))
    if not is_deployed(c.store, app):  # a deployed app's proxy removed them once the new config was live
        forget_files(c.settings.root, app)


def _no_global_rows(c: CliContext) -> dict[str, str]:
    return {}  # Dokku's certs:report --global has no rows


@report_command("certs:report", title="ssl", global_rows=_no_global_rows, prefix="ssl")
def report(c: CliContext, app: str) -> dict[str, str]:
    """Report APP's certificate with Dokku's rows (openssl's renderings); ``APP --ssl-hostnames`` prints one value.

    After Dokku's eight rows come three of Dockyard's: ``ssl-expired``,
    ``ssl-fingerprint-sha256`` and ``ssl-key-stored-in`` (the key lives in the store).
    """
    from dockyard.core.certs import CRT, KEY, PLUGIN, inspect, tls_dir
    from dockyard.core.certtools import issuer_and_subject, openssl_date, verified

    rows = {"ssl-dir": str(tls_dir(c.settings.root, app)), "ssl-enabled": "false", "ssl-hostnames": "",
            "ssl-expires-at": "", "ssl-issuer": "", "ssl-starts-at": "", "ssl-subject": "", "ssl-verified": "",
            "ssl-expired": "", "ssl-fingerprint-sha256": "", "ssl-key-stored-in": ""}
    crt = c.store.get(PLUGIN, app, CRT)
    if not crt or not c.store.get(PLUGIN, app, KEY):
        return rows
    info = inspect(crt)
    issuer, subject = issuer_and_subject(crt)
    rows.update({
        "ssl-enabled": "true",
        "ssl-hostnames": " ".join(sorted(set(info.hostnames))),
        "ssl-expires-at": openssl_date(info.not_after),
        "ssl-issuer": issuer,
        "ssl-starts-at": openssl_date(info.not_before),
        "ssl-subject": subject,
        "ssl-verified": verified(crt),
        "ssl-expired": str(info.expired).lower(),
        "ssl-fingerprint-sha256": info.fingerprint,
        "ssl-key-stored-in": c.store.display_url,
    })
    return rows
