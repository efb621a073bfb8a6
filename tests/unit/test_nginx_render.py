"""nginx rendering, validation and escaping, with the real file store and (where a test
says so) the real ``nginx -t``. Listeners are given directly: they are the proxy's input,
whichever scheduler produced them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dockyard.core.errors import ProxyError
from dockyard.core.models import Listener
from dockyard.core.routing import routes_for
from dockyard.proxy.base import Listeners
from dockyard.proxy.nginx import NginxProxy
from dockyard.proxy.nginx.render import Rendered
from tests.fixtures.cli import need_binary
from tests.fixtures.nginx import make_cert

L = Listener
HSTS_LINE = 'add_header Strict-Transport-Security "max-age=15724800; includeSubdomains" always;'


def render(proxy: NginxProxy, app: str, listeners: Listeners, http2_directive: bool | None = None) -> Rendered:
    return proxy.render(routes_for(proxy, proxy.store, app, listeners), http2_directive)


@pytest.fixture
def proxy(file_store: Any, run: Any) -> NginxProxy:
    assert run("apps:create", "web").exit_code == 0
    return NginxProxy(file_store)


def one_line_error(result: Any, *fragments: str) -> None:
    assert result.exit_code == 1, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ---- rendering ----------------------------------------------------------------------------
def test_web_and_non_web_entries_use_listener_hosts_with_the_map_container_port(proxy: NginxProxy, run: Any
                                                                                ) -> None:
    assert run("ports:set", "web", "http:80:5000", "http:8081:6000:api", "tcp:9000:7000:worker-q").exit_code == 0
    # listener ports differ on purpose: Dokku uses the port-map container port
    out = render(proxy, "web", {"web": [L("10.0.0.2", 1), L("10.0.0.3", 1)], "api": [L("10.0.0.4", 2)],
                               "worker-q": [L("10.0.0.5", 3)]})
    assert re.search(r'upstream "web__web__5000" \{\s+server "10\.0\.0\.2:5000";\s+server "10\.0\.0\.3:5000";\s+\}',
                     out.http)
    assert re.search(r'upstream "web__api__6000" \{\s+server "10\.0\.0\.4:6000";', out.http)
    assert 'proxy_pass "http://web__api__6000";' in out.http
    assert 'listen "[::]:8081";' in out.http and "listen 8081;" in out.http
    assert "proxy_set_header Upgrade $http_upgrade;" in out.http
    assert 'proxy_set_header X-Forwarded-For "$remote_addr";' in out.http
    assert "web__worker-q" not in out.http
    assert re.search(r'upstream "web__worker-q__7000__tcp" \{\s+server "10\.0\.0\.5:7000";', out.stream)
    assert 'proxy_pass "web__worker-q__7000__tcp";' in out.stream


def test_a_node_port_listener_serves_the_entry_of_its_container_port(proxy: NginxProxy, run: Any) -> None:
    """Nomad's host address mode registers the node's address and a dynamic port per
    container port: each port-map entry goes to the listener that forwards to its container
    port, on that listener's own port."""
    assert run("ports:set", "web", "http:80:5000", "http:8081:5001").exit_code == 0
    out = render(proxy, "web", {"web": [L("10.0.0.2", 23001, 5000), L("10.0.0.2", 23002, 5001),
                                        L("10.0.0.3", 23003, 5000), L("10.0.0.3", 23004, 5001)]})
    assert re.search(r'upstream "web__web__5000" \{\s+server "10\.0\.0\.2:23001";\s+server "10\.0\.0\.3:23003";\s+\}',
                     out.http), out.http
    assert re.search(r'upstream "web__web__5001" \{\s+server "10\.0\.0\.2:23002";\s+server "10\.0\.0\.3:23004";\s+\}',
                     out.http), out.http


def test_dokku_template_variables(proxy: NginxProxy, run: Any, tmp_path: Path) -> None:
    template = tmp_path / "vars.conf.j2"
    template.write_text(
        "# W={{ DOKKU_APP_WEB_LISTENERS }}|Q={{ DOKKU_APP_WORKER_Q_LISTENERS }}|M={{ PROXY_PORT_MAP }}"
        "|S={{ SSL_INUSE }}|N={{ NOSSL_SERVER_NAME }}|X={{ SSL_SERVER_NAME }}|A={{ APP }}"
        "|D={{ domains|join(',') }}|H={{ hsts.max_age }}\nserver { listen 1; }\n")
    assert run("ports:set", "web", "http:80:5000", "tcp:9000:7000:worker-q").exit_code == 0
    assert run("domains:set", "web", "a.example.test", "b.example.test").exit_code == 0
    assert run("nginx:set", "web", "template-path", str(template)).exit_code == 0
    out = render(proxy, "web", {"web": [L("10.0.0.2", 5000), L("10.0.0.3", 5000)], "worker-q": [L("10.0.0.5", 7000)]})
    assert out.http.splitlines()[0] == (
        "# W=10.0.0.2:5000 10.0.0.3:5000|Q=10.0.0.5:7000|M=http:80:5000 tcp:9000:7000:worker-q|S=|"
        "N=a.example.test b.example.test|X=|A=web|D=a.example.test,b.example.test|H=15724800")
    assert out.stream == ""  # a template without blocks is all http


