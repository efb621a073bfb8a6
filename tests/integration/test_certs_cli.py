"""certs:show, certs:generate, certs:update, a tar on stdin and certs:report's Dokku rows,
with a real nginx serving the app (issue 11).

Each test checks what a Dokku user sees: the output lines, the exit code, the certificate
nginx presents; and that no command but ``certs:show APP key`` prints the private key.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.nginx import PrivateNginx, free_port, make_cert, request
from tests.integration.test_certs_staged import pem_fingerprint, served_fingerprint
from tests.integration.test_proxy import deploy, make_app, routed_image, scheduler  # noqa: F401 - fixtures

pytestmark = [pytest.mark.docker, pytest.mark.nginx]


class _Stdin(io.TextIOWrapper):
    """A non-terminal stdin holding ``data``, as ``dokku certs:add APP < cert.tar`` has."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))

    def isatty(self) -> bool:
        return False


class _Terminal(_Stdin):
    def isatty(self) -> bool:
        return True


def tar_of(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, text in files.items():
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return out.getvalue()


def no_key(*texts: str) -> None:
    assert not any("PRIVATE KEY" in t for t in texts)


@pytest.fixture
def served(private_nginx: PrivateNginx, make_app: Any, run: Any, file_store: Any, scheduler: Any,  # noqa: F811
           routed_image: str) -> dict[str, Any]:  # noqa: F811
    """A deployed app on plain http (80 is mapped to a free port, https to another)."""
    app = make_app("crt")
    http_port, https_port = free_port(), free_port()
    assert run("ports:set", app, f"http:{http_port}:5000", f"https:{https_port}:5000").exit_code == 0
    assert run("domains:set", app, "crt.example.test").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)
    assert request(http_port, host="crt.example.test").status == 200
    return {"app": app, "http": http_port, "https": https_port}


