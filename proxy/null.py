"""The null proxy: routing is off for an app (``proxy:set APP type null``).

Dokku turns routing off with ``proxy:disable``; here it is a proxy type, so one code path
(load the app's proxy, call it) covers both cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from dockyard.proxy.base import ApplyResult, Listeners, Proxy


class NullProxy(Proxy):
    name: ClassVar[str] = "null"
    routes_traffic: ClassVar[bool] = False

    def build_config(self, app: str, listeners: Listeners, force: bool = True) -> ApplyResult:
        return ApplyResult(app, changed=False, active=False, message="proxy type is null: routing is off")

    def build_all(self, listeners_by_app: Mapping[str, Listeners], force: bool = True) -> list[ApplyResult]:
        return [self.build_config(app, ls, force) for app, ls in listeners_by_app.items()]

    def clear_config(self, app: str) -> None:
        return None

    def report(self, app: str) -> dict[str, str]:
        return {"routing": "off"}

    def status(self) -> tuple[bool, str]:
        return False, "proxy type is null: routing is off"
