"""A plugin's ``proxy-build-config`` subscriber runs when a user rebuilds an app's proxy config.

The subscriber is installed as a third-party plugin is: a distribution on ``sys.path`` whose
``entry_points.txt`` names it in the ``dockyard.hooks`` group. Nothing in the core is
patched: ``dockyard proxy:build-config APP`` runs as typed, and the plugin sees what it would
in production.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.cli import Result, ok
from tests.fixtures.nginx import PrivateNginx

pytestmark = pytest.mark.docker  # the CLI asks the app's scheduler (docker-local) for its listeners


@pytest.fixture
def built_apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """Install a plugin subscribing to ``proxy-build-config``; returns what it was called with."""
    from stevedore.extension import ExtensionManager

    from dockyard.core import plugins

    site = tmp_path / "site"
    site.mkdir()
    calls = tmp_path / "proxy-build-config.calls"
    module = f"dockyard_probe_{uuid.uuid4().hex[:8]}"
    (site / f"{module}.py").write_text(
        "def built(app=None, store=None, **kwargs):\n"
        f"    with open({str(calls)!r}, 'a') as fh:\n"
        "        fh.write(f'{app} {store is not None}\\n')\n"
    )
    dist = site / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[dockyard.hooks]\nproxy-build-config = {module}:built\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # stevedore's entry-point cache
    # entry points are read once per process, by the core and by stevedore: read them again
    monkeypatch.setattr(plugins, "_TABLE", None)
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})

    def _calls() -> list[str]:
        return calls.read_text().splitlines() if calls.exists() else []

    return _calls


def test_subscriber_is_called_with_the_app(run: Callable[..., Result], built_apps: Callable[[], list[str]],
                                          app_names: Callable[[str], str]) -> None:
    app, other = app_names("hook"), app_names("hookother")
    for name in (app, other):
        ok(run("apps:create", name))
        ok(run("proxy:set", name, "type", "null"))  # routing off: the build still succeeds
    assert built_apps() == []
    ok(run("proxy:build-config", app))
    assert built_apps() == [f"{app} True"], "called once, with the app and the store"


def test_subscriber_is_not_called_for_a_rejected_config(
        run: Callable[..., Result], built_apps: Callable[[], list[str]], app_names: Callable[[str], str],
        private_nginx: PrivateNginx, tmp_path: Path) -> None:
    app = app_names("hookrej")
    ok(run("apps:create", app))
    ok(run("ports:set", app, f"http:{private_nginx.port()}:5000"))
    ok(run("proxy:build-config", app))
    assert built_apps() == [f"{app} True"]

    template = tmp_path / "broken.conf.j2"
    template.write_text("server {\n  listen {{ entries[0].host_port }};\n  proxy_buffering maybe;\n}\n")
    ok(run("props:set", "nginx", app, "template-path", str(template)))  # behind nginx:set's back
    rejected = run("proxy:build-config", app)
    assert rejected.exit_code == 1 and 'invalid value "maybe"' in rejected.stderr
    assert built_apps() == [f"{app} True"], "a config nginx refused was not built: no second call"

