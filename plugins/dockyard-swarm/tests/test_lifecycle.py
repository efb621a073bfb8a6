"""What the conformance suite does not cover, through the CLI: ``ps:stop``/``ps:start`` keep
the scale, ``network:create`` makes an attachable overlay, and a one-off ``run`` on the
app's network reaches the service by Dokku's ``APP.PROC`` alias (dnsrr: the tasks)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clihelp import Result, ok

pytestmark = [pytest.mark.docker]

PROCFILE = "web: sh -c 'mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p $PORT -h /tmp/www'\n"


def running(swarm: Any, app: str) -> list[Any]:
    return [i for i in swarm.status(app) if i.state == "running"]


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_stop_start_networks_and_a_one_off_on_the_apps_network(
        run: Callable[..., Result], swarm: Any, swarm_client: Any, swarm_image: str, tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    app = f"swlife-{uuid.uuid4().hex[:6]}"
    net = f"dyswarm-life-{uuid.uuid4().hex[:6]}"
    ok(run("apps:create", app))
    swarm.made.append(app)
    ok(run("scheduler:set", app, "selected", "swarm"))
    try:
        ok(run("--scheduler", "swarm", "network:create", net))
        info = swarm_client.api.inspect_network(net)
        assert (info["Driver"], info["Scope"], info["Attachable"]) == ("overlay", "swarm", True)
        assert net in ok(run("--scheduler", "swarm", "network:list")).stdout
        ok(run("network:set", app, "attach-post-create", net))
        ok(run("checks:set", app, "wait", "0"))
        ok(run("ps:scale", app, "web=2"))
        procfile = tmp_path / "Procfile"
        procfile.write_text(PROCFILE)
        ok(run("deploy", app, "--image", swarm_image, "--procfile", str(procfile)))
        before = running(swarm, app)
        assert len(before) == 2 and all(net in i.addresses for i in before)

        # a one-off on the app's network reaches web by its alias (every task, dnsrr)
        served = ok(run("run", app, "sh", "-c", f"wget -q -O- http://{app}.web:5000/ && echo ONE-OFF-OK"))
        assert "ONE-OFF-OK" in served.stdout
        assert any(i.id.startswith(served.stdout.split()[0]) for i in before), served.stdout
        assert run("run", app, "sh", "-c", "exit 5").exit_code == 5
        assert swarm_client.api.containers(all=True, filters={"label": [f"com.dockyard.app={app}",
                                                                        "com.dockyard.container-type=run"]}) == []

        ok(run("ps:stop", app))
        assert running(swarm, app) == []
        assert [i.state for i in swarm.status(app)] == ["stopped", "stopped"], "kept as stopped instances"
        ok(run("ps:start", app))
        assert wait_until(lambda: len(running(swarm, app)) == 2), swarm.status(app)
        assert {i.release for i in running(swarm, app)} == {before[0].release}, "the same release again"
    finally:
        swarm.destroy(app)
        swarm.made.remove(app)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and run("--scheduler", "swarm", "network:destroy", "--force", net).exit_code:
            time.sleep(0.5)
        capfd.readouterr()
