"""The export format, and import/backup/restore/migrate, on real stores.

The bad-input tests import a broken file into a filled store and then compare the whole
store with what it held before: a rejected import must leave it exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockyard.core import open_propstore
from dockyard.core.errors import DockyardError, ValidationError
from dockyard.propstores.base import Property, PropertyStore, Put
from dockyard.propstores.export import (
    backup,
    export_store,
    import_file,
    iter_export_lines,
    list_backups,
    migrate,
    read_export,
    resolve_restore_source,
    store_digest,
)

PEM = "-----BEGIN KEY-----\nabc\n-----END KEY-----"
STATE = [
    Put("apps", "web", "created-at", "1700000000"),
    Put("config", "web", "PERCENT", "100% %s"),
    Put("config", "web", "GREETING", "héllo ✓"),
    Put("config", "web", "EMPTY", ""),
    Put("config", "--global", "TZ", "UTC"),
    Put("certs", "web", "key", PEM),
    Put("ports", "web", "map", ["http:80:5000", "https:443:5000"]),
    Put("domains", "--global", "vhosts", ["example.com"]),
]


def snapshot(store: PropertyStore) -> list[Property]:
    return sorted(store.iter_properties(), key=lambda p: (p.plugin, p.scope, p.key))


def make_file(path: Path, lines: list[bytes], *, header: dict[str, Any] | None = None) -> Path:
    """An export with a correct header for ``lines`` (each with its newline), unless overridden."""
    body = b"".join(lines)
    head = {"format": "dockyard.properties", "version": 1, "source": "test", "exported_at": "2024-01-01T00:00:00Z",
            "count": len(lines), "sha256": hashlib.sha256(body).hexdigest()}
    head.update(header or {})
    path.write_bytes(json.dumps(head).encode() + b"\n" + body)
    return path


def line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


@pytest.fixture
def filled(store: PropertyStore) -> PropertyStore:
    store.apply(STATE)
    return store


# ---- the format -------------------------------------------------------------------------------
def test_export_format(filled: PropertyStore, tmp_path: Path) -> None:
    result = export_store(filled, tmp_path / "out.jsonl")
    raw = (tmp_path / "out.jsonl").read_bytes().split(b"\n")
    head = json.loads(raw[0])
    assert list(head) == ["format", "version", "source", "exported_at", "count", "sha256"]
    assert head["format"] == "dockyard.properties" and head["version"] == 1
    assert head["count"] == len(STATE) == result.count
    body = b"".join(x + b"\n" for x in raw[1:-1])
    assert head["sha256"] == hashlib.sha256(body).hexdigest() == result.sha256
    assert dt.datetime.strptime(head["exported_at"], "%Y-%m-%dT%H:%M:%SZ")
    props = [json.loads(x) for x in raw[1:-1]]
    assert [(p["plugin"], p["scope"], p["key"]) for p in props] == sorted(
        (op.plugin, op.scope, op.key) for op in STATE)
    assert {"plugin": "ports", "scope": "web", "key": "map", "list": ["http:80:5000", "https:443:5000"]} in props
    assert {"plugin": "config", "scope": "web", "key": "GREETING", "value": "héllo ✓"} in props
    assert b'"h\xc3\xa9llo \xe2\x9c\x93"' in body  # UTF-8, not \u escapes
    for x in raw[1:-1]:
        assert x == json.dumps(json.loads(x), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert stat.S_IMODE((tmp_path / "out.jsonl").stat().st_mode) == 0o600


def test_export_lines_identical_across_stores(store_url_factory: Callable[[str], str], tmp_path: Path) -> None:
    bodies = set()
    shas = set()
    for kind in ("file", "redis", "etcd"):
        s = open_propstore(store_url_factory(kind))
        try:
            s.apply(reversed(STATE))  # written in a different order than exported
            export_store(s, tmp_path / f"{kind}.jsonl.gz")
        finally:
            s.close()
        lines = list(iter_export_lines(tmp_path / f"{kind}.jsonl.gz"))
        head = json.loads(lines[0])
        assert head["source"].startswith(kind)
        bodies.add(b"".join(lines[1:]))
        shas.add(head["sha256"])
    assert len(bodies) == 1 and len(shas) == 1


def test_gzip_by_name(filled: PropertyStore, tmp_path: Path) -> None:
    export_store(filled, tmp_path / "a.jsonl.gz")
    data = (tmp_path / "a.jsonl.gz").read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert gzip.decompress(data).startswith(b'{"format":"dockyard.properties"')
    assert read_export(tmp_path / "a.jsonl.gz").count == len(STATE)


def test_password_never_in_header(tmp_path: Path, redis_url: str) -> None:
    url = redis_url.replace("redis://", "redis://default:s3cret-pw@") + "?prefix=pwtest:"
    s = open_propstore(url)
    try:
        s.set("config", "web", "A", "1")
        export_store(s, tmp_path / "x.jsonl")
        s.delete("config", "web", "A")
    finally:
        s.close()
    text = (tmp_path / "x.jsonl").read_text()
    assert "s3cret-pw" not in text
    assert json.loads(text.splitlines()[0])["source"].startswith("redis://default:***@127.0.0.1:")


# ---- round trips and modes ---------------------------------------------------------------------
def test_round_trip_into_every_store(filled: PropertyStore, store_url_factory: Callable[[str], str],
                                     tmp_path: Path) -> None:
    export_store(filled, tmp_path / "e.jsonl")
    for kind in ("file", "redis", "etcd"):
        target = open_propstore(store_url_factory(kind))
        try:
            plan = import_file(target, tmp_path / "e.jsonl")
            assert plan.summary() == {"add": len(STATE), "change": 0, "delete": 0, "unchanged": 0}
            assert snapshot(target) == snapshot(filled)
            assert target.get("certs", "web", "key") == PEM
        finally:
            target.close()


def test_merge_replace_dry_run(filled: PropertyStore, tmp_path: Path) -> None:
    export_store(filled, tmp_path / "e.jsonl")
    original = snapshot(filled)
    filled.set("config", "web", "PERCENT", "changed")
    filled.set("extra", "web", "x", "1")
    changed = snapshot(filled)

    plan = import_file(filled, tmp_path / "e.jsonl", replace=True, dry_run=True)
    assert plan.change == [("config", "web", "PERCENT")]
    assert plan.delete == [("extra", "web", "x")]
    assert plan.add == []
    assert snapshot(filled) == changed  # dry run: nothing written

    plan = import_file(filled, tmp_path / "e.jsonl")  # merge keeps the extra
    assert plan.summary() == {"add": 0, "change": 1, "delete": 0, "unchanged": len(STATE) - 1}
    assert filled.get("config", "web", "PERCENT") == "100% %s"
    assert filled.get("extra", "web", "x") == "1"

    import_file(filled, tmp_path / "e.jsonl", replace=True)
    assert snapshot(filled) == original


def test_big_import_uses_batches(store: PropertyStore, tmp_path: Path) -> None:
    src = open_propstore(f"file://{tmp_path / 'src'}")
    src.apply([Put("bulk", f"app{i % 50}", f"k{i}", f"v{i}") for i in range(12_000)])
    export_store(src, tmp_path / "big.jsonl.gz")
    calls: list[int] = []
    real_apply = store.apply_batch

    def counting_apply(ops: Any, progress: Any = None) -> None:
        ops = list(ops)
        calls.append(len(ops))
        real_apply(ops, progress)

    store.apply_batch = counting_apply  # type: ignore[method-assign]
    progress: list[int] = []
    import_file(store, tmp_path / "big.jsonl.gz", progress=progress.append)
    assert calls == [12_000]  # one batch: all or nothing where the store can
    assert sum(progress) == 12_000
    assert store_digest(store) == store_digest(src)


# ---- bad input: one clear error, the store unchanged ------------------------------------------
GOOD = line({"plugin": "config", "scope": "web", "key": "NEW", "value": "x"})


def _bad_files(tmp: Path, good_export: Path) -> dict[str, tuple[Path, str]]:
    good = good_export.read_bytes()
    head, _, body = good.partition(b"\n")
    cases: dict[str, tuple[Path, str]] = {}

    def add(name: str, data: bytes, match: str) -> None:
        p = tmp / f"{name}.jsonl"
        p.write_bytes(data)
        cases[name] = (p, match)

    add("checksum", head + b"\n" + body.replace(b"100% %s", b"100% %S"), "checksum mismatch")
    add("truncated-mid-line", good[:-10], "truncated")
    add("truncated-line-boundary", good[: good.rstrip(b"\n").rfind(b"\n") + 1], "truncated or altered")
    add("header-only-cut", head[:20], "truncated")
    add("empty", b"", "empty file")
    add("not-json-header", b"hello\n" + body, "not a JSON header")
    add("wrong-format", make_file(tmp / "wf", [GOOD], header={"format": "other"}).read_bytes(),
        "not a Dockyard export")
    add("version-2", make_file(tmp / "v2", [GOOD], header={"version": 2}).read_bytes(), "unsupported export version 2")
    gz = gzip.compress(good)
    (tmp / "trunc.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    cases["truncated-gzip"] = (tmp / "trunc.jsonl.gz", "truncated")
    bad_lines: dict[str, tuple[dict[str, Any] | bytes, str]] = {
        "name-dotdot": ({"plugin": "config", "scope": "..", "key": "K", "value": "x"}, "invalid scope"),
        "name-slash": ({"plugin": "config", "scope": "web", "key": "a/b", "value": "x"}, "invalid key"),
        "name-root": ({"plugin": "/", "scope": "web", "key": "K", "value": "x"}, "invalid plugin"),
        "name-empty": ({"plugin": "config", "scope": "", "key": "K", "value": "x"}, "invalid scope: empty"),
        "name-control": ({"plugin": "config", "scope": "web", "key": "K\x1b[2J", "value": "x"}, "invalid key"),
        "name-newline": ({"plugin": "config", "scope": "web\n", "key": "K", "value": "x"}, "invalid scope"),
        "value-number": ({"plugin": "config", "scope": "web", "key": "K", "value": 5}, "expected text"),
        "value-null": ({"plugin": "config", "scope": "web", "key": "K", "value": None}, "expected text"),
        "value-nul": ({"plugin": "config", "scope": "web", "key": "K", "value": "a\x00b"}, "NUL"),
        "list-not-text": ({"plugin": "config", "scope": "web", "key": "K", "list": ["a", 1]}, "expected text"),
        "list-newline": ({"plugin": "config", "scope": "web", "key": "K", "list": ["a\nb"]}, "line break"),
        "list-empty": ({"plugin": "config", "scope": "web", "key": "K", "list": []}, "non-empty"),
        "both-fields": ({"plugin": "c", "scope": "web", "key": "K", "value": "x", "list": ["x"]},
                        "expected the fields"),
        "extra-field": ({"plugin": "c", "scope": "web", "key": "K", "value": "x", "x": 1}, "expected the fields"),
        "not-object": (b"[1,2]\n", "expected a JSON object"),
        "bad-json": (b"{nope\n", "not valid JSON"),
        "not-utf8": (b'{"plugin":"\xff"}\n', "not UTF-8"),
    }
    for name, (obj, match) in bad_lines.items():
        raw = obj if isinstance(obj, bytes) else line(obj)
        # the bad line comes last, after a good one: nothing before it may be written either
        p = make_file(tmp / f"{name}.jsonl", [GOOD, raw])
        cases[name] = (p, match)
    cases["duplicate"] = (make_file(tmp / "dup.jsonl", [GOOD, GOOD]), "duplicate property config/web/NEW")
    return cases


BAD_CASES = [
    "checksum", "truncated-mid-line", "truncated-line-boundary", "header-only-cut", "empty", "not-json-header",
    "wrong-format", "version-2", "truncated-gzip", "name-dotdot", "name-slash", "name-root", "name-empty",
    "name-control", "name-newline", "value-number", "value-null", "value-nul", "list-not-text", "list-newline",
    "list-empty", "both-fields", "extra-field", "not-object", "bad-json", "not-utf8", "duplicate",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_import_changes_nothing(filled: PropertyStore, tmp_path: Path, case: str) -> None:
    export_store(filled, tmp_path / "good.jsonl")
    path, match = _bad_files(tmp_path, tmp_path / "good.jsonl")[case]
    before = snapshot(filled)
    for replace in (False, True):
        with pytest.raises(ValidationError, match=match) as err:
            import_file(filled, path, replace=replace)
        assert "\n" not in str(err.value)
        assert snapshot(filled) == before


def test_good_file_of_the_bad_set_imports(filled: PropertyStore, tmp_path: Path) -> None:
    """The helper makes valid files when nothing is broken (so the failures above are real)."""
    import_file(filled, make_file(tmp_path / "ok.jsonl", [GOOD]))
    assert filled.get("config", "web", "NEW") == "x"


# ---- backup, restore, migrate -------------------------------------------------------------------
def test_backup_keeps_newest(filled: PropertyStore, tmp_path: Path) -> None:
    d = tmp_path / "backups"
    d.mkdir()
    (d / "notes.txt").write_text("not a backup")
    t0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    paths = []
    for i in range(4):
        r = backup(filled, d, keep=2, now=t0 + dt.timedelta(hours=i))
        paths.append(r.export.path)
    same = backup(filled, d, keep=3, now=t0 + dt.timedelta(hours=3))  # same second: a new name
    assert Path(same.export.path).name == "dockyard-20240501T150000Z-1.jsonl.gz"
    names = [p.name for p in list_backups(d)]
    assert names == ["dockyard-20240501T140000Z.jsonl.gz", "dockyard-20240501T150000Z.jsonl.gz",
                     "dockyard-20240501T150000Z-1.jsonl.gz"]
    assert (d / "notes.txt").exists()
    assert resolve_restore_source(d) == d / "dockyard-20240501T150000Z-1.jsonl.gz"
    assert stat.S_IMODE(Path(same.export.path).stat().st_mode) == 0o600


def test_restore_makes_store_equal(filled: PropertyStore, tmp_path: Path) -> None:
    r = backup(filled, tmp_path, keep=1)
    before = snapshot(filled)
    filled.destroy_scope("web")
    filled.set("new", "web", "x", "y")
    import_file(filled, resolve_restore_source(tmp_path), replace=True)
    assert snapshot(filled) == before
    assert r.export.count == len(STATE)


@pytest.mark.parametrize("pair", [("file", "redis"), ("redis", "etcd"), ("etcd", "file")])
def test_migrate_verifies(pair: tuple[str, str], store_url_factory: Callable[[str], str]) -> None:
    src = open_propstore(store_url_factory(pair[0]))
    dst = open_propstore(store_url_factory(pair[1]))
    try:
        src.apply(STATE + [Put("bulk", f"a{i % 9}", f"k{i}", str(i)) for i in range(700)])
        result = migrate(src, dst)
        assert result.count == len(STATE) + 700
        assert store_digest(dst) == store_digest(src) == (result.count, result.sha256)
        dst.set("stale", "x", "y", "z")
        with pytest.raises(ValidationError, match="already holds"):
            migrate(src, dst)
        result = migrate(src, dst, replace=True)
        assert result.deleted == 1
        assert not dst.exists("stale", "x", "y")
    finally:
        src.close()
        dst.close()


def test_migrate_detects_a_lossy_target(store_url_factory: Callable[[str], str]) -> None:
    src = open_propstore(store_url_factory("file"))
    dst = open_propstore(store_url_factory("redis"))
    try:
        src.apply(STATE)
        real = dst._apply  # type: ignore[attr-defined]

        def lossy(ops: Any) -> None:
            real([op for op in ops if op.key != "GREETING"])

        dst._apply = lossy  # type: ignore[attr-defined]
        with pytest.raises(DockyardError, match="verification failed"):
            migrate(src, dst)
    finally:
        src.close()
        dst.close()


def test_deeply_nested_json_and_boolean_version_are_one_line() -> None:
    """A line of 100,000 '[' is a RecursionError in json; "version": true equals 1 in Python."""
    from dockyard.propstores.export import _parse_header, parse_property_line

    with pytest.raises(ValidationError, match="nested too deeply"):
        parse_property_line(b"[" * 100_000, "f:2")
    with pytest.raises(ValidationError, match="not a JSON header"):
        _parse_header("f", b"[" * 100_000)
    header = {"format": "dockyard.properties", "version": True, "count": 0, "sha256": "0" * 64}
    with pytest.raises(ValidationError, match="unsupported export version"):
        _parse_header("f", json.dumps(header).encode())


def test_file_store_root_created_by_a_lock_is_private(tmp_path: Path) -> None:
    """The first command may only take a lock: the root it creates is 0700, like every data dir."""
    root = tmp_path / "new" / "store"
    store = open_propstore(f"file://{root}")
    with store.lock("deploy-web"):
        pass
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "locks").stat().st_mode) == 0o700


# ---- bounded, streamed reading (issue 8) ----------------------------------------------------------
def test_line_cap_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line of exactly the cap (without its newline) is read; one byte more is refused."""
    long = line({"plugin": "config", "scope": "web", "key": "K", "value": "z" * 300})
    path = make_file(tmp_path / "cap.jsonl", [GOOD, long])
    header_length = len(path.read_bytes().split(b"\n", 1)[0])
    monkeypatch.setenv("DOCKYARD_IMPORT_MAX_LINE_BYTES", str(max(len(long) - 1, header_length)))
    assert read_export(path).count == 2
    monkeypatch.setenv("DOCKYARD_IMPORT_MAX_LINE_BYTES", str(len(long) - 2))
    with pytest.raises(ValidationError, match=f"line 3: longer than {len(long) - 2} bytes"):
        read_export(path)


