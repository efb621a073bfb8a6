"""Dokku's ps properties procfile-path and restore, and their ps:report rows, through the real
CLI on the file store (Dokku's tests/unit/ps-general-1.bats, "(ps:set) procfile")."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.fixtures.cli import ok

Run = Callable[..., Any]


def test_procfile_path_raw_global_and_computed(run: Run) -> None:
    ok(run("apps:create", "web"))
    assert ok(run("ps:report", "web", "--ps-computed-procfile-path")).stdout == "Procfile\n"
    assert ok(run("ps:set", "--global", "procfile-path", ".dokku/Procfile")).stdout == (
        "-----> Setting procfile-path to .dokku/Procfile\n")
    assert ok(run("ps:report", "web", "--ps-computed-procfile-path")).stdout == ".dokku/Procfile\n"
    assert ok(run("ps:report", "web", "--ps-global-procfile-path")).stdout == ".dokku/Procfile\n"
    assert ok(run("ps:report", "web", "--ps-procfile-path")).stdout == "\n"
    ok(run("ps:set", "web", "procfile-path", "deploy/Procfile.web"))
    assert ok(run("ps:report", "web", "--ps-computed-procfile-path")).stdout == "deploy/Procfile.web\n"
    ok(run("ps:set", "web", "procfile-path"))
    ok(run("ps:set", "--global", "procfile-path"))
    assert ok(run("ps:report", "web", "--ps-computed-procfile-path")).stdout == "Procfile\n"
    assert ok(run("ps:report", "web", "--ps-global-procfile-path")).stdout == "\n"
    assert ok(run("ps:report", "web", "--ps-procfile-path")).stdout == "\n"
    bad = run("ps:set", "web", "procfile-path", "a\nb")
    assert bad.exit_code == 1 and "invalid procfile-path" in bad.stderr


def test_restore_property_defaults_to_true_and_is_per_app(run: Run) -> None:
    ok(run("apps:create", "web"))
    assert ok(run("ps:report", "web", "--restore")).stdout == "true\n"
    ok(run("ps:set", "web", "restore", "false"))
    assert ok(run("ps:report", "web", "--restore")).stdout == "false\n"
    text = ok(run("ps:report", "web")).stdout
    assert "       restore:" in text and " false\n" in text.split("restore:")[1].split("\n")[0] + "\n"
    ok(run("ps:set", "web", "restore"))
    assert ok(run("ps:report", "web", "--restore")).stdout == "true\n"
    glob = run("ps:set", "--global", "restore", "false")
    assert glob.exit_code == 1 and "Property cannot be specified globally" in glob.stderr
    assert run("ps:set", "web", "restore", "maybe").exit_code == 1
    # Dokku's flag is --restore: there is no --ps-restore
    bad = run("ps:report", "web", "--ps-restore")
    assert bad.exit_code == 1 and "Invalid flag passed" in bad.stderr and "--restore" in bad.stderr


def test_report_json_and_global_report_carry_procfile_path(run: Run) -> None:
    ok(run("apps:create", "web"))
    ok(run("ps:set", "web", "procfile-path", "Procfile2"))
    one = json.loads(ok(run("ps:report", "web", "--format", "json")).stdout)
    assert one["ps-procfile-path"] == one["procfile-path"] == "Procfile2"
    assert one["ps-computed-procfile-path"] == one["computed-procfile-path"] == "Procfile2"
    assert one["ps-global-procfile-path"] == ""
    assert one["restore"] == "true" and one["running"] == "false" and one["deployed"] == "false"
    ok(run("ps:set", "--global", "stop-timeout-seconds", "75"))
    glob = json.loads(ok(run("ps:report", "--global", "--format", "json")).stdout)
    for key in ("ps-global-procfile-path", "global-procfile-path", "ps-computed-procfile-path",
                "computed-procfile-path"):
        assert key in glob
    assert glob["computed-procfile-path"] == "Procfile"
    assert glob["ps-global-stop-timeout-seconds"] == glob["ps-computed-stop-timeout-seconds"] == "75"
    assert ok(run("ps:report", "--global", "--ps-computed-restart-policy")).stdout == "on-failure:10\n"
    assert "restore" not in json.dumps(glob)
