"""TLS certificates: checking a pair, storing it, and the http -> https port-map conversion.

The PEM text of both the certificate and the key is kept as properties
(``certs/<app>/crt`` and ``certs/<app>/key``) so ``props:export``, backups and
``props:migrate`` carry them to another host. That means **the private key lives in the
property store**: 0600 files for the file store, but plain values in redis or etcd, which
must be protected accordingly. The proxy materialises the pair as 0600 files under
``$DOCKYARD_ROOT/tls/<app>/`` (nginx can only read files), named after a hash of their
content (``server-<hash>.crt``): a new pair gets new names, which only the candidate config
refers to, so the live files are never overwritten before ``nginx -t`` has passed, and the
old ones are removed only once no live config refers to them (issue 10).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.core.errors import ValidationError
from dockyard.core.models import PortMapping
from dockyard.propstores.base import Delete, PropertyStore, Put

PLUGIN = "certs"
CRT = "crt"
KEY = "key"


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    hostnames: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint: str

    @property
    def expired(self) -> bool:
        return self.not_after < dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class TlsFiles:
    """Where the proxy writes the pair, and what goes there (the key is never in a repr)."""

    certificate: Path
    certificate_key: Path
    hostnames: tuple[str, ...]
    certificate_pem: str = field(default="", repr=False)
    key_pem: str = field(default="", repr=False)


def _load_cert(crt_pem: str):  # type: ignore[no-untyped-def]
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(crt_pem.encode())
    except ValueError as exc:
        raise ValidationError(f"the certificate is not a PEM X.509 certificate: {exc}") from exc


def inspect(crt_pem: str) -> CertInfo:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = _load_cert(crt_pem)
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n) for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        pass
    for attr in cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME):
        value = attr.value if isinstance(attr.value, str) else attr.value.decode()
        if value not in names:
            names.append(value)
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        hostnames=tuple(names),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(":"),
    )


#: smallest key sizes OpenSSL's default security level 2 accepts; nginx here refuses a
#: 1024-bit RSA key with "ee key too small" at ``nginx -t``, which used to take every app down
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224


def _check_strength(key: object) -> None:
    """Refuse a key nginx's OpenSSL would reject, before anything is stored or written."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    if isinstance(key, rsa.RSAPrivateKey | dsa.DSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise ValidationError(f"the key is too small ({key.key_size} bits); nginx needs at least {MIN_RSA_BITS}")
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size < MIN_EC_BITS:
        raise ValidationError(f"the key is too small ({key.curve.key_size} bits); nginx needs at least {MIN_EC_BITS}")


def _openssl_accepts(crt_pem: str, key_pem: str) -> None:
    """Load the pair into this host's OpenSSL (the library nginx links against here).

    Catches what the checks above do not name: a key or signature below OpenSSL's security
    level, a pair OpenSSL itself calls mismatched. The reason is OpenSSL's, never the PEM text.
    """
    with tempfile.TemporaryDirectory(prefix="dockyard-certcheck-") as tmp:
        crt_path, key_path = Path(tmp, "c.pem"), Path(tmp, "k.pem")
        crt_path.write_text(crt_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(str(crt_path), str(key_path))
        except ssl.SSLError as exc:
            reason = (exc.reason or str(exc)).lower().replace("_", " ")
            raise ValidationError(f"OpenSSL refuses the certificate and key: {reason}") from None


@functools.lru_cache(maxsize=256)
def check_usable(crt_pem: str, key_pem: str) -> CertInfo:
    """Can nginx here load this pair? Both parse, the key fits the certificate and is strong enough.

    Dates are not checked (an expired certificate still loads; see ``check_pair``). Cached:
    every build of the app checks its stored pair again, since the store can be written
    behind the certs commands' back (``props:set``, ``props:import``).
    """
    from cryptography.hazmat.primitives import serialization

    info = inspect(crt_pem)
    cert = _load_cert(crt_pem)
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError, ssl.SSLError):
        raise ValidationError("the key is not an unencrypted PEM private key") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise ValidationError("the key does not match the certificate")
    _check_strength(key)
    _openssl_accepts(crt_pem, key_pem)
    return info


def check_pair(crt_pem: str, key_pem: str, now: dt.datetime | None = None,
               allow_expired: bool = False) -> CertInfo:
    """Refuse a pair nginx would reject or browsers would: mismatched, weak, expired or not yet
    valid. ``allow_expired``: Dokku's ``certs:add`` takes an expired certificate (nginx loads
    it); the command then says so instead."""
    info = check_usable(crt_pem, key_pem)
    now = now or dt.datetime.now(dt.UTC)
    if info.not_after < now and not allow_expired:
        raise ValidationError(f"the certificate expired on {info.not_after:%Y-%m-%d %H:%M:%S} UTC")
    if info.not_before > now:
        raise ValidationError(f"the certificate is not valid before {info.not_before:%Y-%m-%d %H:%M:%S} UTC")
    return info


