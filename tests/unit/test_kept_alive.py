"""kept_alive: the lock keepalive loop the redis and etcd stores share."""

from __future__ import annotations

import threading
import time

import pytest

from dockyard.propstores.base import kept_alive


def test_refreshes_while_held_survives_failures_and_stops_on_exit() -> None:
    calls: list[float] = []

    def refresh() -> None:
        calls.append(time.monotonic())
        if len(calls) % 2:
            raise ConnectionError("backend away")  # must not end the loop

    with kept_alive(refresh, ttl=0.06, name="t"):
        time.sleep(0.35)
        assert any(t.name == "dockyard-lock-t" for t in threading.enumerate())
    held = len(calls)
    assert held >= 4  # every ttl/3 = 20 ms over 350 ms, with plenty of slack for a busy host
    time.sleep(0.1)
    assert len(calls) == held
    assert not any(t.name == "dockyard-lock-t" for t in threading.enumerate())


def test_the_block_error_propagates_and_the_thread_ends() -> None:
    with pytest.raises(RuntimeError, match="boom"), kept_alive(lambda: None, ttl=30, name="u"):
        raise RuntimeError("boom")
    assert not any(t.name == "dockyard-lock-u" for t in threading.enumerate())
