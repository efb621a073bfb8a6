"""Certificates from an ACME server (RFC 8555), behind Dokku's ``letsencrypt:*`` commands.

Why here, in core: issuing is the same whichever proxy serves the app. The core writes the
http-01 answers as files in a per-app challenge directory and hands that directory to the
proxy through ``AppRoutes.acme_challenge_dir``; the nginx driver serves it from the app's
own server block (``location ^~ /.well-known/acme-challenge/``), so issuing only reloads
nginx and never stops the app. The certificate and its key (generated here, never printed)
are then stored and installed by the ordinary certs path (``dockyard.core.certs``).

The ACME protocol library ``acme`` (the one certbot is built on) is imported only inside
the functions that talk to a server, so ``letsencrypt:report``, ``:list``, ``:set`` and
every other command never load it (extra ``dockyard[letsencrypt]``).

Properties (plugin ``letsencrypt``): ``email``, ``server`` (``default``, ``staging`` or a
directory URL) and ``renew-days`` per app or ``--global``, as Dokku's plugin has them; and,
per app, Dockyard's own state: ``fingerprint`` (of the certificate Dockyard installed: a
certificate added later with ``certs:add`` is the user's, and is neither renewed nor
revoked here), ``issuer`` (the directory URL it came from) and ``revoked`` (the
fingerprint of a revoked one, which auto-renew replaces). ACME accounts are global, one
per (server, email): ``account-<digest>`` holds its URL and key (JSON).

The challenge directory is host-local (``DOCKYARD_ACME_WEBROOT``, else a sibling of the
Dockyard root, ``/var/lib/dockyard-acme`` for root): nginx's workers read it (as nobody or
www-data), and the root itself is private (0700) because it holds keys. Directories are
0755 and answers 0644: a key authorization is public by design.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import DockyardError, NotFound, ValidationError
from dockyard.core.properties import computed, computed_int

if TYPE_CHECKING:
    from dockyard.core.certs import CertInfo
    from dockyard.propstores.base import PropertyStore

PLUGIN = "letsencrypt"
#: the settable properties and their defaults, as Dokku's plugin names them (renew-days is
#: Dokku's graceperiod, in days)
DEFAULTS = {"email": "", "server": "default", "renew-days": "30"}
SERVERS = {
    "default": "https://acme-v02.api.letsencrypt.org/directory",
    "staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
ACCOUNT = "account"
FINGERPRINT = "fingerprint"
ISSUER = "issuer"
REVOKED = "revoked"
#: seconds an order may take from the first request to the downloaded certificate
ORDER_TIMEOUT = 90
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")
_MAX_RENEW_DAYS = 3650


# ---- settings ------------------------------------------------------------------------------
def validate_value(prop: str, value: str) -> str:
    """Refuse a value before it is stored, in one line."""
    if prop == "email":
        if len(value) > 254 or not _EMAIL.match(value):
            raise ValidationError(f"invalid letsencrypt email {value!r}: an address like you@example.com")
    elif prop == "server":
        if value not in SERVERS and not re.match(r"^https?://[^\s/?#]+(/\S*)?$", value):
            raise ValidationError(f"invalid letsencrypt server {value!r}: default, staging or an ACME "
                                  "directory URL (https://...)")
    elif prop == "renew-days" and (not (value.isascii() and value.isdigit()) or
                                   not 1 <= int(value) <= _MAX_RENEW_DAYS):
        raise ValidationError(f"invalid letsencrypt renew-days {value!r}: a whole number of days, "
                              f"1 to {_MAX_RENEW_DAYS}")
    return value


def server_url(store: PropertyStore, app: str) -> str:
    """The app's ACME directory URL (``default`` and ``staging`` are Let's Encrypt's)."""
    value = computed(store, PLUGIN, app, "server", DEFAULTS["server"])
    return SERVERS.get(value, value)


def renew_days(store: PropertyStore, app: str) -> int:
    return computed_int(store, PLUGIN, app, "renew-days", int(DEFAULTS["renew-days"]), minimum=1)


