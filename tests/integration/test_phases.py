"""The attach phases, proven from Docker's own event stream.

Events are streamed from before the work starts (``docker events --since`` replays only
about 256 events, so a replay could miss some). The engine reports a ``network connect``
made on a created, not yet started container at start, just before ``start``; a connect
made on a running container comes after ``start``. So for every container:

- each post-create network's ``connect`` comes before the container's ``start``
  (deploy, run and build containers);
- each post-deploy network's ``connect`` comes after ``start`` and after the checks'
  ``wait``, i.e. it was made on a running container that had passed its checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.core.deploy import deploy_app, run_app
from dockyard.core.hooks import Hooks
from dockyard.core.properties import create_app
from tests.fixtures.docker import TEST_LABEL

pytestmark = pytest.mark.docker

WEB = ("sh", "-c", "exec httpd -f -p $PORT -h /www")


class EventLog:
    """Docker events, recorded in order by a thread from the moment it is made."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []
        self._stream = client.api.events(decode=True)
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for event in self._stream:
                self.events.append(event)
        except Exception:  # closed under us
            pass

    def stop(self) -> list[dict[str, Any]]:
        time.sleep(0.5)  # let the engine flush what already happened
        self._stream.close()
        self._thread.join(timeout=5)
        return list(self.events)

    def index(self, predicate: Callable[[dict[str, Any]], bool]) -> list[int]:
        return [i for i, e in enumerate(self.events) if predicate(e)]

    def starts(self, cid: str) -> list[int]:
        return self.index(lambda e: e.get("Type") == "container" and e.get("Action") == "start"
                          and e["Actor"]["ID"] == cid)

    def connects(self, cid: str, network: str) -> list[int]:
        return self.index(lambda e: e.get("Type") == "network" and e.get("Action") == "connect"
                          and e["Actor"]["Attributes"].get("container") == cid
                          and e["Actor"]["Attributes"].get("name") == network)


@pytest.fixture
def events(docker_client: Any) -> Iterator[EventLog]:
    log = EventLog(docker_client)
    yield log
    log.stop()


def _new_app(store: Any, app: str, **checks: str) -> str:
    create_app(store, app)
    store.set("checks", app, "wait", checks.get("wait", "0"))
    store.set("checks", app, "wait-to-retire", "0")
    store.set("proxy", app, "type", "null")
    return app


def _scheduler(store: Any) -> Any:
    from dockyard.core import load_scheduler

    return load_scheduler("docker-local", store)


def test_deploy_connects_post_create_before_start_and_post_deploy_after_checks(
        docker_client: Any, file_store: Any, base_image: str, docker_network: Callable[[str], str],
        app_names: Callable[[str], str], events: EventLog) -> None:
    created_net, deployed_net = docker_network("pc"), docker_network("pd")
    app = _new_app(file_store, app_names("phase"), wait="1")
    file_store.set("network", app, "attach-post-create", created_net)
    file_store.set("network", app, "attach-post-deploy", deployed_net)
    file_store.list_write("ps", app, "scale", ["web=2", "worker=1"])
    at_create: list[tuple[str, set[str]]] = []
    hooks = Hooks(load_entry_points=False)

    def seen_at_create(container_id: str, **_: Any) -> None:
        info = docker_client.api.inspect_container(container_id)
        at_create.append((info["State"]["Status"], set(info["NetworkSettings"]["Networks"])))

    hooks.subscribe("post-container-create", seen_at_create)
    sched = _scheduler(file_store)
    instances = deploy_app(file_store, sched, app, image=base_image, hooks=hooks,
                           processes={"web": WEB, "worker": ("sleep", "3600")})
    log_events = events.stop()
    assert len(instances) == 3
    # the hook saw created (never started) containers already on the post-create network
    assert [s for s, _ in at_create] == ["created"] * 3
    assert all(created_net in nets and deployed_net not in nets for _, nets in at_create)
    for inst in instances:
        (start,) = events.starts(inst.id)
        (pc,) = events.connects(inst.id, created_net)
        (pd,) = events.connects(inst.id, deployed_net)
        assert pc < start < pd, f"{inst.name}: connect {created_net}@{pc}, start@{start}, connect {deployed_net}@{pd}"
        waited = (log_events[pd]["timeNano"] - log_events[start]["timeNano"]) / 1e9
        assert waited >= 1.0, f"{inst.name}: post-deploy attach {waited:.2f}s after start, before the checks' wait"
    sched.destroy(app)


