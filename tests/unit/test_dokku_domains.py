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
    assert run("domains:add-global").exit_code == 2
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
    assert run("domains:clear", "no-such-app").exit_code == 1
