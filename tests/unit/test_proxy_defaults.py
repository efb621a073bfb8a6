"""What the Proxy contract gives a driver that implements only its abstract methods."""

from __future__ import annotations

from pathlib import Path

from dockyard.core import open_propstore
from dockyard.core.errors import ProxyError
from dockyard.proxy.base import ApplyResult, AppRoutes, Proxy


class Picky(Proxy):
    """Rejects one app, as a real proxy rejects a config it cannot load."""

    name = "picky"

    def build_config(self, routes: AppRoutes, force: bool = True) -> ApplyResult:
        if routes.app == "bad":
            raise ProxyError("picky rejected the config of bad (unknown directive); the previous one stays active")
        return ApplyResult(routes.app, True, True)

    def clear_config(self, app: str) -> None: ...


def test_build_all_reports_a_rejected_app_and_builds_the_others(tmp_path: Path) -> None:
    proxy = Picky(open_propstore(f"file://{tmp_path}"))
    results = proxy.build_all([AppRoutes(app, {}, (), ()) for app in ("one", "bad", "two")])
    assert [(r.app, r.ok, r.changed) for r in results] == [("one", True, True), ("bad", False, False),
                                                          ("two", True, True)]
    assert "unknown directive" in results[1].message
