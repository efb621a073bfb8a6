"""Dokku's report shapes, shared by every PLUGIN:report (core/cli/_props.py:report_command),
and the global ``--app``/``--quiet`` flags, through the real CLI on the file store."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.fixtures.cli import ok as _ok

Run = Callable[..., Any]



def test_info_flag_prints_the_bare_value(run: Run) -> None:
    _ok(run("apps:create", "web"))
    _ok(run("ports:set", "web", "http:80:5000"))
    assert _ok(run("ports:report", "web", "--ports-map")).stdout == "http:80:5000\n"
    assert _ok(run("ps:report", "web", "--ps-computed-restart-policy")).stdout == "on-failure:10\n"
    assert _ok(run("ps:report", "web", "--ps-restart-policy")).stdout == "\n"  # raw: nothing set
    assert _ok(run("ps:report", "web", "--deployed")).stdout == "false\n"
    assert _ok(run("scheduler:report", "web", "--scheduler-computed-selected")).stdout == "docker-local\n"
    assert _ok(run("apps:report", "web", "--app-deployed-image")).stdout == "\n"


def test_unknown_info_flag_lists_the_valid_ones_and_json_refuses_a_flag(run: Run) -> None:
    _ok(run("apps:create", "web"))
    bad = run("ports:report", "web", "--ports-nope")
    assert bad.exit_code == 1 and "Invalid flag passed, valid flags: --ports-map," in bad.stderr
    both = run("ports:report", "web", "--ports-map", "--format", "json")
    assert both.exit_code == 1 and "--format flag cannot be specified" in both.stderr
    assert run("ports:report", "no-such-app", "--ports-map").exit_code == 20  # Dokku's exit code for a missing app


def test_json_carries_prefixed_and_stripped_keys(run: Run) -> None:
    _ok(run("apps:create", "web"))
    _ok(run("ps:set", "web", "restart-policy", "always"))
    one = json.loads(_ok(run("ps:report", "web", "--format", "json")).stdout)
    assert one["ps-restart-policy"] == one["restart-policy"] == "always"
    assert one["ps-computed-stop-timeout-seconds"] == one["computed-stop-timeout-seconds"] == "30"  # Dokku 0.36+
    assert one["deployed"] == "false"
    every = json.loads(_ok(run("ports:report", "--format", "json")).stdout)
    assert every["web"]["ports-map-is-default"] == every["web"]["map-is-default"] == "true"


def test_global_report_in_text_and_json(run: Run) -> None:
    _ok(run("ps:set", "--global", "stop-timeout-seconds", "30"))
    _ok(run("scheduler:set", "--global", "selected", "docker-local"))
    text = _ok(run("ps:report", "--global")).stdout
    assert text.startswith("=====> Global ps information\n")
    assert "ps-global-stop-timeout-seconds: 30" in " ".join(text.split()).replace(": ", ": ")
    glob = json.loads(_ok(run("scheduler:report", "--global", "--format", "json")).stdout)
    assert glob == {"scheduler-global-selected": "docker-local", "global-selected": "docker-local",
                    "scheduler-computed-selected": "docker-local", "computed-selected": "docker-local"}
    assert _ok(run("ps:report", "--global", "--ps-global-stop-timeout-seconds")).stdout == "30\n"


def test_domains_report_lists_each_domain_once(run: Run) -> None:
    _ok(run("apps:create", "web"))
    _ok(run("domains:add", "web", "www.example.com"))
    text = _ok(run("domains:report", "web")).stdout
    assert text.count("www.example.com") == 1
    assert _ok(run("domains:report", "web", "--domains-app-vhosts")).stdout == "www.example.com\n"
    assert "=====> Global domains information" in _ok(run("domains:report", "--global")).stdout


def test_app_flag_puts_the_app_after_the_command(run: Run) -> None:
    _ok(run("apps:create", "web"))
    _ok(run("--app", "web", "config:set", "A=b"))
    assert _ok(run("config:get", "web", "A")).stdout.strip() == "b"
    assert _ok(run("--app", "web", "--format", "json", "ports:report")).stdout.startswith("{")
    assert _ok(run("ports:report", "--app=web", "--ports-map-detected")).stdout.startswith("http:80:")


def test_quiet_drops_headers_and_info_lines(run: Run) -> None:
    _ok(run("apps:create", "web"))
    quiet = _ok(run("--quiet", "ports:report", "web"))
    assert "=====>" not in quiet.stdout and "ports-map:" in quiet.stdout
    assert _ok(run("--quiet", "ports:report", "web", "--ports-map-detected")).stdout.startswith("http:80:")
    assert "----->" not in _ok(run("ps:set", "web", "restart-policy", "always", "--quiet")).stdout


def test_ps_scale_json_gives_the_resulting_scale(run: Run) -> None:
    _ok(run("apps:create", "web"))
    assert json.loads(_ok(run("ps:scale", "web", "web=2", "worker=1", "--format", "json")).stdout) == [
        {"process_type": "web", "quantity": 2}, {"process_type": "worker", "quantity": 1}]
    assert json.loads(_ok(run("ps:scale", "web", "--format", "json")).stdout) == [
        {"process_type": "web", "quantity": 2}, {"process_type": "worker", "quantity": 1}]


def test_nginx_report_takes_dokku_info_flags_global_and_every_app(run: Run) -> None:
    """nginx:report is a driver's command (proxy/nginx/cli.py) yet behaves as core's reports."""
    _ok(run("apps:create", "web"))
    _ok(run("apps:create", "api"))
    _ok(run("nginx:set", "web", "client-max-body-size", "5m"))
    _ok(run("nginx:set", "--global", "hsts", "false"))
    assert _ok(run("nginx:report", "web", "--nginx-client-max-body-size")).stdout == "5m\n"
    assert _ok(run("nginx:report", "api", "--nginx-computed-hsts")).stdout == "false\n"
    assert _ok(run("nginx:report", "--global", "--nginx-global-hsts")).stdout == "false\n"
    bad = run("nginx:report", "web", "--nginx-nope")
    assert bad.exit_code == 1 and "Invalid flag passed, valid flags: " in bad.stderr
    every = _ok(run("nginx:report")).stdout
    assert "=====> api nginx information" in every and "=====> web nginx information" in every
    rows = json.loads(_ok(run("--format", "json", "nginx:report", "web")).stdout)
    assert rows["nginx-client-max-body-size"] == rows["client-max-body-size"] == "5m"
    assert run("nginx:report", "no-such-app").exit_code == 20  # Dokku's exit code for a missing app
