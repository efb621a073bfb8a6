"""What Dokku's certs plugin does with openssl, done with the ``cryptography`` library.

Dokku's ``certs:report`` values are openssl's renderings (``openssl x509 -text``,
``-subject -nameopt compat``, ``openssl verify``); Dokku users' scripts parse them, so they
are reproduced here byte for byte from the certificate itself. ``certs:generate`` makes a
self-signed pair without openssl's prompts, and ``certs:add APP < cert.tar`` reads the pair
out of a tar on stdin as Dokku does (one ``.crt`` and one ``.key``, hidden files ignored).
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dockyard.core.errors import ValidationError

#: openssl's short names for the attributes ``cryptography`` names differently (or by OID)
_SHORT_NAMES = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "street",
    "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.5": "serialNumber", "2.5.4.4": "SN", "2.5.4.42": "GN",
    "2.5.4.12": "title", "2.5.4.17": "postalCode", "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
}


def _attributes(name) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(short name, value) of each attribute, in the certificate's order (openssl's order)."""
    out = []
    for attr in name:
        oid = attr.oid.dotted_string
        value = attr.value if isinstance(attr.value, str) else attr.value.decode(errors="replace")
        out.append((_SHORT_NAMES.get(oid, oid), value))
    return out


def openssl_text_name(name) -> str:  # type: ignore[no-untyped-def]
    """A name as ``openssl x509 -text`` prints it (OpenSSL 3): ``C = GB, O = Acme, CN = x``."""
    return ", ".join(f"{k} = {v}" for k, v in _attributes(name))


def dokku_subject(name) -> str:  # type: ignore[no-untyped-def]
    """Dokku's ``ssl-subject``: ``-subject -nameopt compat`` with ``/`` turned into ``; ``."""
    return "; ".join(f"{k}={v}" for k, v in _attributes(name))


def issuer_and_subject(crt_pem: str) -> tuple[str, str]:
    """Dokku's ``ssl-issuer`` (``-text``'s ``Issuer:``) and ``ssl-subject`` of a PEM certificate."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(crt_pem.encode())
    return openssl_text_name(cert.issuer), dokku_subject(cert.subject)


def openssl_date(when: dt.datetime) -> str:
    """A date as ``openssl x509 -text`` prints it: ``Oct  5 23:59:59 2019 GMT``."""
    when = when.astimezone(dt.UTC)
    return f"{when:%b} {when.day:>2} {when:%H:%M:%S} {when.year} GMT"


def verified(crt_pem: str) -> str:
    """Dokku's ``ssl-verified``: ``openssl verify -purpose sslserver`` against the system CAs.

    Without an openssl binary the certificate cannot be checked against the CA bundle
    openssl uses, so it is reported as Dokku reports any certificate openssl does not
    call ``OK``: ``self signed``.
    """
    binary = shutil.which("openssl")
    if binary is None:
        return "self signed"
    with tempfile.NamedTemporaryFile("w", suffix=".crt") as fh:
        fh.write(crt_pem)
        fh.flush()
        proc = subprocess.run([binary, "verify", "-verbose", "-purpose", "sslserver", fh.name],
                              capture_output=True, text=True, timeout=30, check=False)
    lines = proc.stdout.rstrip("\n").splitlines()
    last = lines[-1].split(":") if lines else []
    if len(last) >= 2 and last[1].strip() == "OK":
        return "verified by a certificate authority"
    return "self signed"


@dataclass(frozen=True)
class Generated:
    """A self-signed pair and its signing request; the key never appears in a repr."""

    crt: str
    csr: str
    key: str = field(repr=False)


def self_signed(common_name: str, days: int = 365) -> Generated:
    """Dokku's ``openssl genrsa 2048`` + ``req`` + ``x509 -req -days 365 -signkey``, without prompts.

    The subject is ``CN=<domain>`` and the domain is also the certificate's DNS name, since
    browsers and nginx's SNI matching read the SAN, not the CN.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    san = x509.SubjectAlternativeName([x509.DNSName(common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(san, critical=False).sign(key, hashes.SHA256()))
    csr = (x509.CertificateSigningRequestBuilder().subject_name(subject).add_extension(san, critical=False)
           .sign(key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return Generated(
        crt=cert.public_bytes(pem).decode(),
        csr=csr.public_bytes(pem).decode(),
        key=key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()).decode(),
    )


#: a certificate tar is a few kilobytes; more than this is not one
MAX_TAR_BYTES = 4 * 1024 * 1024


def pair_from_tar(data: bytes) -> tuple[str, str]:
    """The ``.crt`` and ``.key`` of a tar (Dokku's ``certs:add APP < cert.tar``), with Dokku's errors.

    Only regular files count, and hidden ones (a path part starting with ``.``, such as
    macOS's ``._server.crt``) are skipped, as Dokku's ``find -not -path '*/\\.*'`` does.
    Nothing is extracted to disk.
    """
    if len(data) > MAX_TAR_BYTES:
        raise ValidationError("Tar archive is too large to hold a certificate and key")
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, EOFError, OSError):
        raise ValidationError("Tar archive containing server.crt and server.key expected on stdin") from None
    found: dict[str, list[tarfile.TarInfo]] = {".crt": [], ".key": []}
    with archive:
        for member in archive.getmembers():
            parts = PurePosixPath(member.name).parts
            if not member.isfile() or any(p.startswith(".") and p not in (".", "..") for p in parts):
                continue
            suffix = PurePosixPath(member.name).suffix
            if suffix in found:
                found[suffix].append(member)
        texts = []
        for suffix, what in ((".crt", ".crt"), (".key", ".key")):
            if not found[suffix]:
                raise ValidationError(f"Tar archive is missing {what} file")
            if len(found[suffix]) > 1:
                raise ValidationError(f"Tar archive contains more than one {what} file")
            handle = archive.extractfile(found[suffix][0])
            raw = handle.read() if handle else b""
            try:
                texts.append(raw.decode())
            except UnicodeDecodeError:
                raise ValidationError(f"the {what} file in the tar archive is not PEM text") from None
    return texts[0], texts[1]


def read_file(path: str, what: str) -> str:
    """A certificate or key file named on the command line, with Dokku's error when it is missing."""
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise ValidationError(f"{what.upper()} file specified not found, please check file paths") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read the {what} file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