def test_tar_on_stdin_show_update_and_report(served: dict[str, Any], run: Callable[..., Any],
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             private_nginx: PrivateNginx) -> None:
    app, https = served["app"], served["https"]
    crt, key = make_cert(("crt.example.test", "www.crt.example.test"))

    # no files and stdin is a terminal: Dokku's message, exit 1, nothing stored
    monkeypatch.setattr(sys, "stdin", _Terminal(b""))
    result = run("certs:add", app)
    assert result.exit_code == 1
    assert "Tar archive containing server.crt and server.key expected on stdin" in result.stderr
    assert run("certs:show", app, "crt").exit_code == 1

    # a tar missing the key, or with two certificates: Dokku's messages
    monkeypatch.setattr(sys, "stdin", _Stdin(tar_of({"server.crt": crt})))
    result = run("certs:add", app)
    assert result.exit_code == 1 and "Tar archive is missing .key file" in result.stderr
    monkeypatch.setattr(sys, "stdin", _Stdin(tar_of({"a.crt": crt, "b.crt": crt, "server.key": key})))
    result = run("certs:add", app)
    assert result.exit_code == 1 and "Tar archive contains more than one .crt file" in result.stderr
    no_key(result.stdout, result.stderr)

    # server.crt and server.key (and a hidden macOS file, ignored as Dokku ignores it)
    monkeypatch.setattr(sys, "stdin", _Stdin(tar_of({"server.crt": crt, "server.key": key,
                                                     "._server.crt": "junk"})))
    result = run("certs:add", app)
    assert result.exit_code == 0, result.stderr
    no_key(result.stdout, result.stderr)
    assert served_fingerprint(https, "crt.example.test") == pem_fingerprint(crt)

    # certs:show prints exactly what was added; the key only when asked
    shown = run("certs:show", app, "crt")
    assert shown.exit_code == 0 and shown.stdout == crt
    shown = run("certs:show", app, "key")
    assert shown.exit_code == 0 and shown.stdout == key
    bad = run("certs:show", app, "pem")
    assert bad.exit_code == 1 and "specify either 'key' or 'crt'" in bad.stderr

    # certs:update with files replaces the pair, once nginx serves the new one
    monkeypatch.setattr(sys, "stdin", _Terminal(b""))
    new_crt, new_key = make_cert(("crt.example.test",))
    (tmp_path / "n.crt").write_text(new_crt)
    (tmp_path / "n.key").write_text(new_key)
    result = run("certs:update", app, str(tmp_path / "n.crt"), str(tmp_path / "n.key"))
    assert result.exit_code == 0, result.stderr
    assert served_fingerprint(https, "crt.example.test") == pem_fingerprint(new_crt)
    missing = run("certs:update", app, str(tmp_path / "gone.crt"), str(tmp_path / "n.key"))
    assert missing.exit_code == 1 and "CRT file specified not found, please check file paths" in missing.stderr
    assert run("certs:show", app, "crt").stdout == new_crt

    # the report: Dokku's rows, one value per info flag, nothing secret
    result = run("certs:report", app)
    assert result.exit_code == 0
    no_key(result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert lines[0] == f"=====> {app} ssl information"
    keys = [line.split(":", 1)[0].strip() for line in lines[1:]]
    assert keys[:8] == ["ssl-dir", "ssl-enabled", "ssl-hostnames", "ssl-expires-at", "ssl-issuer",
                        "ssl-starts-at", "ssl-subject", "ssl-verified"]

    def flag(name: str) -> str:
        out = run("certs:report", app, f"--{name}")
        assert out.exit_code == 0, out.stderr
        return out.stdout.rstrip("\n")

    assert flag("ssl-enabled") == "true"
    assert flag("ssl-dir") == str(private_nginx.root / "tls" / app)
    assert flag("ssl-hostnames") == "crt.example.test"
    assert flag("ssl-subject") == "CN=crt.example.test"
    assert flag("ssl-issuer") == "CN = crt.example.test"
    assert flag("ssl-verified") == "self signed"
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(new_crt.encode())
    after = cert.not_valid_after_utc
    assert flag("ssl-expires-at") == f"{after:%b} {after.day:>2} {after:%H:%M:%S} {after.year} GMT"
    assert flag("ssl-starts-at").endswith(" GMT")
    wrong = run("certs:report", app, "--ssl-nope")
    assert wrong.exit_code == 1 and "Invalid flag passed" in wrong.stderr
    as_json = json.loads(run("--format", "json", "certs:report", app).stdout)
    assert as_json["enabled"] == "true" and as_json["hostnames"] == "crt.example.test"


def test_generate_is_self_signed_adds_the_domain_and_never_prints_the_key(
        served: dict[str, Any], run: Callable[..., Any], private_nginx: PrivateNginx) -> None:
    app, https = served["app"], served["https"]
    before = run("certs:report", app, "--ssl-enabled")
    assert before.exit_code == 0 and before.stdout == "false\n"
    assert run("certs:report", app, "--ssl-hostnames").stdout == "\n"

    result = run("certs:generate", app, "gen.example.test")
    assert result.exit_code == 0, result.stderr
    no_key(result.stdout, result.stderr)
    assert "-----> Installing certificate and key..." in result.stdout
    assert f"for {app} at gen.example.test" in result.stdout
    assert "-----BEGIN CERTIFICATE REQUEST-----" in result.stdout

    assert run("certs:report", app, "--ssl-hostnames").stdout == "gen.example.test\n"
    assert run("certs:report", app, "--ssl-verified").stdout == "self signed\n"
    assert "gen.example.test" in run("domains:report", app).stdout
    crt = run("certs:show", app, "crt").stdout
    assert served_fingerprint(https, "gen.example.test") == pem_fingerprint(crt)
    assert request(https, host="gen.example.test", tls=True).status == 200
    assert "BEGIN" in run("certs:show", app, "key").stdout

    again = run("certs:generate", app, "other.example.test")
    assert again.exit_code == 0
    assert f"-----> {app} has an SSL endpoint already defined" in again.stdout
    assert run("certs:show", app, "crt").stdout == crt  # kept