def test_run_container_is_on_post_create_networks_before_start(
        docker_client: Any, file_store: Any, base_image: str, docker_network: Callable[[str], str],
        app_names: Callable[[str], str], events: EventLog, capfd: pytest.CaptureFixture[str]) -> None:
    net, initial = docker_network("run"), docker_network("init")
    app = _new_app(file_store, app_names("runph"))
    sched = _scheduler(file_store)
    deploy_app(file_store, sched, app, image=base_image, processes={"web": WEB}, hooks=Hooks(load_entry_points=False))
    file_store.set("network", app, "attach-post-create", net)
    file_store.set("network", app, "initial-network", initial)
    # the one-off lists its own networks: proof from inside that it was attached at boot
    code = run_app(file_store, sched, app, ["sh", "-c", "cat /proc/net/dev | grep -c eth; echo DYNO=$DYNO"])
    out = capfd.readouterr().out
    events.stop()
    assert code == 0
    assert out.split()[0] == "2", out  # initial network + the post-create network, nothing else
    assert "DYNO=run.1" in out
    creates = events.index(lambda e: e.get("Type") == "container" and e.get("Action") == "create"
                           and e["Actor"]["Attributes"].get("name") == f"{app}.run.1")
    assert len(creates) == 1
    cid = events.events[creates[0]]["Actor"]["ID"]
    (start,) = events.starts(cid)
    (pc,) = events.connects(cid, net)
    (ic,) = events.connects(cid, initial)
    assert pc < start and ic < start
    # removed afterwards
    assert docker_client.containers.list(all=True, filters={"name": f"{app}.run."}) == []
    sched.destroy(app)


def test_build_containers_are_on_the_post_create_network_from_creation(
        docker_client: Any, file_store: Any, base_image: str, docker_network: Callable[[str], str],
        app_names: Callable[[str], str], events: EventLog, tmp_path: Path) -> None:
    """docker build takes one network: the first post-create one. Its RUN steps reach an
    app by its alias there, and every build container is connected before it starts."""
    net = docker_network("build")
    sched = _scheduler(file_store)
    svc = _new_app(file_store, app_names("svc"))
    file_store.set("network", svc, "attach-post-create", net)
    deploy_app(file_store, sched, svc, image=base_image, processes={"web": WEB}, hooks=Hooks(load_entry_points=False))
    app = _new_app(file_store, app_names("bld"))
    file_store.set("network", app, "attach-post-create", net)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image}\nLABEL {TEST_LABEL}=build\n"
        f"RUN wget -q -O /fetched http://{svc}.web:5000/index.html\n"
        "CMD [\"sleep\", \"3600\"]\n"
    )
    deploy_app(file_store, sched, app, build_dir=tmp_path, hooks=Hooks(load_entry_points=False))
    events.stop()
    image = file_store.get("apps", app, "deployed-image")
    assert image and image.startswith(f"dockyard/{app}:")
    fetched = docker_client.containers.run(image, ["cat", "/fetched"], remove=True).decode()
    assert fetched == "hello from dockyard\n"
    # the build's RUN container: connected to the network before its start
    svc_ids = {i.id for i in sched.status(svc)}
    build_ids = {events.events[i]["Actor"]["Attributes"]["container"] for i in events.index(
        lambda e: e.get("Type") == "network" and e.get("Action") == "connect"
        and e["Actor"]["Attributes"].get("name") == net)} - svc_ids
    app_ids = {i.id for i in sched.status(app)}
    build_ids -= app_ids
    assert build_ids, "the build's RUN container joined the network"
    for cid in build_ids:
        (start,) = events.starts(cid)
        assert max(events.connects(cid, net)) < start
    sched.destroy(app)
    sched.destroy(svc)
