"""events:listen's daily certificate renewal, driven by a fake clock (issue 10).

The loop asks ``maybe_renew`` on every turn; with the listener's clock under the test's
control, the pass must run once shortly after start, then once per interval, never twice
at once, and a pass that raises is logged and the listener goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.core.events import RENEW_INTERVAL, EventListener, renew_schedule
from dockyard.core.letsencrypt import RenewalPass
from dockyard.core.models import SchedulerEvent

DAY = 86400.0


class Quiet:
    """A scheduler whose event stream never yields (the listener just loops)."""

    name = "quiet"

    def events(self) -> Iterator[SchedulerEvent]:
        time.sleep(0.2)
        return iter(())


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logged() -> Iterator[list[str]]:
    handler = Records()
    logger = logging.getLogger("dockyard.events")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def settle(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_renews_shortly_after_start_then_once_a_day_and_survives_a_failing_pass(
        file_store: Any, logged: list[str]) -> None:
    clock = Clock(1000.0)
    calls: list[float] = []
    outcomes: list[Any] = [RenewalPass(renewed=[("shop", "2027-03-01 00:00:00 UTC")], not_due=["blog"]),
                           RuntimeError("the ACME server is down"),
                           RenewalPass()]

    def renew() -> RenewalPass:
        calls.append(clock.now)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    listener = EventListener(file_store, Quiet, debounce=0.01, renew=renew, renew_every=DAY,
                             renew_first=60.0, clock=clock)
    listener.start(max_seconds=30)
    try:
        assert settle(lambda: listener.ready.is_set())
        time.sleep(0.5)  # many turns of the loop, but the clock has not moved
        clock.now = 1059.9
        time.sleep(0.5)
        assert calls == []
        clock.now = 1060.0  # shortly after start: the first pass
        assert settle(lambda: calls == [1060.0])
        assert settle(lambda: any("renewal pass finished" in line for line in logged))
        finished = next(line for line in logged if "renewal pass finished" in line)
        assert "renewed shop (valid until 2027-03-01 00:00:00 UTC)" in finished and "1 not due" in finished
        assert " in 0." in finished  # how long it took

        clock.now = 1060.0 + DAY - 1  # not yet a day later
        time.sleep(0.5)
        assert calls == [1060.0]
        clock.now = 1060.0 + DAY  # a day later: the second pass, which fails
        assert settle(lambda: len(calls) == 2)
        assert settle(lambda: any("renewal pass failed" in line and "the ACME server is down" in line
                                  for line in logged))
        assert listener._thread is not None and listener._thread.is_alive()  # never fatal

        clock.now = 1060.0 + 2 * DAY  # and the day after, the listener still renews
        assert settle(lambda: len(calls) == 3)
        assert calls == [1060.0, 1060.0 + DAY, 1060.0 + 2 * DAY]
    finally:
        listener.stop()
    assert listener.stats.renewal_passes == 2 and "the ACME server is down" in listener.stats.errors


def test_a_slow_pass_is_never_started_twice(file_store: Any) -> None:
    clock = Clock(0.0)
    release = threading.Event()
    running: list[int] = []

    def renew() -> RenewalPass:
        running.append(1)
        release.wait(10)
        return RenewalPass()

    listener = EventListener(file_store, Quiet, renew=renew, renew_every=10.0, renew_first=0.0, clock=clock)
    try:
        assert listener.maybe_renew()
        assert settle(lambda: running == [1])
        clock.now = 100.0  # many intervals later, while the first pass still runs
        assert not listener.maybe_renew()
        release.set()
        assert settle(lambda: listener.maybe_renew())  # once it finished, the next one starts
        assert settle(lambda: running == [1, 1])
    finally:
        release.set()
        listener._pool.shutdown(wait=True)


def test_the_interval_comes_from_the_environment() -> None:
    assert renew_schedule({}) == (RENEW_INTERVAL, 60.0)
    assert RENEW_INTERVAL == DAY
    assert renew_schedule({"DOCKYARD_RENEW_INTERVAL": "2.5"}) == (2.5, 2.5)  # first pass after one interval
    assert renew_schedule({"DOCKYARD_RENEW_INTERVAL": "3600"}) == (3600.0, 60.0)
    for bad in ("0", "-5", "soon", "inf", "nan"):
        assert renew_schedule({"DOCKYARD_RENEW_INTERVAL": bad}) == (RENEW_INTERVAL, 60.0)
