"""The event listener follows settings changed by another host, on stores that can watch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.core import open_propstore
from dockyard.core.events import EventListener
from dockyard.core.models import Listener, SchedulerEvent
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

    def listeners(self, app: str) -> dict[str, list[Listener]]:
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
