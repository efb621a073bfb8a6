"""Dokku's core command line: ``help`` (and a bare ``dockyard``), an unknown command, ``-v``
and bare topics (``apps`` lists the apps, ``ps`` prints ``ps:help``), through the real CLI."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from tests.fixtures.cli import ok

Run = Callable[..., Any]


def test_help_lists_topics_and_bare_dockyard_is_help(run: Run) -> None:
    out = ok(run("help")).stdout
    lines = out.splitlines()
    assert lines[0].startswith("Usage: dockyard ") and "COMMAND <app>" in lines[0]
    assert "Commands:" in lines
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in lines[lines.index("Commands:") + 2:]}
    # every plugin of Dokku's that Dockyard has, with Dokku's description, and the core commands
    assert rows["apps"] == "Manage apps" and rows["ps"] == "Manage app processes"
    assert rows["config"] == "Manage global and app-specific config vars"
    assert rows["scheduler-docker-local"] == "Manage the docker-local scheduler integration for an app"
    for core in ("cleanup", "url", "urls", "report", "version", "help"):
        assert core in rows, core
    assert not any(":" in name for name in rows)  # topics only; help --all has the commands
    assert ok(run()).stdout == out


def test_help_all_lists_every_command(run: Run) -> None:
    out = ok(run("help", "--all")).stdout
    names = [line.split()[0] for line in out.splitlines() if line.startswith("    ")]
    for name in ("apps:create", "ports:list", "ps:rebuild", "config:show", "domains:report", "url", "help"):
        assert name in names, name
    assert names == sorted(names)


def test_unknown_command_exits_1_with_dokkus_lines(run: Run) -> None:
    for argv in (("nosuch:cmd",), ("nosuch:cmd", "app"), ("ps:nosuch",), ("ps", "nosuch")):
        r = run(*argv)
        word = argv[0] if ":" in argv[0] else f"{argv[0]}:{argv[1]}"
        assert r.exit_code == 1, argv
        assert r.stderr == (f" !     `{word}` is not a dockyard command.\n"
                            " !     See `dockyard help` for a list of available commands.\n"), argv
    # a bad option of a known command stays click's usage error
    bad = run("ps:scale", "--bogus")
    assert bad.exit_code == 2 and "No such option" in bad.stderr


def test_version_flags_print_what_version_prints(run: Run) -> None:
    want = f"dockyard version {version('dockyard')}\n"
    assert ok(run("version")).stdout == want
    assert ok(run("-v")).stdout == want
    assert ok(run("--version")).stdout == want


def test_bare_topics_are_dokkus(run: Run) -> None:
    ok(run("apps:create", "shop"))
    assert ok(run("apps")).stdout == ok(run("apps:list")).stdout
    for topic in ("ps", "ports", "domains", "checks", "proxy", "network", "scheduler", "certs"):
        assert ok(run(topic)).stdout == ok(run(f"{topic}:help")).stdout, topic


def test_what_dockyard_leaves_out_fails_loudly(run: Run) -> None:
    """docs/moving-from-dokku.md, "Not in Dockyard, on purpose": each fails with exit 1 and
    one message, never a silent success."""
    ok(run("apps:create", "shop"))
    for argv in (("certs:chain", "x"), ("certs:key", "shop", "x", "y"), ("certs:rollback", "shop"),
                 ("nginx:show-conf", "shop"), ("nginx:validate",),
                 ("ps:set", "shop", "start-cmd", "x"), ("ps:set", "shop", "dockerfile-start-cmd", "x"),
                 ("ps:set", "--global", "skip-deploy", "true"), ("scheduler:set", "shop", "shell", "/bin/sh"),
                 ("network:set", "shop", "static-web-listener", "127.0.0.1:5000"),
                 ("apps:report", "shop", "--app-dir"), ("apps:report", "shop", "--app-global-disable-autocreation"),
                 ("proxy:report", "shop", "--proxy-proxy-port"),
                 ("ps:report", "shop", "--ps-start-cmd"), ("scheduler:report", "shop", "--scheduler-shell")):
        r = run(*argv)
        assert r.exit_code == 1 and r.stdout == "" and r.stderr.strip(), argv
