"""A deploy whose lock lapsed stops at its next step (issue 8, observation 8).

SIGSTOPping a deploy past the lock's TTL lets a second deploy take the lock; when the first
resumes, it must not go on racing the second. Here the lapse is made directly: while the
driver is between two steps, the lock's key is taken over by another holder (what a second
deploy does once the TTL ran out), so the first's keepalive is refused. Its next reported
step raises LockLost; the driver's failure path runs and nothing is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.core import open_propstore
from dockyard.core.deploy import deploy_app
from dockyard.core.errors import LockLost
from dockyard.core.hooks import Hooks
from dockyard.core.models import Exposure, Instance
from dockyard.core.plan import current_release
from dockyard.core.properties import create_app
from dockyard.schedulers.base import Rollout, Scheduler
from dockyard.testing.schedulers import SettledRollout

pytestmark = pytest.mark.redis


class SteppingScheduler(Scheduler):
    """Reports two steps with a pause between them, as a driver creating then starting."""

    name = "stepping"
    pause = 0.0
    during_pause: Callable[[], None] = staticmethod(lambda: None)
    failed_with: list[BaseException] = []

    def rollout(self, plan: Any, hooks: Any, progress: Any = None) -> Rollout:
        try:
            progress("create web.1", 0, 1)
            self.during_pause()
            time.sleep(self.pause)
            progress("start web.1", 1, 1)
        except BaseException as exc:  # the driver's failure path: remove what it created
            self.failed_with.append(exc)
            raise
        return SettledRollout(plan, self)

    def stop(self, app: str) -> None: ...

    def start(self, app: str) -> None: ...

    def destroy(self, app: str) -> None: ...

    def status(self, app: str) -> list[Instance]:
        return []

    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Any]]:
        return {}

    def events(self) -> Iterator[Any]:
        return iter(())


def test_a_deploy_whose_lock_passed_to_another_stops_at_its_next_step(
        store_url_factory: Callable[[str], str], monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    from dockyard.propstores.redis import split_url

    monkeypatch.setenv("DOCKYARD_LOCK_TTL", "1")
    url = store_url_factory("redis")
    store = open_propstore(url)
    create_app(store, "fenced")
    store.set("proxy", "fenced", "type", "null")
    client_url, prefix = split_url(url)
    raw = redis.Redis.from_url(client_url)

    def taken_over() -> None:  # the TTL ran out and a second deploy took the lock
        raw.set(f"{prefix}lock/deploy-fenced", "someone-else", px=10_000)

    sched = SteppingScheduler(store)
    sched.failed_with = []
    sched.during_pause = taken_over  # type: ignore[method-assign]
    sched.pause = 1.2  # past the next keepalive, which the new holder's token refuses
    try:
        with pytest.raises(LockLost, match="deploy-fenced"):
            deploy_app(store, sched, "fenced", image="img:1", processes={"web": ("sh",)},
                       hooks=Hooks(load_entry_points=False))
        assert [type(e) for e in sched.failed_with] == [LockLost], "the driver's failure path ran"
        assert current_release(store, "fenced") is None, "nothing was recorded"
        assert raw.get(f"{prefix}lock/deploy-fenced") == b"someone-else", "the other holder's lock is left alone"
    finally:
        raw.delete(f"{prefix}lock/deploy-fenced")
        raw.close()
        store.close()
