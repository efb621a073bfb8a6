"""checks:disable/enable/skip/run as a Dokku user runs them, on the file store and a real dockerd."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.cli import Result, ok

Run = Callable[..., Result]



def lists(run: Run, app: str) -> tuple[str, str]:
    report = json.loads(ok(run("checks:report", app, "--format", "json")).stdout)
    return report["checks-disabled-list"], report["checks-skipped-list"]


def test_disable_skip_enable_move_types_between_dokkus_two_lists(run: Run) -> None:
    ok(run("apps:create", "shop"))
    assert lists(run, "shop") == ("none", "none")
    out = ok(run("checks:disable", "shop", "web,worker")).stdout
    assert out == "-----> Disabling zero downtime for app's (shop) proctypes (web,worker)\n"
    assert lists(run, "shop") == ("web,worker", "none")
    # a type is in one list at most: skipping it takes it out of the disabled list
    ok(run("checks:skip", "shop", "worker"))
    assert lists(run, "shop") == ("web", "worker")
    ok(run("checks:enable", "shop", "web"))
    assert lists(run, "shop") == ("none", "worker")
    assert ok(run("checks:disable", "shop")).stdout == "-----> Disabling zero downtime for app (shop)\n"
    assert lists(run, "shop") == ("_all_", "none")
    ok(run("checks:skip", "shop", "web"))  # as in Dokku, _all_ leaves only the list a type moves into
    assert lists(run, "shop") == ("_all_", "web")
    ok(run("checks:enable", "shop"))
    assert lists(run, "shop") == ("none", "none")
    assert ok(run("props:list", "checks", "shop")).stdout.strip() == ""  # unset, not stored empty


def test_bad_types_and_unknown_apps_are_one_line_errors(run: Run) -> None:
    ok(run("apps:create", "shop"))
    bad = run("checks:disable", "shop", "web;rm -rf")
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "invalid process type" in bad.stderr
    assert lists(run, "shop") == ("none", "none")
    missing = run("checks:skip", "nope")
    assert missing.exit_code == 20 and "App nope does not exist" in missing.stderr
    undeployed = run("checks:run", "shop")
    assert undeployed.exit_code == 1 and "has not been deployed" in undeployed.stderr


def _die_and_start(docker_client: Any, app: str, since: float) -> list[tuple[str, str]]:
    events = docker_client.events(since=int(since), until=int(time.time()) + 1, decode=True,
                                  filters={"label": f"com.dockyard.app={app}", "type": "container"})
    return [(e["Action"], e["Actor"]["Attributes"].get("name", "")) for e in events
            if e.get("Action") in ("start", "die")]


@pytest.mark.docker
def test_run_checks_and_disable_stops_old_containers_first(
        run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str]) -> None:
    app = app_names("chk")
    ok(run("apps:create", app))
    ok(run("checks:set", app, "wait", "1"))
    ok(run("checks:set", app, "wait-to-retire", "0"))
    ok(run("props:set", "proxy", app, "type", "null"))
    ok(run("deploy", app, "--image", web_image))

    passed = ok(run("checks:run", app))
    assert passed.stdout.startswith("-----> Running pre-flight checks\n")
    assert f"-----> Running checks for app ({app}.web.1)" in passed.stdout
    assert ok(run("checks:run", app, "web.1")).stdout.count("Running checks for app") == 1
    assert run("checks:run", app, "web.7").exit_code == 1
    assert "Invalid process type" in run("checks:run", app, "clock").stderr

    # an HTTP check that the running web container cannot pass fails the command
    ok(run("checks:set", app, "path", "/no-such-page"))
    ok(run("checks:set", app, "attempts", "1"))
    failed = run("checks:run", app, "web")
    assert failed.exit_code == 1 and f"checks failed for {app}.web.1" in failed.stderr

    ok(run("checks:skip", app, "web"))
    skipped = ok(run("checks:run", app))
    assert f"Zero downtime is disabled for app ({app}.web). Skipping checks" in skipped.stdout

    # zero downtime on (skip keeps it): the new web.1 starts before the old one dies
    since = time.time()
    ok(run("deploy", app, "--image", web_image))
    order = _die_and_start(docker_client, app, since)
    assert [a for a, _ in order][:2] == ["start", "die"], order

    # checks:disable: the old container stops before the new one starts, as in Dokku
    ok(run("checks:disable", app, "web"))
    since = time.time()
    ok(run("deploy", app, "--image", web_image))
    order = _die_and_start(docker_client, app, since)
    assert [a for a, _ in order][:2] == ["die", "start"], order
    assert docker_client.containers.get(f"{app}.web.1").status == "running"


def test_checks_network_and_proxy_reports_take_dokkus_info_flags_and_global(run: Run) -> None:
    ok(run("apps:create", "shop"))
    ok(run("checks:disable", "shop", "worker"))
    assert ok(run("checks:report", "shop", "--checks-disabled-list")).stdout == "worker\n"
    ok(run("checks:set", "--global", "wait-to-retire", "30"))
    assert ok(run("checks:report", "shop", "--checks-computed-wait-to-retire")).stdout == "30\n"
    glob = json.loads(ok(run("checks:report", "--global", "--format", "json")).stdout)
    assert glob["checks-global-wait-to-retire"] == "30" and glob["global-wait-to-retire"] == "30"
    ok(run("network:set", "shop", "attach-post-deploy", "backend"))
    assert ok(run("network:report", "shop", "--network-attach-post-deploy")).stdout == "backend\n"
    # proxy-type is the raw value, as in Dokku; the computed one has its own row
    assert ok(run("proxy:report", "shop", "--proxy-type")).stdout == "\n"
    assert ok(run("proxy:report", "shop", "--proxy-computed-type")).stdout == "nginx\n"
    ok(run("proxy:set", "shop", "null"))
    assert ok(run("proxy:report", "shop", "--proxy-type")).stdout == "null\n"
    bad = run("proxy:report", "shop", "--no-such-flag")
    assert bad.exit_code == 1 and "Invalid flag passed" in bad.stderr
