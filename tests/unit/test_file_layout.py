"""The file store reads and writes Dokku's own layout, byte for byte.

The tree below is written by hand the way Dokku's Go property library writes it
(``PropertyWrite``: the raw value, no newline; list writers: ``Fprintln`` per item), then
read through the store, and written again through the store into a second root, which must
come out identical.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from dockyard.core import open_propstore
from dockyard.core.errors import LockHeld, ValidationError
from dockyard.propstores.base import Property, Put

PEM = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBszCCAVmgAwIBAgIUJ3nN\n"
    "Zm9vYmFyYmF6cXV4\n"
    "-----END CERTIFICATE-----"
)

# path under config/ -> the exact bytes Dokku writes
DOKKU_TREE: dict[str, bytes] = {
    "nginx/web/hsts": b"true",
    "nginx/--global/hsts-max-age": b"15724800",
    "ports/web/map": b"http:80:5000\nhttps:443:5000\n",
    "domains/--global/vhosts": b"example.com\n",
    "network/web/attach-post-create": b"backend\n",
    "network/web/bind-all-interfaces": b"false",
    "apps/web/empty": b"",
    "config/web/PERCENT": b"100% done, %s %d %%",
    "config/web/GREETING": "héllo wörld ✓ 日本".encode(),
    "certs/web/crt": PEM.encode(),
    "config/api/DATABASE_URL": b"postgres://u@h/db",
}

EXPECTED = sorted([
    Property("apps", "web", "empty", value=""),
    Property("certs", "web", "crt", value=PEM),
    Property("config", "api", "DATABASE_URL", value="postgres://u@h/db"),
    Property("config", "web", "GREETING", value="héllo wörld ✓ 日本"),
    Property("config", "web", "PERCENT", value="100% done, %s %d %%"),
    Property("domains", "--global", "vhosts", items=("example.com",)),
    Property("network", "web", "attach-post-create", items=("backend",)),
    Property("network", "web", "bind-all-interfaces", value="false"),
    Property("nginx", "--global", "hsts-max-age", value="15724800"),
    Property("nginx", "web", "hsts", value="true"),
    Property("ports", "web", "map", items=("http:80:5000", "https:443:5000")),
], key=lambda p: (p.plugin, p.scope, p.key))


def build_dokku_tree(root: Path) -> None:
    for rel, data in DOKKU_TREE.items():
        path = root / "config" / rel
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)  # Dokku's own dirs are 0755
        path.write_bytes(data)
        path.chmod(0o600)


def tree_bytes(root: Path) -> dict[str, bytes]:
    base = root / "config"
    return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def test_reads_a_dokku_tree_exactly(tmp_path: Path) -> None:
    build_dokku_tree(tmp_path)
    store = open_propstore(f"file://{tmp_path}")
    assert sorted(store.iter_properties(), key=lambda p: (p.plugin, p.scope, p.key)) == EXPECTED
    assert store.get("config", "web", "PERCENT") == "100% done, %s %d %%"
    assert store.get("config", "web", "GREETING") == "héllo wörld ✓ 日本"
    assert store.get("certs", "web", "crt") == PEM
    assert store.read("certs", "web", "crt") == PEM  # inner newlines, no trailing one: a value
    assert store.get("apps", "web", "empty", "default") == ""  # empty file: the empty value
    assert store.exists("apps", "web", "empty")
    assert store.list_get("ports", "web", "map") == ["http:80:5000", "https:443:5000"]
    assert store.get("ports", "web", "map") == "http:80:5000\nhttps:443:5000\n"
    assert store.get("nginx", "--global", "hsts-max-age") == "15724800"
    assert store.scopes("nginx") == ["--global", "web"]
    assert store.scopes() == ["--global", "api", "web"]
    assert store.plugins() == ["apps", "certs", "config", "domains", "network", "nginx", "ports"]
    assert store.get_all("network", "web") == {"attach-post-create": ["backend"], "bind-all-interfaces": "false"}


def test_writes_the_bytes_dokku_writes(tmp_path: Path) -> None:
    dokku, ours = tmp_path / "dokku", tmp_path / "ours"
    build_dokku_tree(dokku)
    ours.mkdir()
    store = open_propstore(f"file://{ours}")
    store.apply([Put(p.plugin, p.scope, p.key, p.data()) for p in EXPECTED])
    assert tree_bytes(ours) == tree_bytes(dokku)
    # one property at a time too, through the list operations
    again = tmp_path / "again"
    again.mkdir()
    s2 = open_propstore(f"file://{again}")
    for p in EXPECTED:
        if p.items is not None:
            for item in p.items:
                s2.list_add(p.plugin, p.scope, p.key, item)
        else:
            s2.set(p.plugin, p.scope, p.key, p.value or "")
    assert tree_bytes(again) == tree_bytes(dokku)


def test_list_operations_on_a_dokku_file(tmp_path: Path) -> None:
    build_dokku_tree(tmp_path)
    store = open_propstore(f"file://{tmp_path}")
    path = tmp_path / "config/ports/web/map"
    store.list_add("ports", "web", "map", "  tcp:9000:9000  ")
    assert path.read_bytes() == b"http:80:5000\nhttps:443:5000\ntcp:9000:9000\n"
    store.list_remove_prefix("ports", "web", "map", "http")
    assert path.read_bytes() == b"tcp:9000:9000\n"
    store.list_remove("ports", "web", "map", "tcp:9000:9000")
    assert not path.exists()  # a list that becomes empty is deleted
    assert store.list_get("ports", "web", "map") == []


def test_modes(tmp_path: Path) -> None:
    store = open_propstore(f"file://{tmp_path}")
    store.set("nginx", "web", "hsts", "true")
    store.apply([Put("config", f"app{i}", "K", "v") for i in range(40)])  # the bulk path too
    for path in (tmp_path / "config").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    assert stat.S_IMODE((tmp_path / "config").stat().st_mode) == 0o700


def test_temp_files_never_show_as_properties(tmp_path: Path) -> None:
    build_dokku_tree(tmp_path)
    # what a crash between "write temp" and "rename" leaves behind
    (tmp_path / "config/nginx/web/.tmp-0123456789abcdef").write_bytes(b"half-writ")
    crashed_scope = tmp_path / "config/nginx/ghost"
    crashed_scope.mkdir()
    (crashed_scope / ".tmp-fedcba9876543210").write_bytes(b"x")
    store = open_propstore(f"file://{tmp_path}")
    assert sorted(store.iter_properties(), key=lambda p: (p.plugin, p.scope, p.key)) == EXPECTED
    assert store.get_all("nginx", "web") == {"hsts": "true"}
    assert "ghost" not in store.scopes("nginx")
    assert store.count() == len(EXPECTED)


@pytest.mark.parametrize("n", [50, 2500])  # one writer, and the threaded bulk path
def test_failed_batch_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    build_dokku_tree(tmp_path)
    store = open_propstore(f"file://{tmp_path}")
    before = tree_bytes(tmp_path)
    real_write = os.write
    calls = {"n": 0}

    def failing_write(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] > n - 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing_write)
    ops = [Put("config", f"app{i % 7}", f"K{i}", f"v{i}") for i in range(n)] + [Put("nginx", "web", "hsts", "false")]
    with pytest.raises(OSError):
        store.apply(ops)
    monkeypatch.undo()
    assert tree_bytes(tmp_path) == before  # nothing renamed into place
    leftovers = [p for p in (tmp_path / "config").rglob(".tmp-*")]
    assert leftovers == []


def test_locks_live_outside_config(tmp_path: Path) -> None:
    store = open_propstore(f"file://{tmp_path}")
    other = open_propstore(f"file://{tmp_path}")
    with store.lock("deploy-web"):
        assert (tmp_path / "locks" / "deploy-web.lock").exists()
        assert not (tmp_path / "config").exists() or not any((tmp_path / "config").rglob("*.lock"))
        with pytest.raises(LockHeld), other.lock("deploy-web"):
            pass
    assert store.count() == 0


def test_non_utf8_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config/nginx/web/bad"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe")
    store = open_propstore(f"file://{tmp_path}")
    with pytest.raises(ValidationError, match=r"nginx/web/bad .*not UTF-8"):
        store.get("nginx", "web", "bad")


@pytest.mark.parametrize("url", ["file://relative/path", "file://otherhost/x"])
def test_bad_file_urls(url: str) -> None:
    with pytest.raises(ValidationError):
        open_propstore(url)


def test_write_then_delete_prunes_empty_dirs(tmp_path: Path) -> None:
    store = open_propstore(f"file://{tmp_path}")
    store.set("nginx", "web", "hsts", "true")
    store.delete("nginx", "web", "hsts")
    assert not (tmp_path / "config/nginx/web").exists()
    assert store.scopes() == []
    store.set("nginx", "web", "hsts", "false")  # and the dirs come back
    assert (tmp_path / "config/nginx/web/hsts").read_bytes() == b"false"
