"""``props:check`` (fsck): leftovers of interrupted writes and names today's checks refuse are
reported (exit 1) and, with ``--repair``, removed; a clean store says so (exit 0). The file
store also sweeps stale temp files by itself when it is opened, at most once a day."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockyard.core import open_propstore
from dockyard.propstores.base import Put
from dockyard.propstores.file import TMP_PREFIX
from tests.fixtures.cli import Result

Run = Callable[..., Result]


@pytest.mark.parametrize("kind", ["file", "redis", "etcd"])
def test_invalid_names_are_reported_then_repaired(run: Run, store_url_factory: Any, kind: str) -> None:
    url = store_url_factory(kind)
    assert run("--propstore", url, "apps:create", "shop").exit_code == 0
    store = open_propstore(url)
    store._apply([Put("nginx", "x$host", "access-log-path", "/tmp/x"), Put("apps", "Bad_Scope", "k", "v")])
    store.close()
    found = run("--propstore", url, "props:check")
    assert found.exit_code == 1
    assert "invalid name nginx/x$host/access-log-path" in found.stdout
    assert "invalid name apps/Bad_Scope/k" in found.stdout
    report = json.loads(run("--propstore", url, "--format", "json", "props:check").stdout)
    assert {(i["plugin"], i["scope"]) for i in report["invalid"]} == {("nginx", "x$host"), ("apps", "Bad_Scope")}
    repaired = run("--propstore", url, "props:check", "--repair")
    assert repaired.exit_code == 0 and "Repaired" in repaired.stdout
    assert run("--propstore", url, "props:check").stdout.strip() == "-----> The store is clean"
    assert run("--propstore", url, "apps:exists", "shop").exit_code == 0, "valid properties are kept"


def test_file_temp_leftovers_are_reported_repaired_and_swept(run: Run, dockyard_root: Path) -> None:
    assert run("apps:create", "shop").exit_code == 0
    scope = dockyard_root / "config" / "apps" / "shop"
    stale = scope / f"{TMP_PREFIX}deadbeefdeadbeef"
    fresh = scope / f"{TMP_PREFIX}0123456789abcdef"
    stale.write_bytes(b"half a value")
    fresh.write_bytes(b"a write in progress")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    mark = dockyard_root / "locks" / ".swept"
    mark.parent.mkdir(exist_ok=True)
    mark.touch()  # swept a moment ago: this open leaves them for props:check to find
    found = run("props:check")
    assert found.exit_code == 1 and f"leftover temp file: {stale}" in found.stdout
    assert str(fresh) not in found.stdout, "a temp file younger than a minute may be a live write"
    assert run("props:check", "--repair").exit_code == 0
    assert not stale.exists() and fresh.exists()

    # opening the store sweeps temp files older than an hour, once a day
    os.utime(fresh, (old, old))
    day_ago = time.time() - 90000
    os.utime(mark, (day_ago, day_ago))
    open_propstore(f"file://{dockyard_root}").close()
    assert not fresh.exists()
    again = scope / f"{TMP_PREFIX}aaaaaaaaaaaaaaaa"
    again.write_bytes(b"x")
    os.utime(again, (old, old))
    open_propstore(f"file://{dockyard_root}").close()
    assert again.exists(), "swept at most once a day: opening costs one stat in between"


def test_apps_destroy_forgets_the_apps_lock_files_but_never_a_held_one(run: Run, dockyard_root: Path) -> None:
    import threading

    from dockyard.core.errors import LockHeld

    assert run("apps:create", "gone").exit_code == 0
    store = open_propstore(f"file://{dockyard_root}")
    with store.lock("deploy-gone"):
        pass
    assert (dockyard_root / "locks" / "deploy-gone.lock").exists()
    assert run("apps:destroy", "gone", "--force").exit_code == 0
    assert not [p.name for p in (dockyard_root / "locks").iterdir() if "gone" in p.name]

    # a held lock is left alone, and a lock file removed under waiters never gives two holders
    entered = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with store.lock("deploy-kept"):
            entered.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    entered.wait(5)
    assert store.remove_lock("deploy-kept") is False and (dockyard_root / "locks" / "deploy-kept.lock").exists()
    other = open_propstore(f"file://{dockyard_root}")
    try:
        with pytest.raises(LockHeld), other.lock("deploy-kept", timeout=0.1):
            pass
    finally:
        release.set()
        t.join(5)
    assert store.remove_lock("deploy-kept") is True
    with other.lock("deploy-kept", timeout=1):  # a fresh file, locked as usual
        pass
    store.close()
    other.close()


def test_repair_leaves_the_temp_files_of_a_write_in_progress(run: Run, dockyard_root: Path) -> None:
    """A long import stages every temp file before its first rename, so its early files can
    be minutes old; props:check --repair must not take them from under it (issue 8)."""
    import threading

    assert run("apps:create", "shop").exit_code == 0
    store = open_propstore(f"file://{dockyard_root}")
    staged = dockyard_root / "config" / "apps" / "shop" / f"{TMP_PREFIX}feedfacefeedface"
    staged.write_bytes(b"staged by a live import")
    old = time.time() - 600
    os.utime(staged, (old, old))
    importing, done = threading.Event(), threading.Event()

    def live_write() -> None:  # what every write holds while its temp files exist
        with store._writing():  # type: ignore[attr-defined]
            importing.set()
            done.wait(30)

    writer = threading.Thread(target=live_write)
    writer.start()
    try:
        assert importing.wait(10)
        busy = run("props:check", "--repair")
        assert busy.exit_code == 1 and "a write to the store is in progress" in busy.stderr
        assert staged.exists(), "a live write's temp file was removed"
    finally:
        done.set()
        writer.join(10)
        store.close()
    assert run("props:check", "--repair").exit_code == 0  # once it is done (here: given up), it goes
    assert not staged.exists()