def test_https_conversion_redirect_and_hsts(proxy: NginxProxy, run: Any, tmp_path: Path) -> None:
    crt, key = make_cert(("web.example.test",))
    (tmp_path / "c.pem").write_text(crt)
    (tmp_path / "k.pem").write_text(key)
    assert run("ports:set", "web", "http:80:5000", "http:8080:5000").exit_code == 0
    assert run("domains:set", "web", "web.example.test").exit_code == 0
    assert run("certs:add", "web", str(tmp_path / "c.pem"), str(tmp_path / "k.pem")).exit_code == 0
    ports = run("ports:report", "web").stdout
    assert "ports-map:" in ports and "http:80:5000 http:8080:5000 https:443:5000" in ports
    out = render(proxy, "web", {"web": [L("10.0.0.2", 5000)]})
    servers = out.http.split("server {")[1:]
    by_port = {re.search(r"listen (\d+)", s).group(1): s for s in servers}  # type: ignore[union-attr]
    assert 'return 301 "https://$host$request_uri";' in by_port["80"] and "proxy_pass" not in by_port["80"]
    assert 'proxy_pass "http://web__web__5000";' in by_port["8080"] and "ssl_certificate" not in by_port["8080"]
    assert "listen 443 ssl http2;" in by_port["443"]
    assert HSTS_LINE in by_port["443"]
    assert HSTS_LINE not in by_port["8080"]
    # the key is stored as a property (exported and migrated); the config names a file named
    # after its content, written 0600 when the config is staged, never by rendering alone
    key_file = Path(re.search(r'ssl_certificate_key "([^"]+)"', by_port["443"]).group(1))  # type: ignore[union-attr]
    assert key_file.name.startswith("server-") and not key_file.exists()
    from dockyard.proxy.nginx.apply import stage_tls

    stage_tls([out])
    assert key_file.read_text() == key and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert key not in repr(out)
    assert run("nginx:set", "web", "hsts", "false").exit_code == 0
    assert "Strict-Transport-Security" not in render(proxy, "web", {"web": [L("10.0.0.2", 5000)]}).http
    assert run("nginx:set", "web", "hsts", "").exit_code == 0
    assert run("nginx:set", "web", "hsts-preload", "true").exit_code == 0
    assert '"max-age=15724800; includeSubdomains; preload" always;' in render(proxy, "web", {}).http
    assert run("certs:remove", "web").exit_code == 0
    assert "https:443" not in run("ports:report", "web").stdout


def test_certs_add_keeps_an_explicit_https_port_map(proxy: NginxProxy, run: Any, tmp_path: Path) -> None:
    """Issue 10, observation 4: Dokku keeps ``https:443:443``; it used to become 443:80."""
    crt, key = make_cert(("web.example.test",))
    (tmp_path / "c.pem").write_text(crt)
    (tmp_path / "k.pem").write_text(key)
    assert run("ports:set", "web", "http:80:80", "https:443:443").exit_code == 0
    assert run("certs:add", "web", str(tmp_path / "c.pem"), str(tmp_path / "k.pem")).exit_code == 0
    ports = run("ports:report", "web").stdout
    assert "http:80:80 https:443:443" in ports and "https:443:80" not in ports, ports


def test_no_listeners_means_502_not_a_broken_upstream(proxy: NginxProxy) -> None:
    out = render(proxy, "web", {})
    assert "upstream" not in out.http and "return 502;" in out.http


# ---- validation and injection --------------------------------------------------------------
@pytest.mark.parametrize("domain", [
    "evil.test; include /etc/passwd", "evil.test}", "a b.test", "évil.test", "x-.test", "x" * 64 + ".test",
    "evil.test\nlocation", "$host",
])
def test_domains_are_dns_names(run: Any, domain: str) -> None:
    assert run("apps:create", "web").exit_code == 0
    one_line_error(run("domains:add", "web", domain), "invalid domain")
    assert run("domains:report", "web").stdout.count("evil") == 0


