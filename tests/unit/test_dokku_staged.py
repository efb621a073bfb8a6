"""StagedStore: reads see the base store with pending writes on top; nothing reaches the base."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.core import open_propstore
from dockyard.core.dokku.staged import StagedStore
from dockyard.propstores.base import Delete, Put


@pytest.mark.parametrize("preload", [False, True])
def test_staged_reads_and_scopes(tmp_path: Path, preload: bool) -> None:
    base = open_propstore(f"file://{tmp_path}")
    base.set("apps", "one", "created-at", "1")
    base.list_write("ports", "one", "map", ["http:80:5000"])
    staged = StagedStore(base, preload=preload)
    staged.apply([Put("apps", "two", "created-at", "2"), Put("ports", "two", "map", ["tcp:7000:7000"])])
    assert staged.scopes("apps") == ["one", "two"] and base.scopes("apps") == ["one"]
    assert staged.list_get("ports", "two", "map") == ["tcp:7000:7000"]
    staged.apply([Delete("apps", "one", "created-at")])
    assert staged.scopes("apps") == ["two"] and staged.get("apps", "one", "created-at") is None
    staged.apply([Put("apps", "two", "created-at", "3")])  # overwriting does not count twice
    staged.apply([Delete("apps", "two", "created-at")])
    assert staged.scopes("apps") == []
    assert sorted(p.scope for p in staged.iter_properties("ports")) == ["one", "two"]
    assert [op for op in staged.take() if op.plugin == "ports"] == [Put("ports", "two", "map", ["tcp:7000:7000"])]
    assert base.get("apps", "one", "created-at") == "1" and not base.exists("ports", "two", "map")
