"""url, urls and version as a Dokku user's scripts read them."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import version

from tests.fixtures.cli import Result, ok

Run = Callable[..., Result]



def test_urls_follow_the_domains_and_the_port_map(run: Run) -> None:
    ok(run("apps:create", "shop"))
    ok(run("domains:set", "shop", "shop.example.com", "www.example.com"))
    ok(run("ports:set", "shop", "http:80:5000", "http:8080:5000", "tcp:7000:7000:worker"))
    assert ok(run("urls", "shop")).stdout.splitlines() == [
        "http://shop.example.com", "http://shop.example.com:8080",
        "http://www.example.com", "http://www.example.com:8080"]
    assert ok(run("url", "shop")).stdout == "http://shop.example.com\n"
    assert json.loads(ok(run("urls", "shop", "--format", "json")).stdout)[0] == "http://shop.example.com"
    ok(run("ports:set", "shop", "https:443:5000", "http:80:5000"))
    assert ok(run("url", "shop")).stdout == "https://shop.example.com\n"
    ok(run("ports:set", "shop", "tcp:7000:7000:worker"))
    none = run("url", "shop")
    assert none.exit_code == 1 and "no http or https port mapping" in none.stderr
    assert run("urls", "nope").exit_code == 20


def test_version(run: Run) -> None:
    assert ok(run("version")).stdout == f"dockyard version {version('dockyard')}\n"


def test_plugin_help_has_dokkus_shape_for_every_topic(run: Run) -> None:
    from dockyard.core.cli import TOPIC_HELP

    for topic, description in TOPIC_HELP.items():
        out = ok(run(f"{topic}:help")).stdout.splitlines()
        assert out[:5] == [f"Usage: dockyard {topic}[:COMMAND]", "", description, "", "Additional commands:"]
        assert out[5:] and all(line.split()[0].startswith(f"{topic}:") for line in out[5:]), topic
    checks = ok(run("checks:help")).stdout
    assert "checks:disable" in checks and "Disable zero-downtime" in checks
    assert run("nosuch:help").exit_code == 1  # not a command, as in Dokku


def test_driver_commands_show_their_own_help(run: Run) -> None:
    """nginx:* and k8s:manifests come from their drivers' entry points; the listings show
    each command's help and the plugin's description, never a module path."""
    out = ok(run("nginx:help")).stdout.splitlines()
    assert out[:5] == ["Usage: dockyard nginx[:COMMAND]", "", "Manage the nginx proxy", "", "Additional commands:"]
    rows = dict(line.split(None, 1) for line in out[5:])
    assert rows["nginx:set"] == "Set an nginx property" and rows["nginx:show-config"] == "Print an app's nginx config"
    listing = ok(run("--help")).stdout
    assert "(from dockyard" not in listing and "Print the Kubernetes objects" in listing
