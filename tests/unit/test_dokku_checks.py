"""checks:enable|disable|skip|run say what Dokku's say and exit as Dokku's do (plugins/checks)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.fixtures.cli import Result, ok

Run = Callable[..., Result]


def lists(run: Run, app: str) -> tuple[str, str]:
    report = json.loads(ok(run("checks:report", app, "--format", "json")).stdout)
    return report["checks-disabled-list"], report["checks-skipped-list"]


def test_enable_disable_skip_say_dokkus_words_and_move_types_as_dokkus(run: Run) -> None:
    ok(run("apps:create", "shop"))
    # Dokku's words, its apostrophes included: "app's" for enable, and for every typed form
    steps = [
        (("checks:disable", "shop"), "Disabling zero downtime for app (shop)", ("_all_", "none")),
        (("checks:enable", "shop"), "Enabling zero downtime for app's (shop)", ("none", "none")),
        (("checks:skip", "shop"), "Skipping zero downtime for app (shop)", ("none", "_all_")),
        (("checks:disable", "shop", "web,worker"), "Disabling zero downtime for app's (shop) proctypes (web,worker)",
         ("web,worker", "_all_")),
        (("checks:skip", "shop", "worker"), "Skipping zero downtime for app's (shop) proctypes (worker)",
         ("web", "worker")),
        (("checks:enable", "shop", "web"), "Enabling zero downtime for app's (shop) proctypes (web)",
         ("none", "worker")),
        (("checks:enable", "shop"), "Enabling zero downtime for app's (shop)", ("none", "none")),
    ]
    for args, said, after in steps:
        assert ok(run(*args)).stdout == f"-----> {said}\n", args
        assert lists(run, "shop") == after, args


@pytest.mark.parametrize("cmd", ["checks:enable", "checks:disable", "checks:skip", "checks:run"])
def test_a_missing_app_fails_first_with_dokkus_line_and_exit_code(run: Run, cmd: str) -> None:
    result = run(cmd, "nope")
    assert (result.exit_code, result.stdout) == (20, "")  # nothing printed before the failure
    assert result.stderr == "error: App nope does not exist\n"


def test_run_on_an_app_never_deployed_says_so(run: Run) -> None:
    ok(run("apps:create", "shop"))
    for args in (("shop",), ("shop", "web"), ("shop", "web.1")):
        result = run("checks:run", *args)
        assert result.exit_code == 1, args
        assert result.stdout == "-----> Running pre-flight checks\n"
        assert result.stderr == "error: App shop has not been deployed: there are no containers to check\n"
