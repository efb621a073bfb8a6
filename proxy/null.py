"""The null proxy: routing is off for an app (``proxy:set APP type null``).

Dokku turns routing off with ``proxy:disable``; here it is a proxy type, so one code path
(load the app's proxy, call it) covers both cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from dockyard.proxy.base import ApplyResult, AppRoutes, Proxy


class NullProxy(Proxy):
    name: ClassVar[str] = "null"
    routes_traffic: ClassVar[bool] = False

    def build_config(self, routes: AppRoutes, force: bool = True) -> ApplyResult:
        return ApplyResult(routes.app, changed=False, active=False, message="proxy type is null: routing is off")

    def build_all(self, routes: Sequence[AppRoutes], force: bool = True) -> list[ApplyResult]:
        return [self.build_config(r, force) for r in routes]

    def clear_config(self, app: str) -> None:
        return None

    def report(self, app: str) -> dict[str, str]:
        return {"null-routing": "off"}  # Dokku report rows are <plugin>-<key>

    def status(self) -> tuple[bool, str]:
        return False, "proxy type is null: routing is off"
