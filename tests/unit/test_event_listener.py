"""The event listener's decisions, fed by a scripted event source.

The real-docker path (an IP change repaired through nginx) is in
tests/integration/test_proxy.py; here the sequences that are hard to provoke on a shared
dockerd: exhausted restart policies, the ``always`` loop of dokku-event-listener#425, and a
stream that breaks and comes back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from dockyard.core.events import EventListener, exhausted
from dockyard.core.models import Exposure, Listener, SchedulerEvent


def die(app: str, policy: str, count: int, max_retries: int) -> SchedulerEvent:
    return SchedulerEvent("die", app, "web", "c1", time.time(), policy, count, max_retries, 1)


def test_exhausted_only_for_on_failure_with_a_positive_maximum() -> None:
    assert exhausted(die("a", "on-failure", 10, 10))
    assert not exhausted(die("a", "on-failure", 9, 10))
    assert not exhausted(die("a", "always", 0, 0))  # 0 >= 0 must not count (#425)
    assert not exhausted(die("a", "unless-stopped", 5, 0))
    assert not exhausted(die("a", "no", 0, 0))


class Scripted:
    """Yields scripted batches; a batch that is an exception breaks the stream."""

    name = "scripted"

    def __init__(self, batches: list[Any]) -> None:
        self.batches = batches
        self.connects = 0
        self.listener_calls: list[str] = []

    def events(self) -> Iterator[SchedulerEvent]:
        self.connects += 1
        if not self.batches:
            time.sleep(0.2)
            return iter(())
        batch = self.batches.pop(0)
        if isinstance(batch, Exception):
            raise batch
        return iter(batch)

    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Listener]]:
        self.listener_calls.append(app)
        return {"web": [Listener("10.0.0.2", 5000)]}


def test_redeploys_once_when_exhausted_never_for_always_and_resyncs_after_reconnect(run: Any,
                                                                                   file_store: Any) -> None:
    for app in ("loop", "dead", "idle"):
        assert run("apps:create", app).exit_code == 0
        file_store.set("release", app, "current", "1")
    assert run("proxy:set", "--global", "type", "null").exit_code == 0
    source = Scripted([
        [die("loop", "always", 0, 0) for _ in range(5)] + [die("dead", "on-failure", 10, 10)] * 3,
        ConnectionError("dockerd went away"),
        [SchedulerEvent("start", "dead", "web", "c2", time.time())],
    ])
    redeployed: list[str] = []
    listener = EventListener(file_store, lambda: source, debounce=0.01, redeploy=redeployed.append,
                             backoff=(0.05, 0.2))
    listener.run(max_events=9, max_seconds=10)
    assert redeployed == ["dead"]  # once (cooldown), and never the always-restarting app
    assert listener.stats.reconnects >= 1 and source.connects >= 2
    # every deployed app was resynchronised after the reconnect, not only the one with an event
    assert {"loop", "dead", "idle"} <= set(source.listener_calls)
    assert listener.stats.events == 9


def test_every_scheduler_an_app_selects_is_followed(run: Any, file_store: Any) -> None:
    """events:listen follows the default scheduler and every other one in use: an app on a
    second scheduler is rerouted by that scheduler's own events."""
    for app in ("here", "there"):
        assert run("apps:create", app).exit_code == 0
        file_store.set("release", app, "current", "1")
    assert run("proxy:set", "--global", "type", "null").exit_code == 0
    file_store.set("scheduler", "there", "selected", "elsewhere")  # a third-party scheduler's name
    sources = {"local": Scripted([[SchedulerEvent("start", "here", "web", "c1", time.time())]]),
               "elsewhere": Scripted([[SchedulerEvent("start", "there", "web", "c2", time.time())]])}
    asked: list[str] = []

    def named(name: str) -> Any:
        asked.append(name)
        return sources[name]

    listener = EventListener(file_store, lambda: sources["local"], scheduler_named=named,
                             default_scheduler="local", debounce=0.01, backoff=(0.05, 0.2))
    listener.run(max_events=2, max_seconds=10)
    assert listener.stats.events == 2
    assert sources["local"].connects >= 1 and sources["elsewhere"].connects >= 1
    assert asked and set(asked) == {"elsewhere"}, "the default comes from its own factory"
