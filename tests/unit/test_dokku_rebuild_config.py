"""proxy:build-config and network:rebuild / network:rebuildall as Dokku's say and exit
(plugins/proxy/subcommands.go, plugins/common/parallel.go, plugins/network/network.go)."""

from __future__ import annotations

from collections.abc import Callable

from tests.fixtures.cli import Result, ok

Run = Callable[..., Result]


def test_build_config_all_checks_parallel_and_warns_without_apps(run: Run) -> None:
    bad = run("proxy:build-config", "--all", "--parallel", "-2")
    assert bad.exit_code == 1 and bad.stderr == "error: Invalid value -2 for --parallel flag\n"
    for args in (("--all",), ("--all", "--parallel", "4"), ("--all", "--parallel", "-1")):
        none = ok(run("proxy:build-config", *args))
        assert none.stderr == " !     You haven't deployed any applications yet\n", args
        assert none.stdout == ""


def test_build_config_of_a_missing_app_is_dokkus_error(run: Run) -> None:
    missing = run("proxy:build-config", "nope")
    assert (missing.exit_code, missing.stdout, missing.stderr) == (20, "", "error: App nope does not exist\n")


def test_build_config_all_passes_over_apps_never_deployed(run: Run) -> None:
    ok(run("apps:create", "shop"))
    result = ok(run("proxy:build-config", "--all"))
    assert result.stdout == "-----> No deployed apps\n" and result.stderr == ""


def test_network_rebuild_of_an_app_never_deployed_prints_nothing_as_dokkus(run: Run) -> None:
    ok(run("apps:create", "shop"))
    assert ok(run("network:rebuild", "shop")).stdout == ""
    assert ok(run("network:rebuildall")).stdout == ""
    missing = run("network:rebuild", "nope")
    assert (missing.exit_code, missing.stderr) == (20, "error: App nope does not exist\n")


def test_network_rebuildall_without_apps_warns_as_dokkus(run: Run) -> None:
    none = ok(run("network:rebuildall"))
    assert (none.stdout, none.stderr) == ("", " !     You haven't deployed any applications yet\n")
