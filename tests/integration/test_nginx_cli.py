"""nginx:show-config, nginx:access-logs, nginx:error-logs and nginx:validate-config [APP]
[--clean] with a real nginx, as a Dokku user runs them (issue 11)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.fixtures.nginx import PrivateNginx, free_port, request
from tests.integration.test_proxy import deploy, make_app, routed_image, scheduler  # noqa: F401 - fixtures

pytestmark = [pytest.mark.docker, pytest.mark.nginx]


@pytest.fixture
def two(private_nginx: PrivateNginx, make_app: Any, run: Any, file_store: Any, scheduler: Any,  # noqa: F811
        routed_image: str) -> dict[str, Any]:  # noqa: F811
    app, other = make_app("ngx"), make_app("ngo")
    port, other_port = free_port(), free_port()
    assert run("ports:set", app, f"http:{port}:5000").exit_code == 0
    assert run("ports:set", other, f"http:{other_port}:5000").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)
    deploy(file_store, scheduler, other, routed_image)
    return {"app": app, "other": other, "port": port, "other_port": other_port}


def test_show_config_and_logs(two: dict[str, Any], run: Any, make_app: Any,  # noqa: F811
                              private_nginx: PrivateNginx) -> None:
    app, port = two["app"], two["port"]
    shown = run("nginx:show-config", app)
    assert shown.exit_code == 0 and f"listen 127.0.0.1:{port}" in shown.stdout.replace('"', "")
    fresh = make_app("ngn")
    missing = run("nginx:show-config", fresh)
    assert missing.exit_code == 1 and f"No nginx.conf exists for {fresh}" in missing.stderr
    assert run("proxy:set", fresh, "type", "null").exit_code == 0
    other_type = run("nginx:show-config", fresh)
    assert other_type.exit_code == 1
    assert "This command is only available for apps with the nginx proxy type" in other_type.stderr

    for i in range(25):
        request(port, path=f"/hit-{i}")  # the app answers 404 for these; nginx logs each
    deadline = time.time() + 5
    while True:
        logs = run("nginx:access-logs", app)
        assert logs.exit_code == 0, logs.stderr
        if "/hit-24" in logs.stdout or time.time() > deadline:
            break
        time.sleep(0.1)
    lines = logs.stdout.splitlines()
    assert len(lines) == 20  # Dokku's tail -n 20
    assert "GET /hit-24" in lines[-1] and "/hit-4 " not in logs.stdout

    assert run("nginx:error-logs", app).exit_code == 0
    assert run("nginx:set", app, "error-log-path", "off").exit_code == 0
    off = run("nginx:error-logs", app)
    assert off.exit_code == 1 and "error logs are disabled for this app" in off.stderr


def test_validate_config_names_and_cleans_the_broken_app(two: dict[str, Any], run: Any,
                                                         private_nginx: PrivateNginx) -> None:
    app, other = two["app"], two["other"]
    ok = run("nginx:validate-config")
    assert ok.exit_code == 0, ok.stderr
    assert "Failed to validate" not in ok.stdout + ok.stderr

    broken = private_nginx.http_file(app)
    broken.write_text(broken.read_text() + "\nproxy_buffering maybe;\n")  # a hand edit nginx refuses
    failed = run("nginx:validate-config")
    assert failed.exit_code == 1
    assert f"Failed to validate nginx config for {app}. Contents below..." in failed.stderr
    assert f"Failed to validate nginx config for {other}" not in failed.stderr
    assert "proxy_buffering maybe;" in failed.stdout  # the file's contents, as Dokku cats it
    assert broken.exists()
    single = run("nginx:validate-config", other)
    assert single.exit_code == 1 and "Failed to validate" not in single.stderr  # the other app's file is fine

    cleaned = run("nginx:validate-config", "--clean")
    assert cleaned.exit_code == 0, cleaned.stderr
    assert not broken.exists()
    assert private_nginx.http_file(other).exists()
    assert request(two["other_port"]).status == 200
    assert run("nginx:validate-config").exit_code == 0
    assert run("proxy:build-config", app).exit_code == 0  # the app's config comes back from the store
    assert request(two["port"]).status == 200


def test_dokku_timeouts_and_switches_are_rendered_and_checked(two: dict[str, Any], run: Any) -> None:
    app, port = two["app"], two["port"]
    defaults = {"client-body-timeout": "60s", "client-header-timeout": "60s", "keepalive-timeout": "75s",
                "lingering-timeout": "5s", "send-timeout": "60s", "proxy-connect-timeout": "60s",
                "proxy-send-timeout": "60s", "proxy-buffering": "on", "underscore-in-headers": "off"}
    report = run("nginx:report", app).stdout
    for key, value in defaults.items():
        assert f"nginx-computed-{key}:" in report
        assert any(line.split() == [f"nginx-computed-{key}:", value] for line in report.splitlines()), key
    shown = run("nginx:show-config", app).stdout
    assert 'keepalive_timeout "75s";' in shown and 'underscores_in_headers "off";' in shown

    for key, value, directive in (("keepalive-timeout", "30s", "keepalive_timeout"),
                                  ("proxy-connect-timeout", "5s", "proxy_connect_timeout"),
                                  ("proxy-buffering", "off", "proxy_buffering"),
                                  ("underscore-in-headers", "on", "underscores_in_headers")):
        result = run("nginx:set", app, key, value)
        assert result.exit_code == 0, result.stderr
        assert f'{directive} "{value}";' in run("nginx:show-config", app).stdout
    assert request(port).status == 200

    for key, value in (("send-timeout", "1$x"), ("proxy-buffering", "maybe"), ("lingering-timeout", "0s")):
        refused = run("nginx:set", app, key, value)
        assert refused.exit_code == 1, (key, value)
    assert 'send_timeout "60s";' in run("nginx:show-config", app).stdout
    assert run("nginx:set", app, "keepalive-timeout").exit_code == 0  # no value unsets, as in Dokku
    assert 'keepalive_timeout "75s";' in run("nginx:show-config", app).stdout


def test_proxy_buffers_and_access_log_format(two: dict[str, Any], run: Any) -> None:
    import os

    app, port = two["app"], two["port"]
    page = os.sysconf("SC_PAGE_SIZE") // 1024
    shown = run("nginx:show-config", app).stdout
    assert f'proxy_buffer_size "{page}k";' in shown  # Dokku's page-size defaults
    assert f'proxy_buffers "8" "{page}k";' in shown
    assert f'proxy_busy_buffers_size "{page * 2}k";' in shown

    assert run("nginx:set", app, "proxy-buffers", "16 8k").exit_code == 0
    assert run("nginx:set", app, "proxy-buffer-size", "8k").exit_code == 0
    assert run("nginx:set", app, "proxy-busy-buffers-size", "16k").exit_code == 0
    shown = run("nginx:show-config", app).stdout
    assert 'proxy_buffers "16" "8k";' in shown and 'proxy_busy_buffers_size "16k";' in shown
    assert request(port).status == 200
    for value in ("8", "1 4k", "8 4k; x", "8 $k"):
        assert run("nginx:set", app, "proxy-buffers", value).exit_code == 1, value
    # nginx -t refuses a busy size above the buffers, so it is never stored
    too_big = run("nginx:set", app, "proxy-busy-buffers-size", "1m")
    assert too_big.exit_code == 1
    assert 'proxy_busy_buffers_size "16k";' in run("nginx:show-config", app).stdout

    # access-log-format names a log_format; nginx knows "combined", not "nosuch"
    assert run("nginx:set", app, "access-log-format", "combined").exit_code == 0
    assert '-access.log" "combined";' in run("nginx:show-config", app).stdout
    refused = run("nginx:set", app, "access-log-format", "nosuch")
    assert refused.exit_code == 1 and "nosuch" in refused.stderr
    assert run("nginx:set", app, "access-log-format", "bad name").exit_code == 1
    assert '-access.log" "combined";' in run("nginx:show-config", app).stdout
    assert request(port).status == 200


def test_reload_checks_the_tree_first_and_keeps_serving(two: dict[str, Any], run: Any,
                                                       private_nginx: PrivateNginx) -> None:
    app, port = two["app"], two["port"]
    assert run("nginx:reload").exit_code == 0
    assert request(port).status == 200
    broken = private_nginx.http_file(app)
    good = broken.read_text()
    broken.write_text(good + "\nproxy_buffering maybe;\n")  # a hand edit nginx refuses
    refused = run("nginx:reload")
    assert refused.exit_code == 1 and "proxy_buffering" in refused.stderr
    assert request(port).status == 200, "the running nginx never saw the broken tree"
    broken.write_text(good)
    assert run("nginx:reload").exit_code == 0


def test_proxy_keepalive_and_disable_custom_config(two: dict[str, Any], run: Any, tmp_path: Any) -> None:
    """Dokku's proxy-keepalive (idle upstream connections, off by default) and
    disable-custom-config (the built-in template, whatever custom one is set)."""
    app, port = two["app"], two["port"]
    assert "keepalive " not in run("nginx:show-config", app).stdout.replace("keepalive_timeout", "")
    assert run("nginx:set", app, "proxy-keepalive", "32").exit_code == 0
    assert 'keepalive "32";' in run("nginx:show-config", app).stdout
    assert request(port).status == 200
    for bad in ("0", "ten", "32;", "1234567"):
        refused = run("nginx:set", app, "proxy-keepalive", bad)
        assert refused.exit_code == 1 and len(refused.stderr.strip().splitlines()) == 1, bad
    assert 'keepalive "32";' in run("nginx:show-config", app).stdout

    custom = tmp_path / "custom.conf.j2"
    custom.write_text('{% extends "dockyard/app.conf.j2" %}{% block http %}# custom template of {{ APP }}\n'
                      '{{ super() }}{% endblock %}')
    assert run("nginx:set", app, "template-path", str(custom)).exit_code == 0
    assert f"# custom template of {app}" in run("nginx:show-config", app).stdout
    assert run("nginx:set", app, "disable-custom-config", "true").exit_code == 0
    assert "# custom template" not in run("nginx:show-config", app).stdout
    assert request(port).status == 200
    assert run("nginx:set", app, "disable-custom-config", "maybe").exit_code == 1

    report = run("--format", "json", "nginx:report", app).stdout
    import json

    rows = json.loads(report)
    assert rows["nginx-computed-nginx-conf-sigil-path"] == "nginx.conf.sigil"
    assert rows["nginx-computed-disable-custom-config"] == "true"
    assert rows["nginx-computed-nginx-service-command"] == ""
    assert run("nginx:set", app, "nginx-conf-sigil-path", "../etc/x").exit_code == 1
    assert run("nginx:set", app, "nginx-conf-sigil-path", "deploy/nginx.conf.sigil").exit_code == 0
