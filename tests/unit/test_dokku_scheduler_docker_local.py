"""scheduler-docker-local:set / :report, and scheduler:set --global, through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.fixtures.cli import ok as _ok

Run = Callable[..., Any]



def test_set_and_report(run: Run) -> None:
    _ok(run("apps:create", "web"))
    P = "scheduler-docker-local"
    assert _ok(run(f"{P}:report", "web", f"--{P}-computed-init-process")).stdout == "true\n"
    _ok(run(f"{P}:set", "web", "init-process", "false"))
    _ok(run(f"{P}:set", "--global", "parallel-schedule-count", "2"))
    report = json.loads(_ok(run(f"{P}:report", "web", "--format", "json")).stdout)
    assert report[f"{P}-init-process"] == report["init-process"] == "false"
    assert report[f"{P}-computed-parallel-schedule-count"] == "2"
    assert _ok(run(f"{P}:report", "--global", f"--{P}-global-parallel-schedule-count")).stdout == "2\n"
    assert run(f"{P}:set", "web", "init-process", "maybe").exit_code == 1
    assert run(f"{P}:set", "web", "parallel-schedule-count", "0").exit_code == 1
    assert run(f"{P}:set", "web", "bogus", "1").exit_code == 1
    assert "=====> Unsetting init-process" in _ok(run(f"{P}:set", "web", "init-process")).stdout


def test_scheduler_set_global(run: Run) -> None:
    _ok(run("apps:create", "web"))
    _ok(run("scheduler:set", "--global", "selected", "docker-local"))
    assert _ok(run("scheduler:report", "--global", "--scheduler-global-selected")).stdout == "docker-local\n"
