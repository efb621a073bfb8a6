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
        "=====> Setting procfile-path to .dokku/Procfile\n")
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
    assert one["ps-can-scale"] == one["can-scale"] == "true"  # no app.json formations in Dockyard
    ok(run("ps:set", "--global", "stop-timeout-seconds", "75"))
    glob = json.loads(ok(run("ps:report", "--global", "--format", "json")).stdout)
    for key in ("ps-global-procfile-path", "global-procfile-path", "ps-computed-procfile-path",
                "computed-procfile-path"):
        assert key in glob
    assert glob["computed-procfile-path"] == "Procfile"
    assert glob["ps-global-stop-timeout-seconds"] == glob["ps-computed-stop-timeout-seconds"] == "75"
    assert ok(run("ps:report", "--global", "--ps-computed-restart-policy")).stdout == "on-failure:10\n"
    assert "restore" not in json.dumps(glob)


def _deployed_on_a_missing_scheduler(store: Any, app: str) -> None:
    """A deployed app whose every lifecycle command fails (its scheduler is not installed)."""
    from dockyard.core.plan import record_release

    record_release(store, app, "20250101000000001", "registry.example/shop:7", {"web": ("httpd",)})
    store.set("scheduler", app, "selected", "nosuch")


def test_lifecycle_all_goes_app_by_app_and_counts_failures(run: Run, file_store: Any) -> None:
    """Dokku's ``ps:start|stop|restart|rebuild --all [--parallel N]``: each app under
    ``Running CMD against app APP``, an undeployed one warned and passed over, a failure
    warned and counted, exit 1 with ``CMD command returned N errors``."""
    for name in ("alpha", "broken", "omega"):
        ok(run("apps:create", name))
    _deployed_on_a_missing_scheduler(file_store, "broken")
    for command in ("start", "stop", "restart", "rebuild"):
        r = run(f"ps:{command}", "--all", "--parallel", "4")
        assert r.exit_code == 1, command
        assert [line for line in r.stdout.splitlines() if "Running" in line] == [
            f"-----> Running {command} against app {name}" for name in ("alpha", "broken", "omega")]
        assert f"Running {command} in serial mode" in r.stderr
        assert " !     App alpha has not been deployed" in r.stderr and "App omega has not been deployed" in r.stderr
        assert f"Error running {command} against app broken: unknown scheduler 'nosuch'" in r.stderr
        assert r.stderr.rstrip().endswith(f"error: {command} command returned 1 errors")
    file_store.delete("scheduler", "broken", "selected")
    file_store.delete("release", "broken", "current")  # not deployed any more: nothing fails
    assert "Running stop against app omega" in ok(run("ps:stop", "--all")).stdout


def test_lifecycle_commands_take_app_or_all_as_dokku(run: Run) -> None:
    ok(run("apps:create", "web"))
    # an app that has not been deployed: Dokku's warning, exit 0
    for command in ("start", "stop", "restart", "rebuild"):
        r = ok(run(f"ps:{command}", "web"))
        assert r.stderr == " !     App web has not been deployed\n", command
    assert run("ps:stop").exit_code == 2  # neither APP nor --all
    assert run("ps:stop", "web", "--all").exit_code == 2
    bad = run("ps:restart", "--all", "--parallel", "-2")
    assert bad.exit_code == 1 and "Invalid value -2 for --parallel flag" in bad.stderr
    both = run("ps:restart", "--all", "web", "worker")
    assert both.exit_code == 1 and "Unable to restart all apps when specifying a process name" in both.stderr
    one = run("ps:restart", "web", "worker")
    assert one.exit_code == 1 and "not supported" in one.stderr
    assert run("ps:start", "nosuch").exit_code == 20  # Dokku's exit code for a missing app
