"""Dokku's global domain and the domains commands around it, through the real CLI on the file store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fixtures.cli import ok as _ok

Run = Callable[..., Any]



def _vhosts(run: Run, app: str) -> str:
    return str(_ok(run("domains:report", app, "--domains-app-vhosts")).stdout.strip())


def test_an_app_created_after_add_global_keeps_app_dot_global(run: Run) -> None:
    _ok(run("apps:create", "before"))
    assert "Added dokku.me" in _ok(run("domains:add-global", "dokku.me")).stdout
    _ok(run("apps:create", "a2"))
    _ok(run("domains:add", "a2", "www.example.com"))
    assert _vhosts(run, "a2") == "a2.dokku.me www.example.com"
    assert _vhosts(run, "before") == ""  # as Dokku: only apps created after it get the default
    assert _ok(run("domains:report", "--global", "--domains-global-vhosts")).stdout == "dokku.me\n"


def test_global_set_remove_clear(run: Run) -> None:
    _ok(run("domains:set-global", "a.test", "b.test"))
    assert _ok(run("domains:report", "--global", "--domains-global-vhosts")).stdout == "a.test b.test\n"
    _ok(run("domains:remove-global", "a.test"))
    assert _ok(run("domains:report", "--global", "--domains-global-vhosts")).stdout == "b.test\n"
    _ok(run("domains:clear-global"))
    assert _ok(run("domains:report", "--global", "--domains-global-vhosts")).stdout == "\n"
    assert run("domains:add-global").exit_code == 1
    assert run("domains:add-global", "not a domain").exit_code == 1


def test_clear_reset_enable_disable(run: Run) -> None:
    _ok(run("domains:add-global", "dokku.me"))
    _ok(run("apps:create", "web"))
    _ok(run("domains:add", "web", "www.example.com"))
    _ok(run("domains:clear", "web"))
    assert _vhosts(run, "web") == ""
    _ok(run("domains:reset", "web"))
    assert _vhosts(run, "web") == "web.dokku.me"
    _ok(run("domains:disable", "web"))
    assert _ok(run("domains:report", "web", "--domains-app-enabled")).stdout == "false\n"
    assert _vhosts(run, "web") == ""  # routes none while disabled
    _ok(run("domains:clear", "web"))
    _ok(run("domains:enable", "web"))  # an app with no names gets the defaults back
    assert _ok(run("domains:report", "web", "--domains-app-enabled")).stdout == "true\n"
    assert _vhosts(run, "web") == "web.dokku.me"
    assert run("domains:clear", "no-such-app").exit_code == 20  # Dokku's exit code for a missing app


def test_add_remove_set_say_and_exit_as_dokku(run: Run) -> None:
    # domains.bats: a duplicate add and a remove of a name not there both succeed
    _ok(run("apps:create", "web"))
    assert _ok(run("domains:add", "web", "a.test", "b.test")).stdout == (
        "-----> Added a.test to web\n-----> Added b.test to web\n")
    assert _ok(run("domains:add", "web", "a.test")).stdout == "-----> Skipping: a.test already added to web\n"
    assert _vhosts(run, "web") == "a.test b.test"
    assert _ok(run("domains:remove", "web", "a.test", "nothere.test")).stdout == (
        "-----> Removed a.test from web\n-----> Removed nothere.test from web\n")
    assert _vhosts(run, "web") == "b.test"
    assert _ok(run("domains:set", "web", "c.test", "d.test")).stdout == "-----> Set c.test d.test for web\n"
    for cmd in ("domains:add", "domains:remove", "domains:set"):
        bare = run(cmd, "web")
        assert bare.exit_code == 1 and "Please specify a domain name" in bare.stderr
        assert run(cmd, "no-such-app", "x.test").exit_code == 20  # Dokku's exit code for a missing app
        assert run(cmd).exit_code == 1
    assert _vhosts(run, "web") == "c.test d.test"  # a refused command changed nothing
    assert run("domains:add", "web", "http://x.test").exit_code == 1
    assert run("domains:set-global").exit_code == 1
    assert _ok(run("--quiet", "domains:add", "web", "e.test")).stdout == ""


def test_add_and_set_enable_disabled_domains_as_dokku(run: Run) -> None:
    _ok(run("apps:create", "web"))
    assert _ok(run("domains:disable", "web")).stdout == "-----> Disabled domains for web\n"
    assert _ok(run("domains:disable", "web")).stdout == (
        "-----> Domains (VHOST) support is already disabled for app (web)\n")
    _ok(run("domains:add", "web", "a.test"))
    assert _ok(run("domains:report", "web", "--domains-app-enabled")).stdout == "true\n"
    assert _ok(run("domains:enable", "web")).stdout == (
        "-----> Domains (VHOST) support is already enabled for app (web)\n")
    _ok(run("domains:disable", "web"))
    _ok(run("domains:set", "web", "b.test"))
    assert _vhosts(run, "web") == "b.test"


def test_global_messages_and_clear_all(run: Run) -> None:
    assert _ok(run("domains:add-global", "g.test")).stdout == "-----> Added g.test\n"
    assert _ok(run("domains:add-global", "g.test")).stdout == "-----> Skipping g.test: already added\n"
    assert _ok(run("domains:clear-global")).stdout == "-----> Clearing global domains\n"
    _ok(run("apps:create", "one"))
    _ok(run("apps:create", "two"))
    _ok(run("domains:add", "one", "a.test"))
    _ok(run("domains:add", "two", "b.test"))
    assert _ok(run("domains:clear", "--all")).stdout == "-----> Cleared domains in one\n-----> Cleared domains in two\n"
    assert _vhosts(run, "one") == _vhosts(run, "two") == ""
    assert run("domains:clear").exit_code == 1
