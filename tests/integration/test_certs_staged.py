"""Staged certificates with a real nginx (issue 10, observation 1).

A new certificate is written under new file names that only the candidate config refers
to; it replaces the old one only after ``nginx -t`` passes with every other app's config.
A rejected pair, whether from ``certs:add``, ``props:set`` or an import, leaves the store,
the files on disk and the running nginx as they were, with one error line and no key text.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.nginx import PrivateNginx, free_port, make_cert, request
from tests.integration.test_proxy import deploy, make_app, routed_image, scheduler  # noqa: F401 - fixtures

pytestmark = [pytest.mark.docker, pytest.mark.nginx]


def served_fingerprint(port: int, host: str) -> str:
    """SHA-256 of the certificate nginx presents on 127.0.0.1:port for ``host``."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der
    return hashlib.sha256(der).hexdigest()


def pem_fingerprint(crt: str) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(crt)).hexdigest()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every certificate file and app config on disk, byte for byte."""
    out = {}
    for sub in ("tls", "nginx/http", "nginx/stream"):
        base = root / sub
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.is_file():
                    out[str(path.relative_to(root))] = path.read_bytes()
    return out


def weak_pair(name: str) -> tuple[str, str]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return make_cert((name,), key=rsa.generate_private_key(public_exponent=65537, key_size=1024))


def props_set_pem(run: Callable[..., Any], app: str, key: str, pem: str) -> None:
    """``props:set`` a PEM text as the user would (a list of its lines: how a PEM is stored)."""
    assert run("props:set", "--list", "--", "certs", app, key, *pem.splitlines()).exit_code == 0


def one_line(stderr: str) -> str:
    """The one error line of a refused command (progress lines, '----->', aside)."""
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith("----->")]
    assert len(lines) == 1, stderr
    assert "PRIVATE KEY" not in stderr and "CERTIFICATE-----" not in stderr
    return lines[0]


@pytest.fixture
def two_apps(private_nginx: PrivateNginx, make_app: Any, run: Any, file_store: Any, scheduler: Any,  # noqa: F811
             routed_image: str, tmp_path: Path) -> dict[str, Any]:  # noqa: F811
    """``tls`` serves https with a first certificate; ``other`` serves plain http."""
    tls_app, other = make_app("tls"), make_app("other")
    http_port, https_port, other_port = free_port(), free_port(), free_port()
    assert run("ports:set", tls_app, f"http:{http_port}:5000", f"https:{https_port}:5000").exit_code == 0
    assert run("domains:set", tls_app, "tls.example.test").exit_code == 0
    assert run("ports:set", other, f"http:{other_port}:5000").exit_code == 0
    deploy(file_store, scheduler, tls_app, routed_image)
    deploy(file_store, scheduler, other, routed_image)
    crt, key = make_cert(("tls.example.test",))
    (tmp_path / "first.crt").write_text(crt)
    (tmp_path / "first.key").write_text(key)
    added = run("certs:add", tls_app, str(tmp_path / "first.crt"), str(tmp_path / "first.key"))
    assert added.exit_code == 0, added.stderr
    assert served_fingerprint(https_port, "tls.example.test") == pem_fingerprint(crt)
    return {"tls": tls_app, "other": other, "https": https_port, "other_port": other_port,
            "crt": crt, "key": key}


def write_pair(tmp_path: Path, name: str, pair: tuple[str, str]) -> tuple[str, str]:
    (tmp_path / f"{name}.crt").write_text(pair[0])
    (tmp_path / f"{name}.key").write_text(pair[1])
    return str(tmp_path / f"{name}.crt"), str(tmp_path / f"{name}.key")


def test_a_rejected_certificate_leaves_store_files_and_nginx_as_they_were(
        two_apps: dict[str, Any], private_nginx: PrivateNginx, run: Callable[..., Any], file_store: Any,
        tmp_path: Path) -> None:
    app, root = two_apps["tls"], private_nginx.root

    def unchanged(expected_files: dict[str, bytes], crt: str = two_apps["crt"], key: str = two_apps["key"]) -> None:
        assert snapshot(root) == expected_files
        assert (file_store.get("certs", app, "crt"), file_store.get("certs", app, "key")) == (crt, key)
        assert run("nginx:validate-config").exit_code == 0  # nginx -t on the live tree
        assert served_fingerprint(two_apps["https"], "tls.example.test") == pem_fingerprint(two_apps["crt"])
        assert request(two_apps["other_port"]).status == 200

    before = snapshot(root)
    assert any(name.endswith(".key") for name in before)
    mismatched = (make_cert(("tls.example.test",))[0], make_cert(("tls.example.test",))[1])
    weak = weak_pair("tls.example.test")

    # through certs:add: refused before anything, in one line
    result = run("certs:add", app, *write_pair(tmp_path, "mismatched", mismatched))
    assert result.exit_code == 1 and "does not match" in one_line(result.stderr)
    unchanged(before)
    result = run("certs:add", app, *write_pair(tmp_path, "weak", weak))
    assert result.exit_code == 1 and "too small" in one_line(result.stderr)
    unchanged(before)
    result = run("certs:add", app, *write_pair(tmp_path, "garbage", ("not a certificate\n", "not a key\n")))
    assert result.exit_code == 1
    one_line(result.stderr)
    unchanged(before)

    # written behind the command's back, then built: refused by the build, nothing touched
    props_set_pem(run, app, "key", mismatched[1])
    result = run("proxy:build-config", app)
    assert result.exit_code == 1 and "does not match" in one_line(result.stderr)
    unchanged(before, key=mismatched[1])
    assert run("proxy:build-config", two_apps["other"]).exit_code == 0  # every other app still builds
    unchanged(before, key=mismatched[1])

    props_set_pem(run, app, "crt", weak[0])
    props_set_pem(run, app, "key", weak[1])
    result = run("proxy:build-config", app)
    assert result.exit_code == 1 and "too small" in one_line(result.stderr)
    unchanged(before, *weak)

    # the same through an import
    exported = tmp_path / "weak.jsonl"
    assert run("props:export", str(exported)).exit_code == 0
    props_set_pem(run, app, "crt", two_apps["crt"])
    props_set_pem(run, app, "key", two_apps["key"])
    assert run("props:import", str(exported)).exit_code == 0
    result = run("proxy:build-config", app)
    assert result.exit_code == 1 and "too small" in one_line(result.stderr)
    unchanged(before, *weak)

    # nginx restarted on that tree still serves both apps with the old certificate
    run("nginx:stop")
    run("nginx:start")
    unchanged(before, *weak)


def test_a_new_certificate_replaces_the_old_one_only_once_its_config_is_live(
        two_apps: dict[str, Any], private_nginx: PrivateNginx, run: Callable[..., Any], file_store: Any,
        tmp_path: Path) -> None:
    app, root = two_apps["tls"], private_nginx.root
    before = snapshot(root)
    new = make_cert(("tls.example.test",))
    files = write_pair(tmp_path, "new", new)

    # a valid pair whose config nginx rejects (a template stored behind nginx:set's back)
    template = tmp_path / "broken.conf.j2"
    template.write_text("server {\n  listen {{ entries[0].host_port }};\n  proxy_buffering maybe;\n}\n")
    assert run("props:set", "nginx", app, "template-path", str(template)).exit_code == 0
    result = run("certs:add", app, *files)
    assert result.exit_code == 1 and 'invalid value "maybe"' in result.stderr
    assert "PRIVATE KEY" not in result.stderr + result.stdout
    assert file_store.get("certs", app, "crt") == two_apps["crt"]  # the store keeps the old pair
    assert file_store.get("certs", app, "key") == two_apps["key"]
    assert snapshot(root) == before
    assert served_fingerprint(two_apps["https"], "tls.example.test") == pem_fingerprint(two_apps["crt"])

    # once the config can go live, the new pair replaces the old one, files and all
    assert run("props:unset", "nginx", app, "template-path").exit_code == 0
    result = run("certs:add", app, *files)
    assert result.exit_code == 0, result.stderr
    assert served_fingerprint(two_apps["https"], "tls.example.test") == pem_fingerprint(new[0])
    assert file_store.get("certs", app, "crt") == new[0]
    tls_files = sorted(p.name for p in (root / "tls" / app).iterdir())
    old_files = sorted(Path(name).name for name in before if name.startswith(f"tls/{app}/"))
    assert len(tls_files) == 2 and not set(tls_files) & set(old_files)
    assert all(((root / "tls" / app / name).stat().st_mode & 0o777) == 0o600 for name in tls_files)
    assert run("nginx:validate-config").exit_code == 0
    assert request(two_apps["other_port"]).status == 200

    # certs:remove: the https entry and the files go, once the config without TLS is live
    assert run("certs:remove", app).exit_code == 0
    assert list((root / "tls" / app).iterdir()) == []
    with pytest.raises(OSError):
        served_fingerprint(two_apps["https"], "tls.example.test")
    assert run("nginx:validate-config").exit_code == 0
