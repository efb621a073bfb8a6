"""The Scheduler contract's defaults for ps:inspect and ps:retire, as a driver without its own
(kubernetes, nomad, a third-party one) gives them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dockyard.core.cli.ps import sanitize_inspect
from dockyard.core.models import Exposure, Instance
from dockyard.schedulers.base import Rollout, Scheduler
from dockyard.testing.schedulers import SettledRollout


class Minimal(Scheduler):
    """Only the abstract methods: what the contract itself provides is under test."""

    name = "minimal"

    def rollout(self, plan: Any, hooks: Any, progress: Any = None) -> Rollout:
        return SettledRollout(plan, self)

    def stop(self, app: str) -> None: ...

    def start(self, app: str) -> None: ...

    def destroy(self, app: str) -> None: ...

    def status(self, app: str) -> list[Instance]:
        return [Instance(app, "web", 1, "abc123", f"{app}-web-1", "running", 2, "v3", {"cluster": "10.0.0.7"})]

    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Any]]:
        return {}

    def events(self) -> Iterator[Any]:
        return iter(())


def test_inspect_defaults_to_status_as_plain_data() -> None:
    data = Minimal(store=None).inspect("shop")  # type: ignore[arg-type]
    assert data == [{"app": "shop", "process_type": "web", "index": 1, "id": "abc123", "name": "shop-web-1",
                     "state": "running", "restart_count": 2, "release": "v3",
                     "addresses": {"cluster": "10.0.0.7"}}]
    assert json.loads(json.dumps(sanitize_inspect(data))) == data  # no Config.Env: nothing masked


def test_retire_defaults_to_nothing_left_behind() -> None:
    assert Minimal(store=None).retire("shop", "v3", "img:1") == []  # type: ignore[arg-type]


def test_sanitize_masks_every_value_but_dokkus_visible_prefixes() -> None:
    items = [{"Config": {"Env": ["DATABASE_URL=postgres://u:p@h/db", "PORT=5000", "DOKKU_APP_TYPE=dockerfile",
                                 "DYNO=web.1", "EMPTY=", "BARE"]}}]
    assert sanitize_inspect(items)[0]["Config"]["Env"] == [
        "DATABASE_URL=XXXXXX", "PORT=5000", "DOKKU_APP_TYPE=dockerfile", "DYNO=web.1", "EMPTY=XXXXXX", "BARE=XXXXXX"]
