"""``dockyard report [APP]``: every plugin's report, as Dokku's core ``report`` prints it."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.fixtures.cli import Result, ok

Run = Callable[..., Result]


def test_report_shows_every_plugin_section_for_an_app(run: Run) -> None:
    ok(run("apps:create", "shop"))
    ok(run("ports:set", "shop", "http:80:5000"))
    out = ok(run("report", "shop")).stdout
    for section in ("app", "ports", "domains", "ps", "proxy", "network", "checks", "scheduler"):
        assert f"=====> shop {section} information" in out, section
    assert "ports-map:" in out and "http:80:5000" in out
    doc = json.loads(ok(run("report", "shop", "--format", "json")).stdout)
    assert {"apps", "ports", "domains", "ps", "proxy", "nginx", "certs"} <= set(doc)
    assert doc["ports"]["ports-map"] == "http:80:5000" and doc["ports"]["map"] == "http:80:5000"


def test_report_without_an_app_covers_every_app(run: Run) -> None:
    ok(run("apps:create", "one"))
    ok(run("apps:create", "two"))
    out = ok(run("report")).stdout
    assert "=====> one app information" in out and "=====> two app information" in out


def test_report_of_a_missing_app_is_one_error(run: Run) -> None:
    result = run("report", "nosuch")
    assert result.exit_code == 20 and "nosuch" in result.stderr and "Traceback" not in result.stderr