@pytest.mark.parametrize(("key", "value"), [
    ("x-forwarded-for-value", "$remote_addr; return 200"),
    ("x-forwarded-for-value", 'x" always; add_header A "b'),
    ("x-forwarded-proto-value", "https}"),
    ("access-log-path", "/tmp/a.log; include /etc/shadow"),
    ("access-log-path", "relative.log"),
    ("error-log-path", "/var/log/../../etc/passwd"),
    ("client-max-body-size", "1m; proxy_pass http://evil"),
    ("proxy-read-timeout", "60s;"),
    ("proxy-read-timeout", "0"),  # issue 10: nginx accepts it and answers every request 504
    ("proxy-read-timeout", "0s"),
    ("bind-address-ipv4", "0.0.0.0:80 default_server"),
    ("bind-address-ipv6", "::1]:80; listen [::"),
    ("hsts-max-age", "1; preload"),
    ("hsts", "yes"),
    ("x-forwarded-ssl", "on;"),
    ("template-path", "/does/not/exist.j2"),
    ("no-such-property", "x"),
])
def test_nginx_properties_are_validated(run: Any, key: str, value: str) -> None:
    assert run("apps:create", "web").exit_code == 0
    one_line_error(run("nginx:set", "web", key, value))


def test_global_only_properties(run: Any) -> None:
    assert run("apps:create", "web").exit_code == 0
    one_line_error(run("nginx:set", "web", "main-conf", "/tmp/x.conf"), "--global")


def test_values_written_behind_the_cli_are_refused_at_render_time(proxy: NginxProxy, file_store: Any) -> None:
    """props:import or another host can write anything: rendering checks again."""
    file_store.list_write("domains", "web", "vhosts", ["ok.test", "evil.test;include /etc/passwd"])
    with pytest.raises(ProxyError, match="invalid domain"):
        render(proxy, "web", {"web": [L("10.0.0.2", 5000)]})
    file_store.delete("domains", "web", "vhosts")
    file_store.set("nginx", "web", "x-forwarded-for-value", '$remote_addr"; return 200; "')
    with pytest.raises(ProxyError, match="x-forwarded-for-value"):
        render(proxy, "web", {"web": [L("10.0.0.2", 5000)]})
    file_store.delete("nginx", "web", "x-forwarded-for-value")
    with pytest.raises(ProxyError, match="not a DNS name"):
        render(proxy, "web", {"web": [L("10.0.0.2;return 200", 5000)]})


def test_a_template_cannot_print_an_unchecked_value(proxy: NginxProxy, run: Any, tmp_path: Path,
                                                    file_store: Any) -> None:
    """A user template sees only checked values; the HSTS header comes quoted, not raw."""
    template = tmp_path / "t.conf.j2"
    template.write_text("# {{ hsts.value }} {{ nginx.access_log }}\n{{ nope }}\n")
    assert run("nginx:set", "web", "template-path", str(template)).exit_code == 0
    with pytest.raises(ProxyError, match="nope"):
        render(proxy, "web", {})  # strict: an undefined variable is an error, not an empty string
    template.write_text("{{ ''.__class__.__mro__ }}\n")
    with pytest.raises(ProxyError):
        render(proxy, "web", {})  # sandboxed


@pytest.mark.parametrize("entry", ["http:0:5000", "http:80:65536", "ftp:21:21", "http:80", "http:x:5000",
                                   "http:80:5000:bad/type", "tcp:80:5000:a:b"])
def test_port_entries_are_validated(run: Any, entry: str) -> None:
    assert run("apps:create", "web").exit_code == 0
    one_line_error(run("ports:add", "web", entry), "invalid port mapping")


def test_port_conflicts_between_apps(run: Any) -> None:
    for app in ("one", "two", "three"):
        assert run("apps:create", app).exit_code == 0
    assert run("ports:set", "one", "http:80:5000", "tcp:9000:7000:worker").exit_code == 0
    # name-based virtual hosting shares http:80
    assert run("ports:set", "two", "http:80:5000").exit_code == 0
    one_line_error(run("ports:add", "two", "tcp:9000:7000:worker"), "9000", "one")
    one_line_error(run("ports:set", "three", "https:80:5000"), "80", "one")
    one_line_error(run("ports:set", "two", "http:81:5000", "tcp:81:6000:worker"), "81")
    assert run("ports:add", "two", "udp:9000:7000:worker").exit_code == 0  # udp and tcp do not collide
    assert "tcp:9000" not in run("ports:report", "two").stdout