def test_gzip_from_a_stream_is_sniffed(tmp_path: Path) -> None:
    """stdin or any binary stream: gzip is recognised by its magic bytes, not a name."""
    import io

    data = make_file(tmp_path / "s.jsonl", [GOOD]).read_bytes()
    assert read_export(io.BytesIO(gzip.compress(data))).count == 1
    assert read_export(io.BytesIO(data)).count == 1
    with pytest.raises(ValidationError, match=r"corrupt gzip data|truncated"):
        read_export(io.BytesIO(gzip.compress(data)[:-12] + b"garbage!garbage!"))


def test_errors_never_print_a_value(tmp_path: Path) -> None:
    secret = "hunter2-secret"
    for bad in ({"plugin": "c", "scope": "web", "key": "K", "list": [f"{secret}\nx"]},
                {"plugin": "c", "scope": "web", "key": "K", "value": f"{secret}\ud800"},
                {"plugin": "c", "scope": "web", "key": "K", "value": {secret: 1, "b": 2}}):
        raw = json.dumps(bad, separators=(",", ":")).encode() + b"\n"
        with pytest.raises(ValidationError) as err:
            read_export(make_file(tmp_path / "v.jsonl", [GOOD, raw]))
        assert secret not in str(err.value) and "line 3" in str(err.value)
    twice = f'"{secret}":1,"{secret}":2'.encode()
    raw = b'{"plugin":"c","scope":"web","key":"K","value":{' + twice + b"}}\n"
    with pytest.raises(ValidationError, match="duplicate JSON key in an object") as err:
        read_export(make_file(tmp_path / "v.jsonl", [GOOD, raw]))
    assert secret not in str(err.value)
