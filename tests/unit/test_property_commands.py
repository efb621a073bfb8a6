"""The shared PLUGIN:set / PLUGIN:report shapes (core/cli/_props.py), through the real CLI.

No app here is deployed, so nothing reaches a scheduler: only the file store is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Run = Callable[..., Any]


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


def test_set_says_what_it_did_and_a_refused_value_keeps_the_old_one(run: Run) -> None:
    _ok(run("apps:create", "alpha"))
    assert "=====> Setting restart-policy to always" in _ok(run("ps:set", "alpha", "restart-policy", "always")).stdout
    bad = run("ps:set", "alpha", "stop-timeout-seconds", "forever")
    assert bad.exit_code == 1 and "error: invalid stop-timeout-seconds 'forever'" in bad.stderr
    assert run("ps:set", "alpha", "restart-policy", "sometimes").exit_code == 1
    report = json.loads(_ok(run("ps:report", "alpha", "--format", "json")).stdout)
    assert report["ps-restart-policy"] == "always"
    assert "=====> Unsetting restart-policy" in _ok(run("ps:set", "alpha", "restart-policy")).stdout
    assert "=====> Unsetting tld" in _ok(run("network:set", "alpha", "tld")).stdout
    usage = run("checks:set", "alpha")
    assert usage.exit_code == 1 and "No property specified" in usage.stderr
    assert run("checks:set", "no-such-app", "wait", "1").exit_code == 20  # Dokku's exit code for a missing app


def test_report_over_every_app_in_text_and_json(run: Run) -> None:
    _ok(run("apps:create", "alpha"))
    _ok(run("apps:create", "beta"))
    _ok(run("checks:set", "beta", "wait", "3"))
    _ok(run("checks:set", "--global", "timeout", "7"))
    text = _ok(run("checks:report")).stdout
    assert "=====> alpha checks information" in text and "=====> beta checks information" in text
    beta_part = text.split("=====> beta checks information")[1]
    assert [ln.split() for ln in beta_part.splitlines() if "checks-computed-wait:" in ln] == [
        ["checks-computed-wait:", "3"]]
    every = json.loads(_ok(run("checks:report", "--format", "json")).stdout)
    assert sorted(every) == ["alpha", "beta"]
    assert every["alpha"]["checks-computed-wait"] == "10"
    assert every["alpha"]["checks-global-timeout"] == "7" and every["alpha"]["checks-timeout"] == ""
    assert every["beta"]["checks-wait"] == "3"
    nets = json.loads(_ok(run("network:report", "--format", "json")).stdout)
    assert nets["alpha"]["network-computed-bind-all-interfaces"] == "false"
    assert nets["alpha"]["network-web-listeners"] == ""
    sched = _ok(run("scheduler:report", "alpha")).stdout
    assert "=====> alpha scheduler information" in sched and "scheduler-computed-selected:" in sched
    assert run("ps:report", "no-such-app").exit_code == 20  # Dokku's exit code for a missing app
