"""Imports that cannot half-apply (issue 8), on every store, through the CLI a user runs.

Each test fills a store, takes a full export, runs an import that must be refused (or that
fails while writing), takes a second export and compares the two byte for byte. The export
clock is frozen, so a byte-identical export means the store did not change at all.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.propstores import export as export_module
from tests.fixtures.cli import ok
from tests.fixtures.stores import STORE_KINDS

Run = Callable[..., Any]
SECRET = "s3cr3t-value-never-printed"


@pytest.fixture(autouse=True)
def frozen_export_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "_now", lambda: "2026-01-01T00:00:00Z")


@pytest.fixture(params=STORE_KINDS)
def url(request: pytest.FixtureRequest, store_url_factory: Callable[[str], str], run: Run) -> Iterator[str]:
    """A store of each kind holding a few properties, some of which ``--replace`` would delete."""
    u = store_url_factory(request.param)
    ok(run("--propstore", u, "props:set", "config", "web", "SECRET", SECRET))
    ok(run("--propstore", u, "props:set", "ports", "web", "map", "--list", "http:80:5000"))
    ok(run("--propstore", u, "props:set", "nginx", "--global", "hsts", "true"))
    yield u


def full_export(run: Run, url: str, tmp_path: Path) -> bytes:
    path = tmp_path / f"export-{uuid.uuid4().hex}.jsonl"
    ok(run("--propstore", url, "props:export", str(path)))
    return path.read_bytes()


def line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def good_lines(n: int, plugin: str = "bulk") -> list[bytes]:
    return [line({"plugin": plugin, "scope": f"app{i % 7}", "key": f"k{i:05d}", "value": f"v{i}"}) for i in range(n)]


def write_export(path: Path, lines: list[bytes], header: dict[str, Any] | None = None,
                 raw_header: bytes | None = None) -> Path:
    """An export file with a correct count and sha256 for ``lines`` (unless the header overrides)."""
    body = b"".join(lines)
    head: dict[str, Any] = {"format": "dockyard.properties", "version": 1, "source": "test",
                            "exported_at": "2024-01-01T00:00:00Z", "count": len(lines),
                            "sha256": hashlib.sha256(body).hexdigest()}
    head.update(header or {})
    data = (raw_header if raw_header is not None else json.dumps(head).encode()) + b"\n" + body
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def refused(run: Run, url: str, path: Path, *args: str) -> str:
    """Run an import that must be refused: exit 1 and one error line, which is returned."""
    r = run("--propstore", url, "props:import", str(path), *args)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 1, (r.stdout, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr and SECRET not in r.stderr + r.stdout
    return str(lines[0])


def assert_refused_everywhere(run: Run, url: str, tmp_path: Path, path: Path, *expected: str) -> None:
    """merge, --replace and --dry-run all refuse ``path`` naming ``expected``; the store is unchanged."""
    before = full_export(run, url, tmp_path)
    for mode in ((), ("--replace",), ("--dry-run",), ("--replace", "--dry-run")):
        message = refused(run, url, path, *mode)
        assert full_export(run, url, tmp_path) == before, (mode, message)
        for part in expected:
            assert part in message, (mode, message)
    r = run("--propstore", url, "props:restore", str(path))
    assert r.exit_code == 1 and full_export(run, url, tmp_path) == before


# ---- (a) text that UTF-8 cannot encode --------------------------------------------------------
def test_lone_surrogate_after_6000_good_lines_is_refused(run: Run, url: str, tmp_path: Path) -> None:
    bad = b'{"key":"LAST","plugin":"config","scope":"web","value":"' + SECRET.encode() + b'\\ud800"}\n'
    path = write_export(tmp_path / "surrogate.jsonl", [*good_lines(6000), bad])
    assert_refused_everywhere(run, url, tmp_path, path, "line 6002", "UTF-8")


@pytest.mark.parametrize("bad", [
    b'{"key":"K","plugin":"config","scope":"web","list":["ok","\\udfff"]}\n',
    b'{"key":"K\\ud800","plugin":"config","scope":"web","value":"x"}\n',
    b'{"key":"K","plugin":"conf\\ud800ig","scope":"web","value":"x"}\n',
])
def test_lone_surrogate_anywhere_is_refused(run: Run, url: str, tmp_path: Path, bad: bytes) -> None:
    path = write_export(tmp_path / "surrogate.jsonl", [*good_lines(3), bad])
    assert_refused_everywhere(run, url, tmp_path, path, "line 5", "UTF-8")


# ---- (b) a value over the store's size limit -----------------------------------------------
def test_value_over_the_store_limit_is_refused(run: Run, url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """etcd refuses requests over 1.5 MiB; file and redis are given a small limit to prove the contract."""
    if not url.startswith("etcd"):
        from dockyard.propstores.file import FileStore
        from dockyard.propstores.redis import RedisStore

        monkeypatch.setattr(FileStore if url.startswith("file") else RedisStore, "max_value_bytes", 100_000,
                            raising=False)
    big = line({"plugin": "config", "scope": "web", "key": "BIG", "value": "x" * (3 * 1024 * 1024)})
    path = write_export(tmp_path / "big.jsonl", [*good_lines(150), big])
    assert_refused_everywhere(run, url, tmp_path, path, "line 152", "limit")


# ---- (c) duplicates, names and the header --------------------------------------------------
@pytest.mark.parametrize(("bad", "expected"), [
    (b'{"plugin":"nginx","plugin":"config","scope":"web","key":"K","value":"x"}\n', "duplicate JSON key 'plugin'"),
    (b'{"plugin":"config","scope":"web","key":"K","value":"a","value":"b"}\n', "duplicate JSON key 'value'"),
    (line({"plugin": "bulk", "scope": "app1", "key": "k00001", "value": "again"}), "duplicate property"),
    (line({"plugin": "config", "scope": "Web_App", "key": "K", "value": "x"}), "invalid scope"),
    (line({"plugin": "config", "scope": "-web", "key": "K", "value": "x"}), "invalid scope"),
    # the issue's own names: one nginx would expand per request, and four that apps:list
    # showed and apps:destroy could not remove
    *[(line({"plugin": "config", "scope": scope, "key": "K", "value": "x"}), "invalid scope")
      for scope in ("x$host", "Shop", "-rf", "--GLOBAL", "shop\u202e")],
])
def test_duplicates_and_bad_scopes_are_refused(run: Run, url: str, tmp_path: Path, bad: bytes,
                                               expected: str) -> None:
    path = write_export(tmp_path / "dup.jsonl", [*good_lines(3), bad])
    assert_refused_everywhere(run, url, tmp_path, path, "line 5", expected)


@pytest.mark.parametrize(("header", "expected"), [
    ({"source": 5}, "source"),
    ({"exported_at": ["2024"]}, "exported_at"),
    ({"count": 2.0}, "count"),
])
def test_header_field_types_are_checked(run: Run, url: str, tmp_path: Path, header: dict[str, Any],
                                        expected: str) -> None:
    path = write_export(tmp_path / "head.jsonl", good_lines(2), header=header)
    assert_refused_everywhere(run, url, tmp_path, path, "line 1: the header", expected)


def test_duplicate_key_in_the_header_is_refused(run: Run, url: str, tmp_path: Path) -> None:
    lines = good_lines(2)
    sha = hashlib.sha256(b"".join(lines)).hexdigest()
    raw = (b'{"format":"dockyard.properties","version":1,"version":1,"source":"t",'
           b'"exported_at":"2024-01-01T00:00:00Z","count":2,"sha256":"' + sha.encode() + b'"}')
    path = write_export(tmp_path / "head.jsonl", lines, raw_header=raw)
    assert_refused_everywhere(run, url, tmp_path, path, "line 1: the header", "duplicate JSON key 'version'")


# ---- (d) bounded decompression ----------------------------------------------------------------
def test_inflated_size_cap(run: Run, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_export(tmp_path / "many.jsonl.gz", good_lines(500))
    monkeypatch.setenv("DOCKYARD_IMPORT_MAX_BYTES", "10000")
    assert_refused_everywhere(run, url, tmp_path, path, "passes 10000 bytes once decompressed",
                              "DOCKYARD_IMPORT_MAX_BYTES")
    monkeypatch.setenv("DOCKYARD_IMPORT_MAX_BYTES", str(1 << 20))
    ok(run("--propstore", url, "props:import", str(path)))  # under the cap it imports


def test_line_length_cap(run: Run, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    long = line({"plugin": "config", "scope": "web", "key": "LONG", "value": "y" * 5000})
    path = write_export(tmp_path / "long.jsonl.gz", [*good_lines(3), long])
    monkeypatch.setenv("DOCKYARD_IMPORT_MAX_LINE_BYTES", "4096")
    assert_refused_everywhere(run, url, tmp_path, path, "line 5", "longer than 4096 bytes",
                              "DOCKYARD_IMPORT_MAX_LINE_BYTES")


def test_gzip_of_zeros_stops_at_the_line_cap(run: Run, url: str, tmp_path: Path) -> None:
    """32 MiB of zeros (32 KiB compressed): one line longer than the default 16 MiB, refused early."""
    path = tmp_path / "zeros.jsonl.gz"
    path.write_bytes(gzip.compress(bytes(32 << 20), compresslevel=9))
    assert_refused_everywhere(run, url, tmp_path, path, "line 1", "longer than 16777216 bytes")


@pytest.mark.parametrize("value", ["-1", "0", "lots"])
def test_bad_cap_setting_is_one_line(run: Run, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     value: str) -> None:
    path = write_export(tmp_path / "ok.jsonl", good_lines(2))
    monkeypatch.setenv("DOCKYARD_IMPORT_MAX_BYTES", value)
    assert_refused_everywhere(run, url, tmp_path, path, "DOCKYARD_IMPORT_MAX_BYTES")
