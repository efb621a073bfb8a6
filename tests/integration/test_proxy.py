"""Routing with a real nginx and real containers.

Deploys go through ``dockyard.core.deploy`` (what ``deploy`` and ``ps:rebuild`` run), and the
proxy switches on ``core-post-deploy``; everything else is the CLI a user would type.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.docker import TEST_LABEL, wait_for
from tests.fixtures.nginx import PrivateNginx, free_port, make_cert, request

pytestmark = [pytest.mark.docker, pytest.mark.nginx]

PROCFILE = (
    "web: sh -c 'hostname > /www/index.html; exec httpd -f -p $PORT -h /www'\n"
    "api: sh -c 'mkdir -p /tmp/api && echo api > /tmp/api/index.html && exec httpd -f -p 6000 -h /tmp/api'\n"
    "tcp: nc -ll -p 7000 -e cat\n"
)


@pytest.fixture(scope="module")
def routed_image(build_image: Callable[..., str]) -> str:
    return build_image("WORKDIR /app\nCOPY Procfile /app/Procfile\n", {"Procfile": PROCFILE})


@pytest.fixture
def scheduler(file_store: Any, docker_client: Any) -> Iterator[Any]:
    from dockyard.core import load_scheduler

    sched = load_scheduler("docker-local", file_store)
    yield sched
    sched.close()


@pytest.fixture
def make_app(run: Any, file_store: Any, app_names: Callable[[str], str]) -> Callable[..., str]:
    def _make(hint: str, scale: dict[str, int] | None = None, retire: str = "0") -> str:
        from dockyard.core.plan import write_scale

        app = app_names(hint)
        assert run("apps:create", app).exit_code == 0
        file_store.set("checks", app, "wait", "1")
        file_store.set("checks", app, "wait-to-retire", retire)
        file_store.set("ps", app, "stop-timeout-seconds", "1")
        if scale:
            write_scale(file_store, app, scale)
        return app

    return _make


def deploy(store: Any, scheduler: Any, app: str, image: str) -> None:
    from dockyard.core.deploy import deploy_app

    deploy_app(store, scheduler, app, image=image)


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


def web_ip(docker_client: Any, app: str, network: str | None = None) -> str:
    c = docker_client.containers.get(f"{app}.web.1")
    nets = c.attrs["NetworkSettings"]["Networks"]
    return str(nets[network or "bridge"]["IPAddress"])


def test_web_non_web_http_and_tcp_through_nginx(private_nginx: PrivateNginx, make_app: Any, run: Any,
                                               file_store: Any, scheduler: Any, routed_image: str,
                                               docker_client: Any) -> None:
    app = make_app("route", {"api": 1, "tcp": 1})
    web, api, tcp = free_port(), free_port(), free_port()
    assert run("ports:set", app, f"http:{web}:5000", f"http:{api}:6000:api", f"tcp:{tcp}:7000:tcp").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)

    hostname = docker_client.containers.get(f"{app}.web.1").attrs["Config"]["Hostname"]
    first = request(web)
    assert (first.status, first.body.strip()) == (200, hostname)
    assert request(api).body.strip() == "api"
    assert tcp_roundtrip(tcp) == b"ping over the stream module\n"
    shown = run("nginx:show-config", app)
    assert shown.exit_code == 0 and f'server "{web_ip(docker_client, app)}:5000";' in shown.stdout
    assert "proxy_pass" in private_nginx.stream_file(app).read_text()
    report = run("proxy:report", app).stdout
    assert "proxy-routing-active:" in report and "true" in report.split("proxy-routing-active:")[1].split("\n")[0]


def test_https_with_hsts_by_default(private_nginx: PrivateNginx, make_app: Any, run: Any, file_store: Any,
                                   scheduler: Any, routed_image: str, tmp_path: Path) -> None:
    app = make_app("tls")
    http_port, https_port = free_port(), free_port()
    assert run("ports:set", app, f"http:{http_port}:5000", f"https:{https_port}:5000").exit_code == 0
    assert run("domains:set", app, "tls.example.test").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)
    crt, key = make_cert(("tls.example.test",))
    (tmp_path / "server.crt").write_text(crt)
    (tmp_path / "server.key").write_text(key)
    assert run("certs:add", app, str(tmp_path / "server.crt"), str(tmp_path / "server.key")).exit_code == 0

    secure = request(https_port, host="tls.example.test", tls=True)
    assert secure.status == 200
    assert secure.headers["strict-transport-security"] == "max-age=15724800; includeSubdomains"
    assert "strict-transport-security" not in request(http_port, host="tls.example.test").headers

    assert run("nginx:set", app, "hsts", "false").exit_code == 0  # rebuilds the deployed app
    after = request(https_port, host="tls.example.test", tls=True)
    assert after.status == 200 and "strict-transport-security" not in after.headers


def test_broken_template_keeps_the_old_config_serving(private_nginx: PrivateNginx, make_app: Any, run: Any,
                                                     file_store: Any, scheduler: Any, routed_image: str,
                                                     tmp_path: Path, docker_client: Any) -> None:
    app = make_app("tpl")
    port = free_port()
    assert run("ports:set", app, f"http:{port}:5000").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)
    before = private_nginx.http_file(app).read_text()
    assert request(port).status == 200

    template = tmp_path / "broken.conf.j2"
    template.write_text("server {\n  listen {{ entries[0].host_port }};\n  proxy_buffering maybe;\n}\n")
    # issue 10: the rejected setting is not kept (it used to stay and break the next deploy)
    result = run("nginx:set", app, "template-path", str(template))
    assert result.exit_code == 1 and 'invalid value "maybe"' in result.stderr
    assert not file_store.get("nginx", app, "template-path")
    assert run("proxy:build-config", app).exit_code == 0
    # a bad template stored behind the command's back (props:set) is still refused at build
    assert run("props:set", "nginx", app, "template-path", str(template)).exit_code == 0
    result = run("proxy:build-config", app)
    assert result.exit_code == 1
    assert 'invalid value "maybe"' in result.stderr  # nginx's own words
    assert private_nginx.http_file(app).read_text() == before
    assert request(port).status == 200
    assert run("nginx:validate-config").exit_code == 0

    # a redeploy whose proxy switch is rejected must not retire what nginx still routes to
    old_ip = web_ip(docker_client, app)
    result = run("ps:rebuild", app)
    assert result.exit_code == 1
    assert "switching traffic to it failed" in result.stderr and 'invalid value "maybe"' in result.stderr
    assert private_nginx.http_file(app).read_text() == before
    assert request(port).status == 200
    serving = [c for c in docker_client.containers.list(filters={"label": f"com.dockyard.app={app}"})
               if c.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == old_ip]
    assert serving and serving[0].status == "running"
    # once the template is fixed, the next deploy switches and retires the leftovers
    assert run("nginx:set", app, "template-path").exit_code == 0
    assert run("ps:rebuild", app).exit_code == 0
    assert request(port).status == 200
    assert [c.name for c in docker_client.containers.list(filters={"label": f"com.dockyard.app={app}"})] == [
        f"{app}.web.1"]


def test_ip_change_is_repaired_by_the_event_listener(private_nginx: PrivateNginx, make_app: Any, run: Any,
                                                     file_store: Any, scheduler: Any, routed_image: str,
                                                     docker_client: Any, docker_network: Any,
                                                     base_image: str) -> None:
    from dockyard.core import load_scheduler
    from dockyard.core.events import EventListener

    net = docker_network("ipchange")
    app = make_app("ipc")
    file_store.set("network", app, "initial-network", net)
    port = free_port()
    assert run("ports:set", app, f"http:{port}:5000").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)
    old_ip = web_ip(docker_client, app, net)
    assert request(port).status == 200

    listen_sched = load_scheduler("docker-local", file_store)
    listener = EventListener(file_store, lambda: listen_sched, debounce=0.02)
    listener.start(max_seconds=60)
    squatter = None
    try:
        assert listener.ready.wait(10)
        container = docker_client.containers.get(f"{app}.web.1")
        container.stop(timeout=1)
        squatter = docker_client.containers.run(base_image, ["sleep", "60"], detach=True, network=net,
                                                labels={TEST_LABEL: "1"})
        squatter.reload()
        assert squatter.attrs["NetworkSettings"]["Networks"][net]["IPAddress"] == old_ip
        container.start()
        new_ip = web_ip(docker_client, app, net)
        assert new_ip != old_ip

        def served() -> bool:
            try:
                return request(port, timeout=1).status == 200
            except OSError:
                return False

        assert wait_for(served, timeout=15, interval=0.05)
        assert f'server "{new_ip}:5000";' in private_nginx.http_file(app).read_text()
        assert listener.stats.rewrites >= 1 and not listener.stats.errors
    finally:
        listener.stop()
        listen_sched.close()
        if squatter is not None:
            squatter.remove(force=True)


def test_redeploy_under_load_loses_no_request(private_nginx: PrivateNginx, make_app: Any, run: Any,
                                             file_store: Any, scheduler: Any, routed_image: str) -> None:
    from dockyard.core.deploy import rebuild_app

    app = make_app("load", retire="1")
    port = free_port()
    assert run("ports:set", app, f"http:{port}:5000").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)
    before = request(port).body

    statuses: list[int | str] = []
    lock = threading.Lock()
    done = threading.Event()

    def client() -> None:
        deadline = time.monotonic() + 120  # bounded even if the rebuild hangs
        while not done.is_set() and time.monotonic() < deadline:
            try:
                status: int | str = request(port, timeout=5).status
            except OSError as exc:
                status = repr(exc)
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client) for _ in range(20)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        rebuild_app(file_store, scheduler, app)
        time.sleep(0.3)
    finally:
        done.set()
        for t in threads:
            t.join(30)
    failures = [s for s in statuses if s != 200]
    assert len(statuses) > 100 and not failures, (len(statuses), failures[:5])
    assert request(port).body != before  # a new container (new hostname) serves now


def test_events_listen_command_stops_on_its_bound(run: Any, docker_client: Any) -> None:
    started = time.monotonic()
    result = run("events:listen", "--max-seconds", "1")
    assert result.exit_code == 0, result.stderr
    assert "listening for events" in result.stderr and "stopped after" in result.stderr
    assert time.monotonic() - started < 10