def email_for(store: PropertyStore, app: str) -> str:
    email = computed(store, PLUGIN, app, "email")
    if not email:
        raise ValidationError(f"letsencrypt needs an email for {app}: letsencrypt:set {app}|--global email ADDRESS")
    return validate_value("email", email)


# ---- the challenge directory -----------------------------------------------------------------
def webroot_base(root: Path) -> Path:
    env = os.environ.get("DOCKYARD_ACME_WEBROOT")
    return Path(env) if env else root.parent / f"{root.name}-acme"


def challenge_dir(root: Path, app: str) -> Path:
    return webroot_base(root) / app


def challenge_dir_if_active(root: Path, app: str) -> str | None:
    """The directory the app's proxy should serve for http-01, while it exists (one stat)."""
    path = challenge_dir(root, app)
    return str(path) if path.is_dir() else None


def _make_challenge_dir(root: Path, app: str) -> Path:
    path = challenge_dir(root, app)
    for directory in (webroot_base(root), path):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)  # nginx's workers run as another user
    return path


def remove_challenge_dir(root: Path, app: str) -> None:
    """apps:destroy: the app's http-01 directory goes with the app (a post-delete subscriber)."""
    shutil.rmtree(challenge_dir(root, app), ignore_errors=True)


def rename_challenge_dir(root: Path, old: str, new: str) -> None:
    """apps:rename: the directory follows the app, so an issue under way can still be answered
    once NEW's config serves it; a stale one under NEW's name is replaced."""
    source, target = challenge_dir(root, old), challenge_dir(root, new)
    if not source.is_dir():
        return
    shutil.rmtree(target, ignore_errors=True)
    source.rename(target)


# ---- what Dockyard issued ------------------------------------------------------------------
def managed(store: PropertyStore, app: str) -> CertInfo | None:
    """The app's certificate if Dockyard issued it (and it was not replaced since), else None."""
    from dockyard.core.certs import CRT, inspect
    from dockyard.core.certs import PLUGIN as CERTS

    mine = store.get(PLUGIN, app, FINGERPRINT)
    crt = store.get(CERTS, app, CRT) if mine else None
    if not crt:
        return None
    info = inspect(crt)
    return info if info.fingerprint == mine else None


def managed_apps(store: PropertyStore) -> list[str]:
    from dockyard.core.names import GLOBAL_SCOPE

    return sorted(s for s in store.scopes(PLUGIN) if s != GLOBAL_SCOPE and managed(store, s) is not None)


def is_revoked(store: PropertyStore, app: str, info: CertInfo) -> bool:
    return store.get(PLUGIN, app, REVOKED) == info.fingerprint


def renewal_due(store: PropertyStore, app: str, info: CertInfo, now: dt.datetime | None = None) -> bool:
    now = now or dt.datetime.now(dt.UTC)
    return is_revoked(store, app, info) or info.not_after - now <= dt.timedelta(days=renew_days(store, app))


def record_installed(store: PropertyStore, app: str, info: CertInfo, server: str) -> None:
    from dockyard.propstores.base import Delete, Put

    store.apply([Put(PLUGIN, app, FINGERPRINT, info.fingerprint), Put(PLUGIN, app, ISSUER, server),
                 Delete(PLUGIN, app, REVOKED)])


def forget(store: PropertyStore, app: str, root: Path) -> None:
    """Drop what Dockyard knows of the app's issued certificate, and its challenge directory."""
    from dockyard.propstores.base import Delete

    store.apply([Delete(PLUGIN, app, FINGERPRINT), Delete(PLUGIN, app, ISSUER), Delete(PLUGIN, app, REVOKED)])
    shutil.rmtree(challenge_dir(root, app), ignore_errors=True)


@dataclass
class RenewalPass:
    """What one ``auto-renew`` pass did: renewed (app, valid until), failed (app, why), not due."""

    renewed: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_due: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"renewed {', '.join(f'{a} (valid until {u})' for a, u in self.renewed) or 'nothing'}"]
        if self.failed:
            parts.append(f"failed {', '.join(f'{a} ({why})' for a, why in self.failed)}")
        parts.append(f"{len(self.not_due)} not due")
        return "; ".join(parts)


