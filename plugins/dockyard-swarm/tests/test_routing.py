"""An app on the swarm scheduler, routed by Dockyard's nginx proxy (a private nginx on
loopback), web over HTTP and a tcp process over the stream module; a killed task is
replaced by swarm and the event listener reroutes nginx to its replacement.

Everything goes through what a user runs: the CLI (``dockyard --scheduler swarm deploy``)
and ``EventListener`` (what ``events:listen`` runs).
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clihelp import Result, ok

from dockyard.testing.ports import free_port

pytestmark = [pytest.mark.docker]

PROCFILE = (
    "web: sh -c 'mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p $PORT -h /tmp/www'\n"
    "tcp: nc -ll -p 7000 -e cat\n"
)


def get(port: int, timeout: float = 3.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace").strip()
    finally:
        conn.close()


def tcp_roundtrip(port: int, payload: bytes = b"ping over the stream module\n") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        data = b""
        while len(data) < len(payload):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except OSError:
            value = None
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def nginx(root: Path, run: Callable[..., Result]) -> Iterator[Path]:
    """A private nginx on loopback, started and stopped by ``nginx:start``/``nginx:stop``."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        if os.environ.get("CI"):
            pytest.fail("nginx is required in CI")
        pytest.skip("nginx is not installed")
    for args in (("bind-address-ipv4", "127.0.0.1"), ("bind-address-ipv6", "::1"), ("binary", binary)):
        ok(run("nginx:set", "--global", *args))
    ok(run("nginx:start"))
    pid_file = root / "nginx" / "run" / "nginx.pid"
    pid = int(pid_file.read_text().strip())
    yield root / "nginx"
    run("nginx:stop")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def web_task_container(swarm_client: Any, app: str) -> Any:
    """The container of the web service's one running task."""
    found = swarm_client.containers.list(filters={"label": [f"com.dockyard.app={app}",
                                                            "com.dockyard.process-type=web"]})
    assert len(found) == 1, [c.name for c in found]
    return found[0]


def test_web_and_tcp_through_nginx_and_a_killed_task_is_rerouted(
        nginx: Path, run: Callable[..., Result], store: Any, swarm: Any, swarm_client: Any,
        swarm_image: str, tmp_path: Path) -> None:
    from dockyard.core.events import EventListener

    app = f"swroute-{uuid.uuid4().hex[:6]}"
    ok(run("apps:create", app))
    swarm.made.append(app)
    ok(run("checks:set", app, "wait", "1"))  # the healthcheck holds each task back for 1 s
    ok(run("checks:set", app, "wait-to-retire", "0"))
    web, tcp = free_port(), free_port()
    ok(run("ports:set", app, f"http:{web}:5000", f"tcp:{tcp}:7000:tcp"))
    ok(run("ps:scale", app, "tcp=1"))
    procfile = tmp_path / "Procfile"
    procfile.write_text(PROCFILE)
    ok(run("--scheduler", "swarm", "deploy", app, "--image", swarm_image, "--procfile", str(procfile)))
    assert swarm.status(app), "the app runs on swarm"

    first = web_task_container(swarm_client, app)
    assert get(web) == (200, first.attrs["Config"]["Hostname"]), "nginx routes web to the swarm task"
    assert tcp_roundtrip(tcp) == b"ping over the stream module\n", "and tcp through the stream module"
    shown = ok(run("nginx:show-config", app)).stdout
    gateway = swarm_client.api.inspect_network("docker_gwbridge")["Containers"].get(first.id, {})
    bridge = first.attrs["NetworkSettings"]["Networks"].get("bridge", {}).get("IPAddress")
    address = (gateway.get("IPv4Address") or "").split("/")[0] or bridge
    assert f'server "{address}:5000";' in shown

    listener = EventListener(store, lambda: swarm, debounce=0.02)
    listener.start(max_seconds=90)
    try:
        assert listener.ready.wait(10)
        first.kill()  # the task dies; swarm starts a replacement task (a new container)

        def replaced() -> Any:
            found = swarm_client.containers.list(filters={"label": [f"com.dockyard.app={app}",
                                                                    "com.dockyard.process-type=web"]})
            return next((c for c in found if c.id != first.id), None)

        second = wait_for(replaced, timeout=30)
        assert second is not None, "swarm replaced the killed task"
        hostname = second.attrs["Config"]["Hostname"]
        assert wait_for(lambda: get(web, timeout=1) == (200, hostname), timeout=30), \
            "nginx was rerouted to the replacement task"
        assert tcp_roundtrip(tcp) == b"ping over the stream module\n"
        assert listener.stats.events >= 1 and listener.stats.rewrites >= 1 and not listener.stats.errors
    finally:
        listener.stop()
