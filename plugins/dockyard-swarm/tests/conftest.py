"""Fixtures for the swarm plugin's tests: a swarm manager, an offline busybox image, overlay
networks, a file store. Self-contained, as a third party's tests would be: nothing from
Dockyard's own test tree is imported.

Everything made here carries ``com.dockyard.swarm-test=SESSION`` (images, networks) or is a
service of an app this session created, and is removed at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clihelp import Result

from dockyard.testing.images import import_base_image

TEST_LABEL = "com.dockyard.swarm-test"
SESSION = uuid.uuid4().hex[:8]


def _unavailable(why: str) -> None:
    """In CI a missing swarm is a failure, elsewhere a skip."""
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="session")
def swarm_client() -> Iterator[Any]:
    try:
        import docker

        client = docker.from_env(timeout=120)
        swarm = client.info().get("Swarm") or {}
    except Exception as exc:
        _unavailable(f"a running dockerd is needed ({exc})")
    if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
        _unavailable("the engine must be a swarm manager: docker swarm init --advertise-addr 127.0.0.1")
    yield client
    _sweep(client)
    client.close()


def _sweep(client: Any) -> None:
    """Whatever a failed test left: this session's apps' services and one-offs, then networks
    and images (networks only once no task uses them)."""
    for svc in client.api.services(filters={"label": [f"{TEST_LABEL}-session={SESSION}"]}):
        _quiet(client.api.remove_service, svc["ID"])
    for c in client.api.containers(all=True, filters={"label": [f"{TEST_LABEL}-session={SESSION}"]}):
        _quiet(client.api.remove_container, c["Id"], force=True)
    for net in client.api.networks(filters={"label": [f"{TEST_LABEL}={SESSION}"]}):
        remove_network(client, net["Name"])
    for img in client.images.list(filters={"label": f"{TEST_LABEL}={SESSION}"}):
        for tag in img.tags:
            _quiet(client.images.remove, tag, force=True)


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except Exception:
        pass


def remove_network(client: Any, name: str, timeout: float = 30.0) -> None:
    """Remove a network once the tasks of removed services have let go of it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.api.remove_network(name)
            return
        except Exception as exc:
            if "not found" in str(exc).lower() or "404" in str(exc) or time.monotonic() > deadline:
                return
            time.sleep(0.5)


@pytest.fixture(scope="session")
def swarm_image(swarm_client: Any) -> str:
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).exists():
        _unavailable("busybox-static is needed for the test image")
    repo, tag = "dockyard-swarm-test/busybox", SESSION
    return import_base_image(swarm_client, repo, tag, f"{TEST_LABEL}={SESSION}", busybox=busybox,
                             page="hello from swarm\n")


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[Any]:
    from dockyard.core import open_propstore

    store = open_propstore(f"file://{tmp_path / 'store'}")
    yield store
    store.close()


@pytest.fixture
def overlay_network(swarm_client: Any) -> Iterator[Callable[[str], str]]:
    """A factory of attachable overlay networks, removed afterwards."""
    made: list[str] = []

    def _make(hint: str = "net") -> str:
        name = f"dyswarm-{hint}-{uuid.uuid4().hex[:6]}"
        swarm_client.api.create_network(name, driver="overlay", attachable=True,
                                        labels={TEST_LABEL: SESSION, "com.dockyard.network-name": name})
        made.append(name)
        return name

    yield _make
    for name in made:
        # the app's services go first (their tasks hold the network); the app's own
        # teardown, which would remove them too, runs after this fixture's
        net_id = swarm_client.api.inspect_network(name)["Id"]
        for svc in swarm_client.api.services(filters={"label": [f"{TEST_LABEL}-session={SESSION}"]}):
            targets = {n.get("Target") for n in svc["Spec"].get("TaskTemplate", {}).get("Networks") or []}
            if targets & {name, net_id}:
                _quiet(swarm_client.api.remove_service, svc["ID"])
        remove_network(swarm_client, name)


@pytest.fixture
def session_labelled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every service and one-off this test makes also carries the session's label, so the
    session sweep finds what a failed test left behind."""
    from dockyard_swarm import labels

    for fn in ("service_labels", "run_labels"):
        real = getattr(labels, fn)

        def wrapped(*args: Any, _real: Callable[..., dict[str, str]] = real) -> dict[str, str]:
            return {**_real(*args), f"{TEST_LABEL}-session": SESSION}

        monkeypatch.setattr(labels, fn, wrapped)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Dockyard of its own: DOCKYARD_ROOT (a file store) under the test's tmp dir."""
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setenv("DOCKYARD_ROOT", str(root))
    monkeypatch.delenv("DOCKYARD_PROPSTORE", raising=False)
    monkeypatch.delenv("DOCKYARD_SCHEDULER", raising=False)
    cfg = tmp_path / "empty.toml"
    cfg.write_text("")
    monkeypatch.setenv("DOCKYARD_CONFIG", str(cfg))
    return root


@pytest.fixture
def run(root: Path, capfd: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``run("ports:set", ...)``: the real CLI in-process, as from a shell."""
    from dockyard.core.cli import main

    def _run(*args: str) -> Result:
        capfd.readouterr()
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capfd.readouterr()
        return Result(code, out, err)

    return _run


@pytest.fixture
def store(root: Path) -> Iterator[Any]:
    from dockyard.core import open_propstore

    s = open_propstore(f"file://{root}")
    yield s
    s.close()


@pytest.fixture
def swarm(store: Any, swarm_client: Any, session_labelled: None) -> Iterator[Any]:
    from dockyard.core import load_scheduler

    sched = load_scheduler("swarm", store)
    made: list[str] = []
    sched.made = made  # type: ignore[attr-defined]
    yield sched
    for app in made:
        sched.destroy(app)
    sched.close()


