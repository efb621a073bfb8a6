"""letsencrypt:* against a real ACME server (pebble), a real nginx and real containers.

pebble validates http-01 for real: it resolves the app's domain through the fixture's DNS
responder to 127.0.0.1 and fetches the challenge from the test nginx's http port, which
serves it from the app's own server block while the app keeps answering. HTTPS is checked
with a client that trusts only pebble's issuing root, as a browser trusts Let's Encrypt's.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.acme import Pebble
from tests.fixtures.cli import ok
from tests.fixtures.nginx import PrivateNginx, free_port, request

pytestmark = [pytest.mark.docker, pytest.mark.nginx]

PROCFILE = "web: sh -c 'mkdir -p /www && echo hello from $HOSTNAME > /www/index.html; exec httpd -f -p $PORT -h /www'\n"


@pytest.fixture(scope="module")
def le_image(build_image: Callable[..., str]) -> str:
    return build_image("WORKDIR /app\nCOPY Procfile /app/Procfile\n", {"Procfile": PROCFILE})


@pytest.fixture
def acme_webroot(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A challenge directory nginx's workers (nobody) can read: pytest's tmp dirs are 0700."""
    path = Path(tempfile.mkdtemp(prefix="dytest-acme-", dir="/tmp"))
    path.chmod(0o755)
    monkeypatch.setenv("DOCKYARD_ACME_WEBROOT", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def scheduler(file_store: Any, docker_client: Any) -> Iterator[Any]:
    from dockyard.core import load_scheduler

    sched = load_scheduler("docker-local", file_store)
    yield sched
    sched.close()


@pytest.fixture
def routed_app(private_nginx: PrivateNginx, acme_webroot: Path, run: Any, file_store: Any, scheduler: Any,
               le_image: str, app_names: Callable[[str], str],
               pebble: Callable[..., Pebble]) -> Callable[[str], tuple[str, int, int, Pebble]]:
    """``routed_app(domain)`` -> (app, http port, https port, pebble): deployed, routed, pebble pointed at it."""
    def _make(domain: str) -> tuple[str, int, int, Pebble]:
        from dockyard.core.deploy import deploy_app

        app = app_names("le")
        ok(run("apps:create", app))
        file_store.set("checks", app, "wait", "1")
        file_store.set("checks", app, "wait-to-retire", "0")
        file_store.set("ps", app, "stop-timeout-seconds", "1")
        http_port, https_port = free_port(), free_port()
        ok(run("ports:set", app, f"http:{http_port}:5000", f"https:{https_port}:5000"))
        ok(run("domains:set", app, domain))
        deploy_app(file_store, scheduler, app, image=le_image)
        server = pebble(http_port)
        ok(run("letsencrypt:set", "--global", "server", server.directory))
        return app, http_port, https_port, server

    return _make


def https_get(port: int, host: str, root_pem: str) -> tuple[str, int]:
    """(response text, serial of the certificate served): a client that trusts only ``root_pem``
    and checks the certificate is for ``host``, connecting to 127.0.0.1:port."""
    ctx = ssl.create_default_context(cadata=root_pem)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
        der = tls.getpeercert(binary_form=True)
    from cryptography import x509

    assert der is not None
    return data.decode(errors="replace"), x509.load_der_x509_certificate(der).serial_number


def stored_serial(store: Any, app: str) -> int:
    from cryptography import x509

    return x509.load_pem_x509_certificate(store.get("certs", app, "crt").encode()).serial_number


def one_line_error(result: Any, *fragments: str) -> str:
    assert result.exit_code == 1, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_enable_serves_https_renews_and_revokes(routed_app: Any, run: Any, file_store: Any,
                                                acme_webroot: Path, private_nginx: PrivateNginx) -> None:
    domain = "shop.example.test"
    app, http_port, https_port, server = routed_app(domain)
    ok(run("letsencrypt:set", app, "email", "ops@example.test"))
    assert request(http_port, host=domain).status == 200
    assert run("letsencrypt:active", app).exit_code == 1

    enabled = ok(run("letsencrypt:enable", app))
    assert "Certificate installed for shop.example.test" in enabled.stdout
    assert "PRIVATE KEY" not in enabled.stdout + enabled.stderr  # the key is never printed
    root = server.issuing_root()
    body, serial = https_get(https_port, domain, root)
    assert body.startswith("HTTP/1.1 200") and "hello from" in body
    assert serial == stored_serial(file_store, app)
    assert server.cert_status(serial)["Status"] == "Valid"
    # the challenge location stays in the app's own server block, and the app kept serving
    assert "location ^~ /.well-known/acme-challenge/" in private_nginx.http_file(app).read_text()
    assert request(http_port, host=domain).status == 200
    assert list((acme_webroot / app).iterdir()) == []  # answers are removed once validated

    assert ok(run("letsencrypt:active", app)).stdout.strip() == "true"
    listed = ok(run("--format", "json", "letsencrypt:list")).stdout
    assert f'"app": "{app}"' in listed
    report = ok(run("letsencrypt:report", app, "--letsencrypt-active")).stdout.strip()
    assert report == "true"

    # not due with the default 30 days on a 90-day certificate: nothing changes
    assert "not due" in ok(run("letsencrypt:auto-renew")).stdout
    assert stored_serial(file_store, app) == serial
    # renew-days beyond the certificate's lifetime: due now, renewed through http-01 again
    ok(run("letsencrypt:set", app, "renew-days", "100"))
    renewed = ok(run("letsencrypt:auto-renew", app))
    assert f"{app}: renewed" in renewed.stdout
    new_serial = stored_serial(file_store, app)
    assert new_serial != serial
    assert https_get(https_port, domain, root)[1] == new_serial

    # one ACME account for (server, email), reused by the renewal; its key is never reported
    accounts = [k for k in file_store.get_all("letsencrypt", "--global") if k.startswith("account-")]
    assert len(accounts) == 1
    assert "PRIVATE KEY" not in ok(run("letsencrypt:report", "--global")).stdout + ok(run("letsencrypt:report")).stdout

    # revocation is signed with the certificate's own key: it works after the email (and so
    # the account) changed
    ok(run("letsencrypt:set", app, "email", "security@example.test"))
    revoked = ok(run("letsencrypt:revoke", app))
    assert "Revoked the certificate" in revoked.stdout
    assert server.cert_status(new_serial)["Status"] == "Revoked"
    one_line_error(run("letsencrypt:revoke", app), "already revoked")
    assert ok(run("letsencrypt:report", app, "--letsencrypt-revoked")).stdout.strip() == "true"

    # a revoked certificate is due: auto-renew replaces it even with the default renew-days
    ok(run("letsencrypt:set", app, "renew-days"))
    assert f"{app}: renewed" in ok(run("letsencrypt:auto-renew")).stdout
    third = stored_serial(file_store, app)
    assert third not in (serial, new_serial)
    assert server.cert_status(third)["Status"] == "Valid"

    ok(run("letsencrypt:disable", app))
    assert not file_store.get("certs", app, "crt")
    assert not (acme_webroot / app).exists()
    assert "acme-challenge" not in private_nginx.http_file(app).read_text()
    assert request(http_port, host=domain).status == 200
    one_line_error(run("letsencrypt:disable", app), "no certificate from letsencrypt")


def test_refusals_are_one_line_and_change_nothing(routed_app: Any, run: Any, file_store: Any) -> None:
    app, http_port, _https_port, server = routed_app("blocked-domain.example")
    one_line_error(run("letsencrypt:enable", app), "needs an email", "letsencrypt:set")
    for bad in ("not-an-email", "ops@", "two@@example.test", "ops@example.test, other@example.test"):
        one_line_error(run("letsencrypt:set", app, "email", bad), "invalid letsencrypt email")
    assert not file_store.get("letsencrypt", app, "email")
    one_line_error(run("letsencrypt:set", app, "renew-days", "0"), "renew-days")
    one_line_error(run("letsencrypt:set", app, "server", "ftp://acme.example.test"), "server")
    one_line_error(run("letsencrypt:set", app, "colour", "blue"), "valid properties")

    # the ACME server's own refusal (pebble blocks this domain) is one line too
    ok(run("letsencrypt:set", "--global", "email", "ops@example.test"))
    line = one_line_error(run("letsencrypt:enable", app), server.directory, "blocked-domain.example")
    assert "Traceback" not in line
    assert not file_store.get("certs", app, "crt")
    assert request(http_port, host="blocked-domain.example").status == 200

    # a failed http-01 validation (the name resolves where nothing answers) is one line, and
    # the app keeps serving as before
    ok(run("domains:set", app, "elsewhere.example.test"))
    server.dns.addresses["elsewhere.example.test"] = "127.0.0.2"
    one_line_error(run("letsencrypt:enable", app), "could not validate the http-01 challenge",
                   "elsewhere.example.test")
    assert not file_store.get("certs", app, "crt")
    assert request(http_port, host="elsewhere.example.test").status == 200

    # a stored bad email (props:set, an import) is refused before the server is asked
    ok(run("props:set", "letsencrypt", app, "email", "nobody"))
    one_line_error(run("letsencrypt:enable", app), "invalid letsencrypt email 'nobody'")

    ok(run("apps:create", "notdeployed"))
    ok(run("domains:set", "notdeployed", "nd.example.test"))
    one_line_error(run("letsencrypt:enable", "notdeployed"), "not deployed")
    one_line_error(run("letsencrypt:auto-renew", "notdeployed"), "no certificate from letsencrypt")
    assert os.environ.get("REQUESTS_CA_BUNDLE")  # pebble's listener CA, set by the fixture
