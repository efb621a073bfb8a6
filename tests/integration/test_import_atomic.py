"""A valid import whose write fails part way leaves the store as it was (issue 8, part 3).

The failure is injected where each driver talks to its backend (file: writing a temp file;
redis: queueing the transaction; etcd: a Txn request), on the write of one poisoned value
that comes last in the file. A full export before and after must be byte-identical. On etcd,
an import beyond one transaction is journaled instead: an interruption is finished by
``props:import --resume``.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.cli import ok
from tests.fixtures.stores import STORE_KINDS
from tests.integration.test_import_refusals import (
    SECRET,
    frozen_export_clock,  # noqa: F401 - the autouse fixture, for this module too
    full_export,
    good_lines,
    line,
    write_export,
)

Run = Callable[..., Any]
POISON = "poisoned-value"


@pytest.fixture(params=STORE_KINDS)
def url(request: pytest.FixtureRequest, store_url_factory: Callable[[str], str], run: Run) -> Iterator[str]:
    u = store_url_factory(request.param)
    ok(run("--propstore", u, "props:set", "config", "web", "SECRET", SECRET))
    ok(run("--propstore", u, "props:set", "stale", "web", "old", "1"))  # what --replace deletes
    yield u


def poison_backend(monkeypatch: pytest.MonkeyPatch, url: str, times: int = 1 << 30) -> list[int]:
    """Make the backend write that carries POISON fail (``times`` times); returns a call counter."""
    failures: list[int] = []
    if url.startswith("file"):
        from dockyard.propstores.file import FileStore

        real_write = FileStore._write_temp

        def write_temp(self: Any, directory: str, payload: bytes, sync: bool) -> str:
            if payload == POISON.encode() and len(failures) < times:
                failures.append(1)
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(self, directory, payload, sync)

        monkeypatch.setattr(FileStore, "_write_temp", write_temp)
    elif url.startswith("redis"):
        import redis

        from dockyard.propstores.redis import RedisStore

        real_queue = RedisStore._queue

        def queue(self: Any, pipe: Any, puts: dict[str, str], *args: Any) -> None:
            real_queue(self, pipe, puts, *args)
            if POISON in puts.values() and len(failures) < times:
                failures.append(1)
                raise redis.ConnectionError("connection reset by peer")

        monkeypatch.setattr(RedisStore, "_queue", queue)
    else:
        from dockyard.propstores.etcd import EtcdStore

        real_call = EtcdStore._call

        def call(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            txn = getattr(fn, "_method", b"").endswith(b"/Txn") and args
            if txn and len(failures) < times and any(op.request_put.value == POISON.encode()
                                                     for op in args[0].success):
                failures.append(1)
                fn = reset  # fails inside the driver's own error handling, as a dropped connection would
            return real_call(self, fn, *args, **kwargs)

        def reset(*args: Any, **kwargs: Any) -> Any:
            raise OSError(errno.ECONNRESET, "connection reset by peer")

        monkeypatch.setattr(EtcdStore, "_call", call)
    return failures


def poisoned_file(tmp_path: Path, n: int) -> Path:
    last = line({"plugin": "zzz", "scope": "web", "key": "LAST", "value": POISON})
    return write_export(tmp_path / "poisoned.jsonl.gz", [*good_lines(n), last])


@pytest.mark.parametrize("mode", [(), ("--replace",)])
def test_failed_write_of_one_transaction_leaves_nothing(run: Run, url: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        mode: tuple[str, ...]) -> None:
    """120 properties: one transaction on every store (etcd: 121 ops, within its 128)."""
    path = poisoned_file(tmp_path, 120)
    before = full_export(run, url, tmp_path)
    failures = poison_backend(monkeypatch, url)
    r = run("--propstore", url, "props:import", str(path), *mode)
    assert r.exit_code == 1 and failures, (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert full_export(run, url, tmp_path) == before


@pytest.mark.parametrize("kind", ["file", "redis"])
@pytest.mark.parametrize("mode", [(), ("--replace",)])
def test_failed_write_of_6001_properties_leaves_nothing(run: Run, kind: str, tmp_path: Path,
                                                        store_url_factory: Callable[[str], str],
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        mode: tuple[str, ...]) -> None:
    """Past the old 5,000-operation batches: still one unit on file and redis."""
    u = store_url_factory(kind)
    ok(run("--propstore", u, "props:set", "stale", "web", "old", "1"))
    path = poisoned_file(tmp_path, 6000)
    before = full_export(run, u, tmp_path)
    failures = poison_backend(monkeypatch, u)
    r = run("--propstore", u, "props:import", str(path), *mode)
    assert r.exit_code == 1 and failures, (r.stdout, r.stderr)
    assert full_export(run, u, tmp_path) == before


def test_interrupted_etcd_import_is_finished_by_resume(run: Run, tmp_path: Path,
                                                       store_url_factory: Callable[[str], str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    u = store_url_factory("etcd")
    ok(run("--propstore", u, "props:set", "stale", "web", "old", "1"))
    path = poisoned_file(tmp_path, 6000)
    clean = store_url_factory("etcd")  # the same import without a fault, for comparison
    ok(run("--propstore", clean, "props:set", "stale", "web", "old", "1"))
    ok(run("--propstore", clean, "props:import", str(path), "--replace"))
    expected = full_export(run, clean, tmp_path).split(b"\n", 1)[1]

    failures = poison_backend(monkeypatch, u, times=1)
    r = run("--propstore", u, "props:import", str(path), "--replace")
    assert r.exit_code == 1 and failures
    message = r.stderr.strip()
    assert len(message.splitlines()) == 1 and "props:import --resume" in message, message
    other = write_export(tmp_path / "other.jsonl", good_lines(2, plugin="other"))
    for mode in ((), ("--dry-run",)):  # refused until the first one is finished; --dry-run says so too
        r = run("--propstore", u, "props:import", str(other), *mode)
        assert r.exit_code == 1 and "--resume" in r.stderr, mode
    r = run("--propstore", u, "props:import", "--resume")
    assert r.exit_code == 0, r.stderr
    assert "Resumed" in r.stdout
    assert full_export(run, u, tmp_path).split(b"\n", 1)[1] == expected
    r = run("--propstore", u, "props:import", "--resume")
    assert r.exit_code == 0 and "no interrupted import" in r.stdout
    ok(run("--propstore", u, "props:import", str(other)))


def test_resume_elsewhere_has_nothing_to_do(run: Run, url: str) -> None:
    r = run("--propstore", url, "props:import", "--resume")
    assert r.exit_code == 0 and "no interrupted import" in r.stdout
    r = run("--propstore", url, "props:import", "x.jsonl", "--resume")
    assert r.exit_code == 2


def test_etcd_failure_while_writing_the_journal_leaves_nothing(run: Run, tmp_path: Path,
                                                               store_url_factory: Callable[[str], str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the journal's head is written no property has changed, and there is nothing to resume."""
    from dockyard.propstores.etcd import EtcdStore

    u = store_url_factory("etcd")
    ok(run("--propstore", u, "props:set", "stale", "web", "old", "1"))
    path = poisoned_file(tmp_path, 1000)
    before = full_export(run, u, tmp_path)
    real_call = EtcdStore._call
    failed: list[int] = []

    def call(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        txn = getattr(fn, "_method", b"").endswith(b"/Txn") and args
        if txn and not failed and any(b"/journal/import/ops/00000005" in op.request_put.key for op in args[0].success):
            failed.append(1)
            fn = reset
        return real_call(self, fn, *args, **kwargs)

    def reset(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ECONNRESET, "connection reset by peer")

    monkeypatch.setattr(EtcdStore, "_call", call)
    r = run("--propstore", u, "props:import", str(path), "--replace")
    assert r.exit_code == 1 and failed and len(r.stderr.strip().splitlines()) == 1
    assert full_export(run, u, tmp_path) == before
    r = run("--propstore", u, "props:import", "--resume")
    assert r.exit_code == 0 and "no interrupted import" in r.stdout
    assert full_export(run, u, tmp_path) == before
    ok(run("--propstore", u, "props:import", str(path), "--replace"))
    assert full_export(run, u, tmp_path) != before


def test_large_values_that_each_fit_import_on_every_store(run: Run, url: str, tmp_path: Path) -> None:
    """Five 1 MiB values: each fits etcd's 1.5 MiB request, together they need five transactions."""
    big = [line({"plugin": "certs", "scope": f"app{i}", "key": "bundle", "value": str(i) * (1 << 20)})
           for i in range(5)]
    path = write_export(tmp_path / "big.jsonl.gz", big)
    r = run("--propstore", url, "props:import", str(path))
    assert r.exit_code == 0, r.stderr
    exported = full_export(run, url, tmp_path).split(b"\n")
    assert [json.loads(x)["value"][:1] for x in exported[1:-1] if b'"certs"' in x] == list("01234")


@pytest.mark.parametrize(("kind", "n"), [("file", 6000), ("redis", 6000), ("etcd", 120)])
def test_failed_migrate_leaves_the_target_as_it_was(run: Run, kind: str, n: int, tmp_path: Path,
                                                    store_url_factory: Callable[[str], str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """props:migrate writes through the same batch: a fault on the last value leaves the target empty."""
    ok(run("props:import", str(poisoned_file(tmp_path, n))))  # the source: the default file store
    target = store_url_factory(kind)
    before = full_export(run, target, tmp_path)
    with monkeypatch.context() as patch:
        failures = poison_backend(patch, target)
        r = run("props:migrate", "--to", target)
    assert r.exit_code == 1 and failures, (r.stdout, r.stderr)
    assert full_export(run, target, tmp_path) == before
    r = ok(run("props:migrate", "--to", target))  # still empty, so no --replace is needed
    assert f"Migrated {n + 1} properties" in r.stdout
