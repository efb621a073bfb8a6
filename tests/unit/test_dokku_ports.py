"""Dokku's ports:list and ports:report rows (tests/unit/ports.bats, "ports subcommands"),
through the real CLI on the file store."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.fixtures.cli import ok

Run = Callable[..., Any]


def test_ports_list_prints_dokkus_table(run: Run) -> None:
    ok(run("apps:create", "web"))
    none = run("ports:list", "web")
    assert none.exit_code == 1 and "No port mappings configured for app" in none.stderr
    ok(run("ports:set", "web", "http:8080:5000", "http:80:5000", "https:443:5000"))
    assert ok(run("ports:list", "web")).stdout == (
        "-----> Port mappings for web\n"
        "    -----> scheme  host port  container port\n"
        "    http           8080       5000\n"  # Dokku sorts the joined lines: 8080 before 80:
        "    http           80         5000\n"
        "    https          443        5000\n")
    # Dokku's bats reads `--quiet ports:list APP | xargs`
    assert " ".join(ok(run("--quiet", "ports:list", "web")).stdout.split()) == (
        "http 8080 5000 http 80 5000 https 443 5000")
    assert json.loads(ok(run("ports:list", "web", "--format", "json")).stdout)[0] == {
        "container_port": 5000, "host_port": 8080, "scheme": "http"}
    assert run("ports:list", "nosuch").exit_code == 20  # Dokku's exit code for a missing app


def test_ports_report_has_dokkus_stored_and_detected_rows(run: Run) -> None:
    ok(run("apps:create", "web"))
    ok(run("ports:set", "web", "http:1234:5001"))
    assert ok(run("--quiet", "ports:report", "web", "--ports-map")).stdout == "http:1234:5001\n"
    as_json = json.loads(ok(run("ports:report", "web", "--ports-map-json")).stdout)
    assert as_json == [{"container_port": 5001, "host_port": 1234, "scheme": "http"}]
    ok(run("ports:add", "web", "http:8080:5002", "https:8443:5003"))
    assert ok(run("ports:report", "web", "--ports-map")).stdout == (
        "http:1234:5001 http:8080:5002 https:8443:5003\n")
    ok(run("ports:clear", "web"))
    assert ok(run("ports:report", "web", "--ports-map")).stdout == "\n"  # Dokku: nothing stored
    assert json.loads(ok(run("ports:report", "web", "--ports-map-json")).stdout) == []
    assert ok(run("ports:report", "web", "--ports-map-detected")).stdout == "http:80:5000\n"
    detected = json.loads(ok(run("ports:report", "web", "--ports-map-detected-json")).stdout)
    assert detected == [{"container_port": 5000, "host_port": 80, "scheme": "http"}]
    ok(run("config:set", "--no-restart", "web", "PORT=8000"))
    assert ok(run("ports:report", "web", "--ports-map-detected")).stdout == "http:80:8000\n"
    doc = json.loads(ok(run("ports:report", "web", "--format", "json")).stdout)
    assert doc["ports-map-detected"] == doc["map-detected"] == "http:80:8000"
