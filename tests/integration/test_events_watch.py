"""The event listener follows settings changed by another host, on stores that can watch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.core import open_propstore
from dockyard.core.events import EventListener
from dockyard.core.models import Exposure, Listener, SchedulerEvent
from dockyard.core.properties import create_app


class Quiet:
    """A scheduler with no events at all: every rebuild must come from the store's watch."""

    name = "quiet"

    def __init__(self) -> None:
        self.listener_calls: list[str] = []
        self.done = threading.Event()

    def events(self) -> Iterator[SchedulerEvent]:
        """A stream that stays open and silent (no reconnect, so no resync of every app)."""
        while not self.done.wait(0.1):
            pass
        yield from ()

    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Listener]]:
        self.listener_calls.append(app)
        return {"web": [Listener("10.0.0.2", 5000)]}


@pytest.mark.parametrize("kind", ["redis", "etcd"])
def test_ports_changed_on_another_host_rebuild_that_app(kind: str, request: pytest.FixtureRequest,
                                                        tmp_path: Any) -> None:
    from tests.fixtures.stores import unique_url, wipe

    url = unique_url(kind, request, tmp_path)
    here, other_host = open_propstore(url), open_propstore(url)
    try:
        for app in ("shop", "blog"):
            create_app(here, app)
            here.set("release", app, "current", "1")
            here.set("proxy", app, "type", "null")
        scheduler = Quiet()
        listener = EventListener(here, lambda: scheduler, debounce=0.05)  # type: ignore[arg-type, return-value]
        listener.start(max_seconds=8)
        time.sleep(0.5)  # let the watch subscribe
        scheduler.listener_calls.clear()
        other_host.list_write("ports", "shop", "map", ["http:8081:5000"])
        other_host.set("config", "blog", "UNWATCHED", "x")  # app env: not a routing setting
        deadline = time.monotonic() + 5
        while "shop" not in scheduler.listener_calls and time.monotonic() < deadline:
            time.sleep(0.05)
        scheduler.done.set()
        listener.stop()
        assert "shop" in scheduler.listener_calls
        assert "blog" not in scheduler.listener_calls
    finally:
        here.close()
        other_host.close()
        wipe(url)


@pytest.mark.parametrize("kind", ["redis", "etcd"])
def test_watch_survives_a_store_restart(kind: str, tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Our own server (never the shared one) restarted under the listener: a change made while
    the watch was down is applied once it is back, and both the loss and the resume are logged."""
    import logging
    import shutil

    from dockyard.testing.propstores import free_port, run_etcd_server, run_redis_server

    binary = shutil.which("redis-server" if kind == "redis" else "etcd")
    assert binary, f"{kind} server binary missing"
    ports = (free_port(), free_port())

    def server() -> Any:
        if kind == "redis":
            return run_redis_server(binary, tmp_path, port=ports[0])
        return run_etcd_server(binary, tmp_path, ports=ports)

    caplog.set_level(logging.INFO, logger="dockyard")
    first = server()
    url = first.__enter__() + ("?prefix=w:" if kind == "redis" else "?prefix=/w/")
    here = open_propstore(url)
    for app in ("shop", "blog"):
        create_app(here, app)
        here.set("release", app, "current", "1")
        here.set("proxy", app, "type", "null")
    scheduler = Quiet()
    listener = EventListener(here, lambda: scheduler, debounce=0.05, backoff=(1.0, 2.0))  # type: ignore[arg-type, return-value]
    listener.start(max_seconds=25)
    second = None
    try:
        time.sleep(0.5)
        first.__exit__(None, None, None)
        time.sleep(0.5)
        second = server()
        second.__enter__()
        other_host = open_propstore(url)
        if kind == "redis":  # an in-memory redis comes back empty: the other host sets it up again
            for app in ("shop", "blog"):
                create_app(other_host, app)
                other_host.set("release", app, "current", "1")
                other_host.set("proxy", app, "type", "null")
        scheduler.listener_calls.clear()
        other_host.list_write("ports", "shop", "map", ["http:8081:5000"])
        other_host.close()
        deadline = time.monotonic() + 15
        while "shop" not in scheduler.listener_calls and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "shop" in scheduler.listener_calls, caplog.text
        assert "store watch lost" in caplog.text and "store watch resumed" in caplog.text, caplog.text
    finally:
        scheduler.done.set()
        listener.stop()
        here.close()
        if second is not None:
            second.__exit__(None, None, None)
