"""Validate, then store (issue 10, observation 2), with a real nginx and a real container.

A proxy-affecting setting on a deployed app is applied as one step: render, ``nginx -t``,
swap, then store. When nginx rejects the config, or cannot bind a port at reload, the
command exits 1 with one line and the setting is left as it was, so the next deploy does
not fail at the traffic switch.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.nginx import PrivateNginx, free_port, request
from tests.integration.test_proxy import deploy, make_app, routed_image, scheduler  # noqa: F401 - fixtures

pytestmark = [pytest.mark.docker, pytest.mark.nginx]


def error_line(stderr: str) -> str:
    """The one line a refused command prints (progress lines, '----->', aside)."""
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith("----->")]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.fixture
def deployed(private_nginx: PrivateNginx, make_app: Any, run: Any, file_store: Any, scheduler: Any,  # noqa: F811
             routed_image: str) -> dict[str, Any]:  # noqa: F811
    app = make_app("vts")
    port = free_port()
    assert run("ports:set", app, f"http:{port}:5000").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)
    assert request(port).status == 200
    return {"app": app, "port": port}


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port another process (this one) is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_a_template_nginx_rejects_is_not_stored(deployed: dict[str, Any], private_nginx: PrivateNginx,
                                               run: Any, file_store: Any, scheduler: Any,  # noqa: F811
                                               routed_image: str) -> None:  # noqa: F811
    app, port = deployed["app"], deployed["port"]
    report = run("nginx:report", app).stdout
    config = private_nginx.http_file(app).read_bytes()
    result = run("nginx:set", app, "template-path", "/etc/passwd")
    assert result.exit_code == 1
    assert "nginx rejected the new config" in error_line(result.stderr)
    assert run("nginx:report", app).stdout == report
    assert file_store.get("nginx", app, "template-path") is None
    assert private_nginx.http_file(app).read_bytes() == config
    assert run("nginx:validate-config").exit_code == 0
    assert request(port).status == 200
    # and the next deploy switches traffic as usual
    deploy(file_store, scheduler, app, routed_image)
    assert request(port).status == 200


def test_a_port_nginx_cannot_bind_is_not_stored(deployed: dict[str, Any], private_nginx: PrivateNginx,
                                               run: Any, file_store: Any, held_port: int) -> None:
    app, port = deployed["app"], deployed["port"]
    report = run("ports:report", app).stdout
    config = private_nginx.http_file(app).read_bytes()
    for command in (("ports:add", app, f"http:{held_port}:5000"), ("ports:set", app, f"http:{held_port}:5000")):
        result = run(*command)
        assert result.exit_code == 1
        assert "Address already in use" in error_line(result.stderr)
        assert run("ports:report", app).stdout == report
        assert private_nginx.http_file(app).read_bytes() == config
        assert request(port).status == 200
    assert run("nginx:validate-config").exit_code == 0
    # a port that is free goes through, and is stored
    free = free_port()
    assert run("ports:add", app, f"http:{free}:5000").exit_code == 0
    assert f"http:{free}:5000" in run("ports:report", app).stdout
    assert request(free).status == 200
    assert run("ports:remove", app, str(free)).exit_code == 0
    assert f"http:{free}:5000" not in run("ports:report", app).stdout


@pytest.mark.parametrize("value", ["0", "0s", "0ms", "0m", "366d", "9999999999y"])
def test_timeouts_have_a_range(value: str, run: Any, tmp_path: Path) -> None:
    assert run("apps:create", "timeouts").exit_code == 0
    report = run("nginx:report", "timeouts").stdout
    result = run("nginx:set", "timeouts", "proxy-read-timeout", value)
    assert result.exit_code == 1 and "proxy-read-timeout" in error_line(result.stderr)
    assert run("nginx:report", "timeouts").stdout == report
    assert run("nginx:set", "timeouts", "proxy-read-timeout", "90s").exit_code == 0


def test_a_process_type_the_release_lacks_is_refused_once_deployed(deployed: dict[str, Any], run: Any) -> None:
    app = deployed["app"]
    report = run("ports:report", app).stdout
    for command in ("ports:add", "ports:set"):
        result = run(command, app, f"http:{free_port()}:5000:nosuch")
        assert result.exit_code == 1
        assert "has no process type nosuch" in error_line(result.stderr)
        assert run("ports:report", app).stdout == report
    api = free_port()
    assert run("ports:add", app, f"http:{api}:6000:api").exit_code == 0  # the release has api (scaled to 0)
    assert f"http:{api}:6000:api" in run("ports:report", app).stdout
    assert request(api).status == 502  # routed, no instance yet


def test_a_process_type_is_warned_about_before_the_first_deploy(run: Any) -> None:
    assert run("apps:create", "undeployed").exit_code == 0
    result = run("ports:set", "undeployed", "http:80:5000", "http:8080:6000:worker")
    assert result.exit_code == 0
    assert "process type worker" in result.stderr
    assert "http:8080:6000:worker" in run("ports:report", "undeployed").stdout


def test_every_routing_command_stores_nothing_when_nginx_rejects_the_config(
        deployed: dict[str, Any], private_nginx: PrivateNginx, run: Any, file_store: Any, tmp_path: Path) -> None:
    """A stored setting nginx rejects (a template, written behind nginx:set's back) makes each
    proxy-affecting command fail in one line, and none of them stores its own change."""
    from tests.fixtures.nginx import make_cert

    app, port = deployed["app"], deployed["port"]
    template = tmp_path / "broken.conf.j2"
    template.write_text("server {\n  listen {{ entries[0].host_port }};\n  proxy_buffering maybe;\n}\n")
    assert run("props:set", "nginx", app, "template-path", str(template)).exit_code == 0
    crt, key = make_cert(("vts.example.test",))
    (tmp_path / "c.pem").write_text(crt)
    (tmp_path / "k.pem").write_text(key)
    config = private_nginx.http_file(app).read_bytes()

    def state() -> tuple[str, ...]:
        reports = ("ports:report", "domains:report", "certs:report", "proxy:report")
        return (*(run(report, app).stdout for report in reports), str(file_store.get("nginx", app, "hsts")))

    before = state()
    for command in (("nginx:set", app, "hsts", "false"), ("ports:add", app, f"http:{free_port()}:5000"),
                    ("ports:set", app, f"http:{free_port()}:5000"), ("ports:remove", app, str(port)),
                    ("ports:clear", app), ("domains:add", app, "vts.example.test"),
                    ("domains:set", app, "vts.example.test"), ("domains:disable", app),
                    ("certs:add", app, str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))):
        result = run(*command)
        assert result.exit_code == 1, command
        assert 'invalid value "maybe"' in error_line(result.stderr), command
        assert state() == before, command
        assert private_nginx.http_file(app).read_bytes() == config, command
        assert request(port).status == 200, command

    # proxy:set to null and back: the nginx config goes, then comes back only if nginx takes it
    assert run("proxy:set", app, "null").exit_code == 0
    assert not private_nginx.http_file(app).exists()
    result = run("proxy:set", app, "nginx")
    assert result.exit_code == 1 and 'invalid value "maybe"' in error_line(result.stderr)
    assert file_store.get("proxy", app, "type") == "null"
    assert run("props:unset", "nginx", app, "template-path").exit_code == 0
    assert run("proxy:set", app, "nginx").exit_code == 0
    assert request(port).status == 200


def test_a_rebuild_between_the_swap_and_the_commit_is_caught_up(
        deployed: dict[str, Any], private_nginx: PrivateNginx, run: Any, scheduler: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The event listener may rebuild from the store after the new config went live but before
    the setting is stored; the command renders once more after storing, so the new one stays."""
    from dockyard.core import routing

    app = deployed["app"]
    commit = routing.PendingView.commit

    def late_commit(view: Any) -> None:
        routing.rebuild(view.base, scheduler, app)  # the listener, still seeing the old settings
        commit(view)

    monkeypatch.setattr(routing.PendingView, "commit", late_commit)
    assert run("nginx:set", app, "client-max-body-size", "7m").exit_code == 0
    assert 'client_max_body_size "7m";' in private_nginx.http_file(app).read_text()


def test_a_global_setting_nginx_rejects_for_a_deployed_app_is_not_stored(
        deployed: dict[str, Any], private_nginx: PrivateNginx, run: Any, tmp_path: Path) -> None:
    app, port = deployed["app"], deployed["port"]
    template = tmp_path / "broken.conf.j2"
    template.write_text("server {\n  listen {{ entries[0].host_port }};\n  proxy_buffering maybe;\n}\n")
    report = run("nginx:report", "--global").stdout
    config = private_nginx.http_file(app).read_bytes()
    result = run("nginx:set", "--global", "template-path", str(template))
    assert result.exit_code == 1
    line = error_line(result.stderr)
    assert "not stored" in line and app in line and 'invalid value "maybe"' in line
    assert run("nginx:report", "--global").stdout == report
    assert private_nginx.http_file(app).read_bytes() == config
    assert run("nginx:validate-config").exit_code == 0
    # an accepted one is stored, and applied by proxy:build-config --all, as in Dokku
    assert run("nginx:set", "--global", "proxy-read-timeout", "90s").exit_code == 0
    assert private_nginx.http_file(app).read_bytes() == config
    assert run("proxy:build-config", "--all").exit_code == 0
    assert 'proxy_read_timeout "90s";' in private_nginx.http_file(app).read_text()
    assert request(port).status == 200
