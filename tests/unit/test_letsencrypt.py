"""letsencrypt settings, reports and the http-01 location, without an ACME server.

Issuing, renewal and revocation against a real one are in tests/integration/test_letsencrypt.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dockyard.core import letsencrypt as le
from dockyard.core.models import Listener
from dockyard.core.routing import gather
from dockyard.proxy.nginx import NginxProxy
from tests.fixtures.cli import ok
from tests.fixtures.nginx import make_cert


def one_line_error(result: Any, *fragments: str, code: int = 1) -> None:
    assert result.exit_code == code, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("prop,value", [("email", "ops@example.test"), ("email", "a.b+tag@mail.example.org"),
                                        ("server", "default"), ("server", "staging"),
                                        ("server", "https://127.0.0.1:14000/dir"), ("renew-days", "30"),
                                        ("renew-days", "100")])
def test_good_values_are_kept(prop: str, value: str) -> None:
    assert le.validate_value(prop, value) == value


@pytest.mark.parametrize("prop,value", [("email", "nobody"), ("email", "a@"), ("email", "@example.test"),
                                        ("email", "a b@example.test"), ("email", "a@b@example.test"),
                                        ("email", "josé@example.test"), ("server", "example.test"),
                                        ("server", "ftp://x/dir"), ("renew-days", "0"), ("renew-days", "²"),
                                        ("renew-days", "-1"), ("renew-days", "3651"), ("renew-days", "1.5")])
def test_bad_values_are_refused(prop: str, value: str) -> None:
    from dockyard.core.errors import ValidationError

    with pytest.raises(ValidationError, match=f"invalid letsencrypt {prop}"):
        le.validate_value(prop, value)


def test_set_and_report_with_dokku_precedence(run: Any) -> None:
    ok(run("apps:create", "web"))
    ok(run("letsencrypt:set", "--global", "email", "global@example.test"))
    ok(run("letsencrypt:set", "web", "server", "staging"))
    rows = json.loads(ok(run("--format", "json", "letsencrypt:report", "web")).stdout)
    assert rows["letsencrypt-active"] == "false"
    assert rows["letsencrypt-email"] == "" and rows["letsencrypt-computed-email"] == "global@example.test"
    assert rows["letsencrypt-server"] == "staging"
    assert rows["letsencrypt-computed-server"] == le.SERVERS["staging"]
    assert rows["letsencrypt-computed-renew-days"] == "30"
    assert rows["computed-renew-days"] == "30"  # Dokku's stripped JSON keys too
    glob = ok(run("letsencrypt:report", "--global")).stdout
    assert "letsencrypt-global-email:" in glob and "global@example.test" in glob
    assert ok(run("letsencrypt:report", "web", "--letsencrypt-computed-email")).stdout.strip() == \
        "global@example.test"
    ok(run("letsencrypt:set", "web", "server"))  # empty unsets
    assert ok(run("letsencrypt:report", "web", "--letsencrypt-server")).stdout.strip() == ""
    listed = ok(run("--format", "json", "letsencrypt:list")).stdout
    assert json.loads(listed) == []
    assert run("letsencrypt:active", "web").exit_code == 1
    assert "letsencrypt:enable" in ok(run("letsencrypt:help")).stdout


def test_enable_refuses_in_one_line_before_any_request(run: Any, file_store: Any) -> None:
    ok(run("apps:create", "web"))
    one_line_error(run("letsencrypt:enable", "web"), "not deployed")
    one_line_error(run("letsencrypt:enable", "ghost"), "App ghost does not exist", code=20)
    one_line_error(run("letsencrypt:revoke", "web"), "no certificate from letsencrypt")
    one_line_error(run("letsencrypt:disable", "web"), "no certificate from letsencrypt")
    with pytest.raises(Exception, match="no domains"):
        le.check_domains([], "web")
    with pytest.raises(Exception, match="wildcard"):
        le.check_domains(["*.example.test"], "web")


def test_a_certificate_added_by_hand_is_not_managed(run: Any, file_store: Any, tmp_path: Path) -> None:
    from dockyard.core.certs import add_cert, inspect

    ok(run("apps:create", "web"))
    crt, key = make_cert(("web.example.test",), days=90)
    info = add_cert(file_store, "web", crt, key)
    assert le.managed(file_store, "web") is None
    le.record_installed(file_store, "web", info, le.SERVERS["staging"])
    assert le.managed(file_store, "web") == inspect(crt)
    assert le.managed_apps(file_store) == ["web"]
    assert not le.renewal_due(file_store, "web", info)
    file_store.set(le.PLUGIN, "web", "renew-days", "100")
    assert le.renewal_due(file_store, "web", info)
    other, other_key = make_cert(("web.example.test",), days=90)
    add_cert(file_store, "web", other, other_key)  # certs:add replaces it: the user's now
    assert le.managed(file_store, "web") is None and le.managed_apps(file_store) == []


def test_the_challenge_location_is_served_only_while_the_directory_exists(
        run: Any, file_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dockyard_root: Path) -> None:
    monkeypatch.setenv("DOCKYARD_ACME_WEBROOT", str(tmp_path / "acme"))
    ok(run("apps:create", "web"))
    ok(run("ports:set", "web", "http:80:5000", "https:443:5000"))
    crt, key = make_cert(("web.example.test",))
    from dockyard.core.certs import add_cert

    add_cert(file_store, "web", crt, key)
    listeners = {"web": [Listener("10.0.0.2", 5000)]}
    assert "acme-challenge" not in NginxProxy(file_store).render(gather(file_store, "web", listeners), False).http
    (tmp_path / "acme" / "web").mkdir(parents=True)
    http = NginxProxy(file_store).render(gather(file_store, "web", listeners), False).http
    block = f'location ^~ /.well-known/acme-challenge/ {{\n    alias "{tmp_path}/acme/web/";'
    assert http.count(block) == 1  # on the http:80 server (a redirect otherwise), not on https
    redirect_server = http.split("listen 80;")[1].split("listen 443 ssl;")[0]
    assert block in redirect_server and "return 301" in redirect_server


def test_default_webroot_is_beside_the_private_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKYARD_ACME_WEBROOT", raising=False)
    assert le.challenge_dir(Path("/var/lib/dockyard"), "web") == Path("/var/lib/dockyard-acme/web")


def test_commands_that_do_not_issue_do_not_import_acme(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os, sys
        os.environ["DOCKYARD_ROOT"] = {str(tmp_path)!r}
        os.environ["DOCKYARD_CONFIG"] = {str(tmp_path / "c.toml")!r}
        open(os.environ["DOCKYARD_CONFIG"], "w").close()
        from dockyard.core.cli import main
        for args in (["apps:create", "web"], ["letsencrypt:set", "web", "email", "a@example.test"],
                     ["letsencrypt:report"], ["letsencrypt:list"], ["letsencrypt:active", "web"],
                     ["letsencrypt:report", "--global"]):
            try:
                main(args)
            except SystemExit:
                pass
        print("LOADED", [m for m in ("acme", "josepy", "OpenSSL", "requests") if m in sys.modules])
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out, out


def test_without_the_acme_library_enable_names_the_extra(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os, sys
        sys.modules["acme"] = None  # as if dockyard[letsencrypt] were not installed
        os.environ["DOCKYARD_ROOT"] = {str(tmp_path)!r}
        os.environ["DOCKYARD_CONFIG"] = {str(tmp_path / "c.toml")!r}
        open(os.environ["DOCKYARD_CONFIG"], "w").close()
        from dockyard.core import letsencrypt as le
        from dockyard.core.errors import PluginError
        try:
            le.require_acme()
        except PluginError as exc:
            print("ERROR", exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "ERROR letsencrypt needs the acme library: pip install 'dockyard[letsencrypt]'" in out, out


def test_the_challenge_location_in_a_redirecting_server_passes_nginx_t(
        run: Any, file_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Renewals reach port 80 after the certificate is in: the location sits before the redirect."""
    from tests.fixtures.cli import need_binary

    need_binary("nginx")
    monkeypatch.setenv("DOCKYARD_ACME_WEBROOT", str(tmp_path / "acme"))
    ok(run("apps:create", "web"))
    ok(run("ports:set", "web", "http:80:5000", "https:443:5000"))
    ok(run("domains:set", "web", "web.example.test"))
    crt, key = make_cert(("web.example.test",))
    (tmp_path / "c.pem").write_text(crt)
    (tmp_path / "k.pem").write_text(key)
    ok(run("certs:add", "web", str(tmp_path / "c.pem"), str(tmp_path / "k.pem")))
    (tmp_path / "acme" / "web").mkdir(parents=True)
    result = NginxProxy(file_store).build_config(gather(file_store, "web", {"web": [Listener("127.0.0.1", 5000)]}))
    assert result.ok, result
    assert "location ^~ /.well-known/acme-challenge/" in NginxProxy(file_store).show_config("web")
