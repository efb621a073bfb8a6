"""A rollout's listeners are found only when a proxy that routes traffic asks for them.

Behind the null proxy nothing routes, so a deploy must not spend calls finding where its
instances listen: on a cluster that is a Service list, an EndpointSlice list per type and a
wait for every endpoint, most of a scale's cost. With nginx (or any routing proxy) the
``core-post-deploy`` subscriber gets them, once, from the rollout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.core import open_propstore
from dockyard.core.deploy import deploy_app
from dockyard.core.hooks import Hooks
from dockyard.core.models import Exposure, Instance, Listener
from dockyard.core.properties import create_app
from dockyard.propstores.base import PropertyStore
from dockyard.schedulers.base import Rollout, Scheduler
from dockyard.testing.schedulers import SettledRollout


class Counting(Scheduler):
    """Counts how often anything asks where the app listens."""

    name = "counting"

    def __init__(self, store: PropertyStore) -> None:
        super().__init__(store)
        self.asked = 0

    def rollout(self, plan: Any, hooks: Any, progress: Any = None) -> Rollout:
        return SettledRollout(plan, self)

    def stop(self, app: str) -> None: ...

    def start(self, app: str) -> None: ...

    def destroy(self, app: str) -> None: ...

    def status(self, app: str) -> list[Instance]:
        return []

    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Listener]]:
        self.asked += 1
        return {"web": [Listener("10.0.0.9", 5000)]}

    def events(self) -> Iterator[Any]:
        return iter(())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PropertyStore]:
    s = open_propstore(f"file://{tmp_path}")
    create_app(s, "quiet")
    yield s
    s.close()


def test_a_deploy_behind_the_null_proxy_never_asks_for_listeners(store: PropertyStore) -> None:
    store.set("proxy", "quiet", "type", "null")
    sched = Counting(store)
    deploy_app(store, sched, "quiet", image="img:1", processes={"web": ("sh",)}, hooks=Hooks(load_entry_points=False))
    assert sched.asked == 0


def test_a_subscriber_that_reads_the_listeners_gets_them_from_one_lookup(store: PropertyStore) -> None:
    store.set("proxy", "quiet", "type", "null")
    seen: list[dict[str, list[Listener]]] = []
    hooks = Hooks(load_entry_points=False)
    hooks.subscribe("core-post-deploy", lambda listeners, **_: seen.extend([dict(listeners), dict(listeners)]))
    sched = Counting(store)
    deploy_app(store, sched, "quiet", image="img:1", processes={"web": ("sh",), "worker": ("sh",)}, hooks=hooks)
    assert seen == [{"web": [Listener("10.0.0.9", 5000)], "worker": []}] * 2, "every type of the release"
    assert sched.asked == 1