def test_certificate_checks(run: Any, tmp_path: Path) -> None:
    assert run("apps:create", "web").exit_code == 0
    crt, _ = make_cert()
    _, other_key = make_cert()
    old_crt, old_key = make_cert(days=-1, not_before_days=-10)
    from cryptography.hazmat.primitives.asymmetric import rsa

    # issue 10, observation 1: nginx's OpenSSL refuses this at nginx -t ("ee key too small")
    weak_crt, weak_key = make_cert(key=rsa.generate_private_key(public_exponent=65537, key_size=1024))
    files = {"c": crt, "k2": other_key, "oc": old_crt, "ok": old_key, "junk": "not a pem",
             "wc": weak_crt, "wk": weak_key}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    one_line_error(run("certs:add", "web", str(tmp_path / "c"), str(tmp_path / "k2")), "does not match")
    one_line_error(run("certs:add", "web", str(tmp_path / "junk"), str(tmp_path / "ok")), "certificate")
    one_line_error(run("certs:add", "web", str(tmp_path / "wc"), str(tmp_path / "wk")), "too small", "1024")
    assert run("certs:report", "web", "--ssl-enabled").stdout == "false\n"
    # an expired certificate is taken, as Dokku takes it, with a warning (issue 11)
    expired = run("certs:add", "web", str(tmp_path / "oc"), str(tmp_path / "ok"))
    assert expired.exit_code == 0, expired.stderr
    assert "the certificate expired on" in expired.stderr and "clients will refuse it" in expired.stderr
    assert run("certs:report", "web", "--ssl-enabled").stdout == "true\n"


# ---- with the real nginx -t --------------------------------------------------------------------
def test_build_all_validates_and_reloads_once(run: Any, file_store: Any, dockyard_root: Path,
                                              tmp_path: Path) -> None:
    nginx = need_binary("nginx")
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "nginx-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {nginx} "$@"\n')
    wrapper.chmod(0o755)
    apps = [f"app{i}" for i in range(3)] + ["1994testapp", "test.dokku.test"]  # Dokku's names too
    for i, app in enumerate(apps):
        assert run("apps:create", app).exit_code == 0
        assert run("ports:set", app, f"http:{20000 + i}:5000").exit_code == 0
    assert run("nginx:set", "--global", "binary", str(wrapper)).exit_code == 0
    proxy = NginxProxy(file_store)
    results = proxy.build_all([routes_for(proxy, file_store, app, {"web": [L("127.0.0.1", 5000)]}) for app in apps])
    assert all(r.ok and r.changed for r in results), results
    tests = [line for line in log.read_text().splitlines() if line.startswith("-t")]
    assert len(tests) == 1
    assert sorted(p.name for p in (dockyard_root / "nginx" / "http").iterdir()) == sorted(f"{a}.conf" for a in apps)


def test_rejected_candidate_leaves_the_old_file_and_other_apps(run: Any, file_store: Any, dockyard_root: Path,
                                                               tmp_path: Path) -> None:
    need_binary("nginx")
    for app in ("good", "bad"):
        assert run("apps:create", app).exit_code == 0
    assert run("ports:set", "good", "http:20001:5000").exit_code == 0
    assert run("ports:set", "bad", "http:20002:5000").exit_code == 0
    proxy = NginxProxy(file_store)
    listeners = {"web": [L("127.0.0.1", 5000)]}
    proxy.build_all([routes_for(proxy, file_store, app, listeners) for app in ("good", "bad")])
    http_dir = dockyard_root / "nginx" / "http"
    old_bad = (http_dir / "bad.conf").read_text()
    template = tmp_path / "broken.conf.j2"
    template.write_text('{% extends "dockyard/app.conf.j2" %}{% block http %}server { listen 1; bogus_directive on; }'
                        "{% endblock %}")
    assert run("nginx:set", "bad", "template-path", str(template)).exit_code == 0
    assert run("ports:set", "good", "http:20003:5000").exit_code == 0
    results = {r.app: r for r in NginxProxy(file_store).build_all(
        [routes_for(proxy, file_store, app, listeners) for app in ("good", "bad")])}
    assert not results["bad"].ok and 'unknown directive "bogus_directive"' in results["bad"].message
    assert results["good"].ok and results["good"].changed
    assert (http_dir / "bad.conf").read_text() == old_bad
    assert "listen 20003;" in (http_dir / "good.conf").read_text()
    assert not list(http_dir.glob(".*")) and not list((dockyard_root / "nginx").glob(".candidate-*"))
    with pytest.raises(ProxyError, match="bogus_directive"):
        NginxProxy(file_store).build_config(routes_for(proxy, file_store, "bad", listeners))