# ---- the port-map conversion (Dokku's post-certs-update / post-certs-remove) --------------
def with_https(entries: list[PortMapping]) -> list[PortMapping]:
    """Each ``http:80:X`` gains ``https:443:X``; the 80 entry stays and becomes a redirect.

    An explicit ``https:443`` entry (``ports:set APP http:80:80 https:443:443``) is the
    user's choice and is kept unchanged, as Dokku keeps it (issue 10, observation 4); only a
    map without one gains the converted entries.
    """
    if any(e.scheme == "https" and e.host_port == 443 for e in entries):
        return list(entries)
    added = [PortMapping("https", 443, e.container_port, e.process_type)
             for e in entries if e.scheme == "http" and e.host_port == 80]
    if not added:
        return list(entries)
    out: list[PortMapping] = []
    for entry in list(entries) + added:
        if entry not in out:
            out.append(entry)
    return out


def without_https(entries: list[PortMapping]) -> list[PortMapping]:
    return [e for e in entries if not (e.scheme == "https" and e.host_port == 443)]


# ---- storing --------------------------------------------------------------------------------
def has_cert(store: PropertyStore, app: str) -> bool:
    return bool(store.get(PLUGIN, app, CRT)) and bool(store.get(PLUGIN, app, KEY))


def add_cert(store: PropertyStore, app: str, crt_pem: str, key_pem: str, allow_expired: bool = False) -> CertInfo:
    """Check the pair, then store it and the converted port map in one batch."""
    from dockyard.core.ports import KEY as MAP_KEY
    from dockyard.core.ports import PLUGIN as PORTS
    from dockyard.core.ports import PORTS_LOCK, read_port_map

    info = check_pair(crt_pem, key_pem, allow_expired=allow_expired)
    with store.lock(PORTS_LOCK, timeout=30):  # the map is read and written back: no ports:* between
        ports = with_https(read_port_map(store, app))
        store.apply([
            Put(PLUGIN, app, CRT, crt_pem),
            Put(PLUGIN, app, KEY, key_pem),
            Put(PORTS, app, MAP_KEY, [str(p) for p in ports]),
        ])
    return info


def remove_cert(store: PropertyStore, app: str) -> None:
    from dockyard.core.ports import KEY as MAP_KEY
    from dockyard.core.ports import PLUGIN as PORTS
    from dockyard.core.ports import PORTS_LOCK

    with store.lock(PORTS_LOCK, timeout=30):  # the map is read and written back: no ports:* between
        ops: list[Put | Delete] = [Delete(PLUGIN, app, CRT), Delete(PLUGIN, app, KEY)]
        stored = store.list_get(PORTS, app, MAP_KEY)
        if stored:
            from dockyard.core.ports import parse_mappings

            ops.append(Put(PORTS, app, MAP_KEY, [str(p) for p in without_https(parse_mappings(stored))]))
        store.apply(ops)


def forget_files(root: Path, app: str) -> None:
    """Delete an app's certificate files; only for an app no live proxy config refers to.

    For a deployed app the proxy removes them itself, once the config without TLS is live.
    """
    directory = tls_dir(root, app)
    if directory.is_dir():
        for entry in directory.iterdir():
            if entry.name.startswith("server"):
                entry.unlink(missing_ok=True)


def tls_dir(root: Path, app: str) -> Path:
    return root / "tls" / app


def tls_files(store: PropertyStore, app: str, root: Path) -> TlsFiles | None:
    """The stored pair and the content-named files it goes to; None when the app has no cert.

    Nothing is written here: the proxy writes the files when it stages the app's config (so
    a rejected pair never touches a live file). The pair is checked first, since the store
    may have been written by ``props:set`` or an import: a pair nginx cannot load fails this
    app's build with one line instead of failing ``nginx -t`` for every app.
    """
    crt = store.get(PLUGIN, app, CRT)
    if not crt:  # most apps: one read, not two
        return None
    key = store.get(PLUGIN, app, KEY)
    if not key:
        return None
    info = check_usable(crt, key)
    name = f"server-{digest(crt + chr(0) + key)}"
    directory = tls_dir(root, app)
    return TlsFiles(directory / f"{name}.crt", directory / f"{name}.key", info.hostnames, crt, key)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def matches(hostname: str, pattern: str) -> bool:
    """Does ``hostname`` match a certificate name (``*.example.com`` covers one label)?"""
    hostname, pattern = hostname.lower(), pattern.lower()
    if pattern.startswith("*."):
        head, _, rest = hostname.partition(".")
        return bool(head) and rest == pattern[2:]
    return hostname == pattern
