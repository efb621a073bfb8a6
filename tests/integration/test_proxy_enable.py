"""proxy:enable / proxy:disable with a real nginx (issue 11).

Dokku's semantics: a disabled app's proxy config is removed and nothing routes it (a
rebuild, a deploy or ``proxy:build-config --all`` does not bring it back) until
``proxy:enable``, which validates the config before storing the change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.nginx import PrivateNginx, free_port, request
from tests.integration.test_proxy import deploy, make_app, routed_image, scheduler  # noqa: F401 - fixtures

pytestmark = [pytest.mark.docker, pytest.mark.nginx]


def report(run: Any, app: str) -> dict[str, str]:
    result = run("--format", "json", "proxy:report", app)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_disable_removes_the_config_and_enable_brings_it_back(
        private_nginx: PrivateNginx, make_app: Any, run: Any, file_store: Any, scheduler: Any,  # noqa: F811
        routed_image: str, tmp_path: Path) -> None:  # noqa: F811
    app, other = make_app("pxy"), make_app("pxo")
    port, other_port = free_port(), free_port()
    assert run("ports:set", app, f"http:{port}:5000").exit_code == 0
    assert run("ports:set", other, f"http:{other_port}:5000").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)
    deploy(file_store, scheduler, other, routed_image)
    assert request(port).status == 200
    rows = report(run, app)
    assert (rows["proxy-enabled"], rows["proxy-disabled"], rows["proxy-computed-disabled"]) == ("true", "", "false")
    assert rows["enabled"] == "true"  # Dokku's stripped key beside the prefixed one

    result = run("proxy:disable", app)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "-----> Disabling proxy for app\n"
    assert not private_nginx.http_file(app).exists()
    with pytest.raises(OSError):
        request(port)
    assert request(other_port).status == 200  # the other app is untouched
    rows = report(run, app)
    assert (rows["proxy-enabled"], rows["proxy-disabled"], rows["proxy-computed-disabled"]) == (
        "false", "true", "true")
    assert rows["proxy-computed-type"] == "nginx"  # the type is kept for proxy:enable
    assert run("proxy:report", app, "--proxy-enabled").stdout == "false\n"
    again = run("proxy:disable", app)
    assert again.exit_code == 0 and again.stdout == "-----> Proxy is already disable for app\n"

    # nothing routes a disabled app again: a rebuild, a rebuild of all, a redeploy
    assert run("proxy:build-config", app).exit_code == 0
    assert run("proxy:build-config", "--all").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)
    assert not private_nginx.http_file(app).exists()
    with pytest.raises(OSError):
        request(port)

    # a config nginx rejects is not enabled: the app stays disabled
    template = tmp_path / "broken.conf.j2"
    template.write_text("server {\n  listen {{ entries[0].host_port }};\n  proxy_buffering maybe;\n}\n")
    assert run("props:set", "nginx", app, "template-path", str(template)).exit_code == 0
    refused = run("proxy:enable", app)
    assert refused.exit_code == 1 and 'invalid value "maybe"' in refused.stderr
    assert report(run, app)["proxy-enabled"] == "false"
    assert not private_nginx.http_file(app).exists()
    assert request(other_port).status == 200
    assert run("props:unset", "nginx", app, "template-path").exit_code == 0

    result = run("proxy:enable", app)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "-----> Enabling proxy for app\n"
    assert request(port).status == 200
    assert report(run, app)["proxy-enabled"] == "true"
    again = run("proxy:enable", app)
    assert again.exit_code == 0 and again.stdout == "-----> Proxy is already enabled for app\n"

    # --all: every app, one by one, as Dokku's serial run
    result = run("proxy:disable", "--all")
    assert result.exit_code == 0, result.stderr
    assert f"-----> Running disable against app {app}" in result.stdout
    assert f"-----> Running disable against app {other}" in result.stdout
    assert "Running disable in serial mode" in result.stderr
    for port_ in (port, other_port):
        with pytest.raises(OSError):
            request(port_)
    assert run("proxy:enable", "--all").exit_code == 0
    assert request(port).status == 200 and request(other_port).status == 200

    usage = run("proxy:disable")
    assert usage.exit_code == 2
    assert run("proxy:disable", "no-such-app").exit_code == 20