# ---- talking to the ACME server --------------------------------------------------------------
@dataclass(frozen=True)
class Issued:
    crt_pem: str
    key_pem: str
    server: str


def _problem(exc: BaseException, server: str) -> DockyardError:
    """One clear line for whatever the ACME library or the network raised."""
    import requests
    from acme import errors, messages

    if isinstance(exc, messages.Error):
        what = exc.detail or exc.description or exc.typ
        return DockyardError(f"the ACME server {server} refused the request: {what}")
    if isinstance(exc, errors.ValidationError):
        parts = []
        for authzr in exc.failed_authzrs:
            name = authzr.body.identifier.value
            for chall in authzr.body.challenges:
                if chall.error is not None:
                    parts.append(f"{name}: {chall.error.detail or chall.error.typ}")
        return DockyardError("the ACME server could not validate the http-01 challenge (is the domain's port 80 "
                             f"routed to this nginx?): {'; '.join(parts) or 'no detail given'}")
    if isinstance(exc, errors.TimeoutError):
        return DockyardError(f"the ACME server {server} did not issue the certificate within {ORDER_TIMEOUT}s")
    if isinstance(exc, requests.exceptions.SSLError):
        return DockyardError(f"cannot verify the ACME server {server}'s TLS certificate (REQUESTS_CA_BUNDLE "
                             "names a CA bundle to trust)")
    if isinstance(exc, requests.exceptions.RequestException):
        return DockyardError(f"cannot reach the ACME server {server}: {type(exc).__name__}")
    if isinstance(exc, errors.Error):
        return DockyardError(f"ACME error from {server}: {exc}")
    return DockyardError(f"ACME error from {server}: {type(exc).__name__}: {exc}")


def require_acme() -> None:
    """The ``acme`` library, or one line naming the extra that installs it."""
    try:
        import acme  # noqa: F401
    except ImportError:
        from dockyard.core.errors import PluginError

        raise PluginError("letsencrypt needs the acme library: pip install 'dockyard[letsencrypt]'") from None


def _acme_errors() -> tuple[type[BaseException], ...]:
    import requests
    from acme import errors, messages

    return messages.Error, errors.Error, requests.exceptions.RequestException


def account_key_name(server: str, email: str) -> str:
    """The global property holding the account for (server, email): one account per pair, as
    every app shares it (Let's Encrypt limits new accounts per IP address)."""
    import hashlib

    digest = hashlib.sha256("\n".join((server, email)).encode()).hexdigest()
    return f"{ACCOUNT}-{digest[:16]}"


def _directory_client(server: str, key: Any) -> tuple[Any, Any]:
    """(ACME client, its network) signing with ``key`` (RS256 for RSA, ES256 for P-256)."""
    import josepy as jose
    from acme import client
    from cryptography.hazmat.primitives.asymmetric import ec

    jwk: jose.JWK
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk, alg = jose.JWKEC(key=key), jose.ES256
    else:
        jwk, alg = jose.JWKRSA(key=key), jose.RS256
    net = client.ClientNetwork(jwk, alg=alg, user_agent="dockyard")
    return client.ClientV2(client.ClientV2.get_directory(server, net), net), jwk


def _account(store: PropertyStore, server: str, email: str) -> tuple[Any, Any]:
    """(ACME client, account key) for the account of (server, email), registered if new.

    The account key is generated here and kept in the store (``letsencrypt/--global/
    account-<digest>``: server, email, URL and key) so every app and every host sharing the
    store uses the one account. Registering agrees to the server's terms, as Dokku's plugin
    does (it runs from cron, with nobody to ask).
    """
    from acme import errors, messages
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from dockyard.core.names import GLOBAL_SCOPE

    name = account_key_name(server, email)
    saved = json.loads(store.get(PLUGIN, GLOBAL_SCOPE, name) or "{}")
    if saved.get("key"):
        private: Any = serialization.load_pem_private_key(saved["key"].encode(), password=None)
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    acme, jwk = _directory_client(server, private)
    registration = messages.NewRegistration.from_data(email=email, terms_of_service_agreed=True)
    try:
        regr = acme.new_account(registration)
    except errors.ConflictError as exists:  # this key already has an account: use it
        regr = messages.RegistrationResource(uri=exists.location, body=messages.Registration())
        acme.net.account = regr
    if saved.get("uri") != regr.uri:
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        store.set(PLUGIN, GLOBAL_SCOPE, name,
                  json.dumps({"server": server, "email": email, "uri": regr.uri, "key": pem}, sort_keys=True))
    return acme, jwk


