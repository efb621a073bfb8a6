"""SIGTERM or Ctrl-C during a real `dockyard deploy` on a real dockerd (issue 8, item 10).

The new release's containers are removed, the command exits 128+signal, and the old
release keeps serving with its stored record untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.cli import Result, ok
from tests.fixtures.docker import http_get, wait_for

pytestmark = pytest.mark.docker

Run = Callable[..., Result]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from dockyard.core.cli import main; main()", *args]


def _by_labels(client: Any, app: str) -> dict[str, Any]:
    """Every container of ``app`` (running or not), found by Dockyard's and Dokku's labels.

    The SDK lists, then inspects each container: one the rollout removes in between (a
    renamed or retired one) is a 404, so the listing is simply taken again."""
    import docker

    for _attempt in range(20):
        found: dict[str, Any] = {}
        try:
            for label in (f"com.dockyard.app={app}", f"com.dokku.app-name={app}"):
                for c in client.containers.list(all=True, filters={"label": label}):
                    found[c.name] = c
            return found
        except docker.errors.NotFound:
            continue
    raise AssertionError(f"the containers of {app} kept changing while they were listed")


@pytest.mark.parametrize(("sig", "code", "command"), [
    (signal.SIGTERM, 143, "deploy"), (signal.SIGINT, 130, "deploy"),
    (signal.SIGTERM, 143, "ps:rebuild"), (signal.SIGTERM, 143, "ps:restart"),
    (signal.SIGTERM, 143, "ps:scale"), (signal.SIGINT, 130, "config:set")])
def test_signal_during_deploy_removes_the_new_containers_and_keeps_the_old_release(
        run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str], file_store: Any,
        sig: signal.Signals, code: int, command: str) -> None:
    app = app_names("sig")
    ok(run("apps:create", app))
    ok(run("checks:set", app, "wait", "0"))
    ok(run("checks:set", app, "wait-to-retire", "0"))
    ok(run("props:set", "proxy", app, "type", "null"))
    ok(run("deploy", app, "--image", web_image))
    before = _by_labels(docker_client, app)
    assert sorted(before) == [f"{app}.web.1"]
    old = before[f"{app}.web.1"]
    release = file_store.get_all("release", app)
    assert release.get("current")

    ok(run("checks:set", app, "wait", "8"))  # the new container waits 8 s for its checks
    argv = {"deploy": ("deploy", app, "--image", web_image), "ps:scale": ("ps:scale", app, "web=2"),
            "config:set": ("config:set", app, "GREETING=hi")}.get(command, (command, app))
    proc = subprocess.Popen(_cli(*argv), env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        upcoming = wait_for(lambda: [c for name, c in _by_labels(docker_client, app).items()
                                     if ".upcoming-" in name and c.status == "running"], timeout=30)
        assert upcoming, "the new release's container never started"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert f"interrupted by {sig.name}" in err

    after = _by_labels(docker_client, app)
    assert sorted(after) == [f"{app}.web.1"], f"left behind: {sorted(after)}"
    kept = after[f"{app}.web.1"]
    kept.reload()
    assert kept.id == old.id and kept.status == "running"
    assert kept.labels["com.dockyard.release"] == release["current"]
    ip = kept.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert http_get(f"http://{ip}:5000/") == (200, "hello from dockyard\n")
    assert file_store.get_all("release", app) == release
    # the deploy lock was let go: the next deploy runs at once and succeeds
    ok(run("checks:set", app, "wait", "0"))
    ok(run("deploy", app, "--image", web_image))
    assert sorted(_by_labels(docker_client, app)) == [f"{app}.web.1"]
