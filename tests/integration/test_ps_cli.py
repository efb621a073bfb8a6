"""Dokku's ps commands and properties on a real dockerd, through the real CLI: procfile-path
at deploy and ps:rebuild, the restore property kept by ps:stop/ps:start and deploys,
ps:inspect, ps:retire and ps:restore (Dokku's tests/unit/ps-*.bats)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.cli import Result, ok

pytestmark = pytest.mark.docker

Run = Callable[..., Result]

PROCFILES = {
    "Procfile": "web: sh -c 'echo first.Procfile; exec httpd -f -p $PORT -h /www'\n",
    "second.Procfile": "web: sh -c 'echo second.Procfile; exec httpd -f -p $PORT -h /www'\n"
                       "worker: sh -c 'exec sleep 3600'\n",
}


def new_app(run: Run, name: str) -> str:
    ok(run("apps:create", name))
    ok(run("checks:set", name, "wait", "0"))
    ok(run("checks:set", name, "wait-to-retire", "0"))
    ok(run("props:set", "proxy", name, "type", "null"))
    return name


def web_cmd(client: Any, app: str) -> str:
    return " ".join(client.containers.get(f"{app}.web.1").attrs["Config"]["Cmd"])


@pytest.fixture(scope="module")
def procfile_image(build_image: Callable[..., str]) -> str:
    """An image with two Procfiles in WORKDIR /app, and a CMD for when neither is read."""
    return build_image("WORKDIR /app\nCOPY Procfile second.Procfile /app/\n"
                       'CMD ["sh", "-c", "echo from CMD; exec httpd -f -p 5000 -h /www"]', PROCFILES)


def test_procfile_path_is_read_at_deploy_and_by_ps_rebuild(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("pfp"))
    ok(run("ps:set", app, "procfile-path", "second.Procfile"))
    ok(run("deploy", app, "--image", procfile_image))
    assert "echo second.Procfile" in web_cmd(docker_client, app)
    # a path the image lacks: the deploy goes on as if there were no Procfile (the CMD is web)
    ok(run("ps:set", app, "procfile-path", "nonexistent-procfile"))
    rebuilt = ok(run("ps:rebuild", app))
    assert "has no /app/nonexistent-procfile (ps procfile-path)" in rebuilt.stderr
    assert "echo from CMD" in web_cmd(docker_client, app)
    # unset: back to WORKDIR/Procfile on the next rebuild, as Dokku's rebuild from source
    ok(run("ps:set", app, "procfile-path"))
    ok(run("ps:rebuild", app))
    assert "echo first.Procfile" in web_cmd(docker_client, app)
    assert ok(run("ps:report", app, "--ps-computed-procfile-path")).stdout == "Procfile\n"
    # ps:restart keeps the release's processes; only a rebuild reads the image again
    ok(run("ps:set", "--global", "procfile-path", "second.Procfile"))
    ok(run("ps:restart", app))
    assert "echo first.Procfile" in web_cmd(docker_client, app)
    ok(run("ps:rebuild", app))
    assert "echo second.Procfile" in web_cmd(docker_client, app)
    ok(run("ps:set", "--global", "procfile-path"))


def test_given_procfile_is_kept_by_ps_rebuild(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str],
        tmp_path: Any) -> None:
    app = new_app(run, app_names("pfg"))
    own = tmp_path / "Procfile"
    own.write_text("web: sh -c 'echo given; exec httpd -f -p $PORT -h /www'\n")
    ok(run("deploy", app, "--image", procfile_image, "--procfile", str(own)))
    ok(run("ps:set", app, "procfile-path", "second.Procfile"))
    ok(run("ps:rebuild", app))
    assert "echo given" in web_cmd(docker_client, app)


def test_restore_property_follows_stop_start_and_deploy(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("rst"))
    ok(run("deploy", app, "--image", procfile_image))
    assert ok(run("ps:report", app, "--restore")).stdout == "true\n"
    ok(run("ps:stop", app))
    assert ok(run("ps:report", app, "--restore")).stdout == "false\n"
    assert docker_client.containers.get(f"{app}.web.1").status == "exited"
    ok(run("ps:start", app))
    assert ok(run("ps:report", app, "--restore")).stdout == "true\n"
    ok(run("ps:stop", app))
    ok(run("ps:rebuild", app))  # any deploy brings restore back, as Dokku's core-post-deploy
    assert ok(run("ps:report", app, "--restore")).stdout == "true\n"
    report = json.loads(ok(run("ps:report", app, "--format", "json")).stdout)
    assert report["running"] == "true" and report["restore"] == "true"
