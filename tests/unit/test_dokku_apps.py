"""Dokku's apps:lock / unlock / locked, app-locked in apps:report and apps:list with no apps,
through the real CLI on the file store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fixtures.cli import ok as _ok

Run = Callable[..., Any]



def test_lock_unlock_locked_and_report(run: Run) -> None:
    _ok(run("apps:create", "web"))
    gone = run("apps:locked", "web")
    assert gone.exit_code == 1 and "Deploy lock does not exist" in gone.stderr
    assert _ok(run("apps:report", "web", "--app-locked")).stdout == "false\n"
    assert _ok(run("apps:lock", "web")).stdout == "-----> Deploy lock created\n"
    assert _ok(run("apps:locked", "web")).stdout == "Deploy lock exists\n"
    assert _ok(run("apps:report", "web", "--app-locked")).stdout == "true\n"
    refused = run("deploy", "web", "--image", "busybox:latest")
    assert refused.exit_code == 1 and "Deploy lock exists for web" in refused.stderr
    unlocked = _ok(run("apps:unlock", "web"))
    assert unlocked.stdout == "-----> Deploy lock removed.\n"
    assert "A deploy may be in progress." in unlocked.stderr
    again = _ok(run("apps:unlock", "web"))
    assert "Deploy lock does not exist" in again.stderr
    assert run("apps:lock", "no-such-app").exit_code == 20  # Dokku's exit code for a missing app


def test_list_with_no_apps_says_so_as_dokku(run: Run) -> None:
    empty = _ok(run("apps:list"))
    assert empty.stdout == "=====> My Apps\n"
    assert "You haven't deployed any applications yet" in empty.stderr
    _ok(run("apps:create", "web"))
    assert _ok(run("apps:list")).stdout == "=====> My Apps\nweb\n"
    assert _ok(run("--quiet", "apps:list")).stdout == "web\n"


def test_dokku_app_names_are_accepted(run: Run) -> None:
    for name in ("1994testapp", "test.dokku.test"):
        _ok(run("apps:create", name))
        _ok(run("config:set", "--no-restart", name, "A=1"))
        assert _ok(run("apps:report", name, "--app-locked")).stdout == "false\n"
    assert _ok(run("apps:list")).stdout == "=====> My Apps\n1994testapp\ntest.dokku.test\n"


def test_apps_set_deploy_source_and_its_report_flags(run: Run) -> None:
    _ok(run("apps:create", "src"))
    assert _ok(run("apps:set", "src", "deploy-source", "git")).stdout == "=====> Setting deploy-source to git\n"
    _ok(run("apps:set", "src", "deploy-source-metadata", "https://example.com/repo#abc123"))
    assert _ok(run("apps:report", "src", "--app-deploy-source")).stdout == "git\n"
    assert _ok(run("apps:report", "src", "--app-deploy-source-metadata")).stdout == "https://example.com/repo#abc123\n"
    _ok(run("apps:set", "--global", "deploy-source", "docker-image"))
    bad = run("apps:set", "src", "bogus", "x")
    assert bad.exit_code == 1 and "invalid apps property 'bogus'" in bad.stderr
    _ok(run("apps:set", "src", "deploy-source"))  # no value unsets, as Dokku
    assert _ok(run("apps:report", "src", "--app-deploy-source")).stdout == "\n"
    assert run("apps:set", "nosuch", "deploy-source", "git").exit_code == 20  # Dokku's exit code for a missing app


def test_ps_scale_of_a_new_app_shows_the_implied_web_1(run: Run) -> None:
    _ok(run("apps:create", "fresh"))
    assert _ok(run("ps:scale", "fresh")).stdout == (
        "-----> Scaling for fresh\nproctype: qty\n--------: ---\nweb:  1\n")  # Dokku's layout
    import json

    assert json.loads(_ok(run("ps:scale", "fresh", "--format", "json")).stdout) == [
        {"process_type": "web", "quantity": 1},
    ]
    _ok(run("ps:scale", "--skip-deploy", "fresh", "worker=2"))
    assert json.loads(_ok(run("ps:scale", "fresh", "--format", "json")).stdout) == [
        {"process_type": "web", "quantity": 1},
        {"process_type": "worker", "quantity": 2},
    ]
