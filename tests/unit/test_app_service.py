"""``dockyard.core.apps`` through the Python API alone: a script that creates, destroys,
renames, clones or stops an app gets the hooks and the cleanup the CLI gives (issue 9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.core import apps, open_propstore
from dockyard.core.errors import DockyardError
from dockyard.core.hooks import Hooks
from dockyard.core.letsencrypt import challenge_dir
from dockyard.core.properties import app_exists, is_locked
from dockyard.propstores.base import PropertyStore


class RecordingScheduler:
    """What the service asks of a scheduler, recorded; nothing runs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def destroy(self, app: str) -> None:
        self.calls.append(("destroy", app))

    def stop(self, app: str) -> None:
        self.calls.append(("stop", app))


@pytest.fixture
def store(dockyard_root: Path) -> PropertyStore:
    return open_propstore(f"file://{dockyard_root}")


@pytest.fixture
def scheduler() -> RecordingScheduler:
    return RecordingScheduler()


def recorder(hooks: Hooks, name: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    hooks.subscribe(name, lambda **kw: seen.append(kw))
    return seen


def deployed(store: PropertyStore, app: str) -> None:
    """The records a deploy leaves (the scheduler itself is a recording one)."""
    store.set("release", app, "current", "20260101000000000")


def test_create_fires_post_create_once_the_app_exists(store: PropertyStore) -> None:
    hooks = Hooks(load_entry_points=False)
    existed: list[bool] = []
    hooks.subscribe("post-create", lambda app, store, **_: existed.append(app_exists(store, app)))
    apps.create_app(store, "web", hooks)
    assert existed == [True]
    with pytest.raises(DockyardError, match="already exists"):
        apps.create_app(store, "web", hooks)
    assert existed == [True]


def test_create_gives_the_global_domain(store: PropertyStore) -> None:
    store.list_write("domains", "--global", "vhosts", ["example.test"])
    apps.create_app(store, "web", Hooks(load_entry_points=False))
    assert store.list_get("domains", "web", "vhosts") == ["web.example.test"]


def test_destroy_removes_instances_files_properties_and_fires_post_delete(
        store: PropertyStore, scheduler: RecordingScheduler, dockyard_root: Path) -> None:
    apps.create_app(store, "web")
    store.set("config", "web", "A", "1")
    deployed(store, "web")
    tls = dockyard_root / "tls" / "web"  # the nginx proxy's certificate directory of the app
    tls.mkdir(parents=True)
    (tls / "server.crt").write_text("a certificate")
    challenge = challenge_dir(dockyard_root, "web")
    challenge.mkdir(parents=True)
    hooks = Hooks(load_entry_points=False)
    readable: list[str | None] = []
    hooks.subscribe("post-delete", lambda app, store, **_: readable.append(store.get("config", app, "A")))

    apps.destroy_app(store, lambda _app: scheduler, "web", hooks, root=dockyard_root)  # type: ignore[arg-type, return-value]

    assert scheduler.calls == [("destroy", "web")]
    assert readable == ["1"]  # a post-delete subscriber still reads the app's properties
    assert not app_exists(store, "web")
    assert list(store.iter_properties(scope="web")) == []
    assert not tls.exists() and not challenge.exists()


def test_a_failing_pre_delete_keeps_the_app(store: PropertyStore, scheduler: RecordingScheduler) -> None:
    apps.create_app(store, "web")
    hooks = Hooks(load_entry_points=False)

    def refuse(**_: Any) -> None:
        raise DockyardError("backups first")

    hooks.subscribe("pre-delete", refuse)
    with pytest.raises(DockyardError, match="backups first"):
        apps.destroy_app(store, lambda _app: scheduler, "web", hooks)  # type: ignore[arg-type, return-value]
    assert app_exists(store, "web") and scheduler.calls == []


def test_rename_moves_properties_and_files_and_fires_post_app_rename(
        store: PropertyStore, scheduler: RecordingScheduler, dockyard_root: Path) -> None:
    apps.create_app(store, "web")
    store.set("config", "web", "A", "1")
    deployed(store, "web")
    challenge_dir(dockyard_root, "web").mkdir(parents=True)
    hooks = Hooks(load_entry_points=False)
    renamed = recorder(hooks, "post-app-rename")

    redeployed = apps.rename_app(store, lambda _app: scheduler, "web", "site", skip_deploy=True,  # type: ignore[arg-type, return-value]
                                 hooks=hooks, root=dockyard_root)

    assert redeployed is False
    assert scheduler.calls == [("destroy", "web")]  # the old instances carry the old name
    assert [(r["old"], r["new"]) for r in renamed] == [("web", "site")]
    assert not app_exists(store, "web") and app_exists(store, "site")
    assert store.get("config", "site", "A") == "1"
    assert challenge_dir(dockyard_root, "site").is_dir() and not challenge_dir(dockyard_root, "web").exists()
    apps.create_app(store, "web")
    with pytest.raises(DockyardError, match="already exists"):
        apps.rename_app(store, lambda _app: scheduler, "web", "site", root=dockyard_root)  # type: ignore[arg-type, return-value]


def test_clone_copies_settings_but_not_runtime_state(store: PropertyStore, scheduler: RecordingScheduler) -> None:
    apps.create_app(store, "web")
    store.set("config", "web", "B", "two words")
    store.list_write("ports", "web", "map", ["http:80:5000"])
    store.set("apps", "web", "deploy-lock", "true")
    hooks = Hooks(load_entry_points=False)
    cloned = recorder(hooks, "post-app-clone")

    deployed_new = apps.clone_app(store, lambda _app: scheduler, "web", "web2", hooks=hooks)  # type: ignore[arg-type, return-value]

    assert deployed_new is False  # web was never deployed: nothing to deploy web2 from
    assert [(r["old"], r["new"]) for r in cloned] == [("web", "web2")]
    assert store.get("config", "web2", "B") == "two words"
    assert store.list_get("ports", "web2", "map") == ["http:80:5000"]
    assert is_locked(store, "web") and not is_locked(store, "web2")
    assert app_exists(store, "web") and scheduler.calls == []


def test_stop_keeps_the_app_stopped_after_a_reboot(store: PropertyStore, scheduler: RecordingScheduler) -> None:
    apps.create_app(store, "web")
    deployed(store, "web")
    hooks = Hooks(load_entry_points=False)
    stopped = recorder(hooks, "post-stop")
    apps.stop_app(store, lambda _app: scheduler, "web", hooks)  # type: ignore[arg-type, return-value]
    assert scheduler.calls == [("stop", "web")]
    assert store.get("ps", "web", "restore") == "false"
    assert [r["app"] for r in stopped] == ["web"]