def _new_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def check_domains(domains: list[str], app: str) -> list[str]:
    if not domains:
        raise ValidationError(f"app {app} has no domains to get a certificate for (domains:add {app} NAME)")
    wildcards = [d for d in domains if d.startswith("*")]
    if wildcards:
        raise ValidationError(f"http-01 cannot validate the wildcard domain {wildcards[0]} of {app}; "
                              "remove it or add that certificate with certs:add")
    return domains


def issue(store: PropertyStore, app: str, root: Path, serve_challenges: Callable[[], object]) -> Issued:
    """Order a certificate for the app's domains and answer http-01 through its proxy.

    ``serve_challenges`` makes the proxy serve the challenge directory (a rebuild: nginx
    reloads, the app keeps serving); it runs once the directory exists and before the ACME
    server is asked to validate. The new key and certificate are returned, not stored.
    """
    from dockyard.core.domains import read_domains

    require_acme()
    domains = check_domains(read_domains(store, app), app)
    email = email_for(store, app)
    server = server_url(store, app)
    directory = _make_challenge_dir(root, app)
    serve_challenges()
    written: list[Path] = []
    try:
        from acme import challenges, crypto_util, messages

        acme, account_key = _account(store, server, email)
        key_pem = _new_key()
        order = acme.new_order(crypto_util.make_csr(key_pem.encode(), domains))
        for authzr in order.authorizations:
            if authzr.body.status == messages.STATUS_VALID:
                continue  # the server still remembers this domain's validation
            challb = next((c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)), None)
            if challb is None:
                raise DockyardError(f"the ACME server {server} offers no http-01 challenge for "
                                    f"{authzr.body.identifier.value}")
            response, validation = challb.response_and_validation(account_key)
            answer = directory / challb.chall.encode("token")
            answer.write_text(validation)
            answer.chmod(0o644)
            written.append(answer)
            acme.answer_challenge(challb, response)
        deadline = dt.datetime.now() + dt.timedelta(seconds=ORDER_TIMEOUT)
        order = acme.poll_and_finalize(order, deadline)
    except _acme_errors() as exc:
        raise _problem(exc, server) from exc
    finally:
        for answer in written:
            answer.unlink(missing_ok=True)
    return Issued(order.fullchain_pem, key_pem, server)


def revoke(store: PropertyStore, app: str) -> CertInfo:
    """Revoke the certificate Dockyard issued for the app at the server that issued it.

    The request is signed with the certificate's own key (RFC 8555, section 7.6), so it
    works whichever account ordered it, even after the app's email or account changed.
    """
    require_acme()
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from dockyard.core.certs import CRT, KEY
    from dockyard.core.certs import PLUGIN as CERTS

    info = managed(store, app)
    if info is None:
        raise NotFound(f"app {app} has no certificate from letsencrypt (letsencrypt:enable {app})")
    if is_revoked(store, app, info):
        raise DockyardError(f"the certificate of {app} is already revoked (letsencrypt:enable {app} issues a new one)")
    server = store.get(PLUGIN, app, ISSUER) or server_url(store, app)
    cert = x509.load_pem_x509_certificate((store.get(CERTS, app, CRT) or "").encode())
    key = serialization.load_pem_private_key((store.get(CERTS, app, KEY) or "").encode(), password=None)
    try:
        acme, _ = _directory_client(server, key)
        acme.revoke(cert, 0)
    except _acme_errors() as exc:
        raise _problem(exc, server) from exc
    store.set(PLUGIN, app, REVOKED, info.fingerprint)
    return info
