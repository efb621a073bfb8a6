"""Dokku's PLUGIN:set and PLUGIN:report --global for checks, network, scheduler and
scheduler-docker-local, as Dokku's tests/unit/*.bats assert them, through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.cli import ok as _ok

Run = Callable[..., Any]

SET_COMMANDS = ["checks:set", "network:set", "scheduler:set", "scheduler-docker-local:set", "ps:set"]


@pytest.mark.parametrize("cmd", SET_COMMANDS)
def test_set_without_a_property_fails_as_dokku(run: Run, cmd: str) -> None:
    _ok(run("apps:create", "web"))
    bare = run(cmd, "web")
    assert bare.exit_code == 1 and "No property specified" in bare.stderr
    assert run(cmd, "no-such-app").exit_code == 20  # Dokku's exit code for a missing app
    assert run(cmd, "--global").exit_code == 1
    assert run(cmd).exit_code == 1


def test_set_says_dokku_s_setting_and_unsetting_lines(run: Run) -> None:
    _ok(run("apps:create", "web"))
    assert _ok(run("checks:set", "web", "wait-to-retire", "30")).stdout == "=====> Setting wait-to-retire to 30\n"
    assert _ok(run("checks:set", "web", "wait-to-retire")).stdout == "=====> Unsetting wait-to-retire\n"
    assert _ok(run("--quiet", "checks:set", "web", "wait-to-retire", "30")).stdout == ""


def test_global_reports_carry_the_computed_rows(run: Run) -> None:
    # network.bats: network:report --global --format json has network-computed-*, no app rows
    _ok(run("network:set", "--global", "bind-all-interfaces", "true"))
    net = json.loads(_ok(run("network:report", "--global", "--format", "json")).stdout)
    assert net["network-computed-bind-all-interfaces"] == net["computed-bind-all-interfaces"] == "true"
    assert net["network-global-bind-all-interfaces"] == "true"
    assert "network-tld" not in net and "tld" not in net
    _ok(run("network:set", "--global", "bind-all-interfaces"))
    assert _ok(run("network:report", "--global", "--network-computed-bind-all-interfaces")).stdout == "false\n"
    # checks.bats
    assert _ok(run("checks:report", "--global", "--checks-computed-wait-to-retire")).stdout == "60\n"
    _ok(run("checks:set", "--global", "wait-to-retire", "90"))
    checks = json.loads(_ok(run("checks:report", "--global", "--format", "json")).stdout)
    assert checks["global-wait-to-retire"] == checks["computed-wait-to-retire"] == "90"
    # scheduler-docker-local.bats
    sdl = "scheduler-docker-local"
    assert _ok(run(f"{sdl}:report", "--global", f"--{sdl}-computed-init-process")).stdout == "true\n"
    assert _ok(run(f"{sdl}:report", "--global", f"--{sdl}-global-init-process")).stdout == "\n"
    # scheduler: the computed global selection is the scheduler in use
    assert _ok(run("scheduler:report", "--global", "--scheduler-computed-selected")).stdout == "docker-local\n"


def test_proxy_set_refuses_as_dokku(run: Run) -> None:
    _ok(run("apps:create", "web"))
    mapping = run("proxy:set", "web", "http:80:5000")  # proxy.bats-era guard
    assert mapping.exit_code == 1
    assert "Detected potential port mapping instead of proxy type" in mapping.stderr
    assert "Consider using ports:set command or specifying a valid proxy" in mapping.stderr
    port = run("proxy:set", "web", "proxy-port", "5000")  # Dokku's property, not Dockyard's
    assert port.exit_code == 1 and "Invalid property specified" in port.stderr
    bare = run("proxy:set", "web")
    assert bare.exit_code == 1 and "No property specified" in bare.stderr
    assert run("proxy:set").exit_code == 1
    _ok(run("proxy:set", "web", "nginx"))
    assert _ok(run("proxy:report", "web", "--proxy-type")).stdout == "nginx\n"


def test_certs_remove_without_a_certificate_fails_as_dokku(run: Run) -> None:
    _ok(run("apps:create", "web"))
    gone = run("certs:remove", "web")
    assert gone.exit_code == 1 and "An app-specific SSL endpoint is not defined" in gone.stderr
    assert run("certs:remove", "no-such-app").exit_code == 20  # Dokku's exit code for a missing app
