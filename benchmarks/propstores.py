"""Property-store benchmark: Dockyard's stores beside the raw clients, measured in one run.

    python benchmarks/propstores.py [--n 100000] [--etcd-n 20000] [--ops 2000]

Starts a private redis-server and etcd on free loopback ports (temp dirs, removed at the end)
and a file store in a temp dir, then prints one Markdown table:

- per-operation get/set: Dockyard's store against the raw client doing the same work
  (redis-py GET/SET, etcd3 get/put, a plain file read / an atomic replace with fsync);
- export and import of N properties per store, in props/s, against a naive per-key loop
  with the same raw client (measured on a subset, since it is slow, and reported in props/s),
  and for redis against the raw client's fastest bulk form (pipelined SET; SCAN + MGET);
- ``dockyard config:get APP KEY`` wall time on the file store against
  ``python -c "import click"``, both run as fresh processes in this run.

Runtime is bounded: about one to two minutes on 2 cores with the defaults.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")

from dockyard.core import open_propstore
from dockyard.propstores.base import Property, PropertyStore, encode_data
from dockyard.propstores.export import (
    digest,
    export_store,
    header_line,
    import_file,
    property_line,
)
from dockyard.testing.propstores import run_etcd_server, run_redis_server

Row = tuple[str, str, str, str, str]
ROWS: list[Row] = []


def row(measure: str, ours: str, base: str, ratio: str, goal: str) -> None:
    ROWS.append((measure, ours, base, ratio, goal))
    print(f"  {measure}: {ours} vs {base} ({ratio}) goal {goal}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired_per_op(ours: Callable[[int], Any], base: Callable[[int], Any], n: int) -> tuple[float, float]:
    """Median seconds per call of each, their calls alternated one by one (after a warm-up of
    both), so a drift in the machine's speed during the run weighs on both sides alike."""
    for i in range(min(50, n)):
        ours(i)
        base(i)
    a: list[float] = []
    b: list[float] = []
    clock = time.perf_counter
    for i in range(n):
        start = clock()
        ours(i)
        middle = clock()
        base(i)
        a.append(middle - start)
        b.append(clock() - middle)
    return statistics.median(a), statistics.median(b)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} props/s"


def goal_met(ok: bool, text: str) -> str:
    return f"{text} {'✓' if ok else '✗'}"


def dataset(n: int) -> list[Property]:
    """N properties shaped like a big install: n/200 apps, a dozen plugins (~17 keys each), 10% lists."""
    plugins = ["apps", "config", "domains", "network", "nginx", "ports", "proxy", "ps", "scheduler", "certs",
               "checks", "release"]
    props = []
    for i in range(n):
        plugin = plugins[i % len(plugins)]
        scope = "--global" if i % 97 == 0 else f"app-{i // 200:05d}"
        key = f"key-{i:07d}"
        if i % 10 == 3:
            props.append(Property(plugin, scope, key, items=(f"http:80:{5000 + i % 1000}", f"https:443:{i % 1000}")))
        else:
            props.append(Property(plugin, scope, key, value=f"value {i} with 100% text ✓"))
    return props


def write_export(props: list[Property], path: Path, source: str = "benchmark") -> None:
    lines = [property_line(p) for p in sorted(props, key=lambda p: (p.plugin, p.scope, p.key))]
    count, sha = digest(lines)
    with open(path, "wb") as fh:
        fh.write(header_line(source, count, sha))
        fh.write(b"".join(lines))


# ---- raw baselines ----------------------------------------------------------------------------------
def raw_atomic_write(directory: str, name: str, data: bytes) -> None:
    """What any careful program does to replace a file: temp, fsync, rename, fsync dir."""
    tmp = f"{directory}/.tmp-{name}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    os.replace(tmp, f"{directory}/{name}")
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)


def raw_read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


# ---- sections ------------------------------------------------------------------------------------------
def bench_per_op(stores: dict[str, PropertyStore], raw: dict[str, Any], tmp: Path, ops: int) -> None:
    print("per-operation get/set", file=sys.stderr)
    # file
    fs = stores["file"]
    raw_dir = tmp / "rawfile" / "config" / "bench" / "web"
    raw_dir.mkdir(parents=True)
    d = str(raw_dir)
    t_set, b_set = paired_per_op(lambda i: fs.set("bench", "web", f"k{i % 100}", f"value {i}"),
                                 lambda i: raw_atomic_write(d, f"k{i % 100}", f"value {i}".encode()), ops)
    row("file set (atomic, fsync)", us(t_set), us(b_set), f"{t_set / b_set:.2f}x",
        goal_met(t_set / b_set <= 1.3, "≤1.3x"))
    t_get, b_get = paired_per_op(lambda i: fs.get("bench", "web", f"k{i % 100}"),
                                 lambda i: raw_read(f"{d}/k{i % 100}").decode(), ops)
    row("file get", us(t_get), us(b_get), f"{t_get / b_get:.2f}x", goal_met(t_get / b_get <= 1.3, "≤1.3x"))
    # redis
    rs, rc = stores["redis"], raw["redis"]
    t_set, b_set = paired_per_op(lambda i: rs.set("bench", "web", f"k{i % 100}", f"value {i}"),
                                 lambda i: rc.set(f"rawbench:k{i % 100}", f"value {i}"), ops)
    row("redis set", us(t_set), us(b_set), f"{t_set / b_set:.2f}x", goal_met(t_set / b_set <= 1.3, "≤1.3x"))
    t_get, b_get = paired_per_op(lambda i: rs.get("bench", "web", f"k{i % 100}"),
                                 lambda i: rc.get(f"rawbench:k{i % 100}"), ops)
    row("redis get", us(t_get), us(b_get), f"{t_get / b_get:.2f}x", goal_met(t_get / b_get <= 1.3, "≤1.3x"))
    # etcd
    es, ec = stores["etcd"], raw["etcd"]
    n = max(200, ops // 4)
    t_set, b_set = paired_per_op(lambda i: es.set("bench", "web", f"k{i % 100}", f"value {i}"),
                                 lambda i: ec.put(f"/rawbench/k{i % 100}", f"value {i}"), n)
    row("etcd set", us(t_set), us(b_set), f"{t_set / b_set:.2f}x", goal_met(t_set / b_set <= 1.3, "≤1.3x"))
    t_get, b_get = paired_per_op(lambda i: es.get("bench", "web", f"k{i % 100}"),
                                 lambda i: ec.get(f"/rawbench/k{i % 100}")[0], n)
    row("etcd get", us(t_get), us(b_get), f"{t_get / b_get:.2f}x", goal_met(t_get / b_get <= 1.3, "≤1.3x"))
    fs.destroy_scope("web")
    rs.destroy_scope("web")
    es.destroy_scope("web")


def bench_atomic(stores: dict[str, PropertyStore], raw: dict[str, Any], tmp: Path, ops: int) -> None:
    """list_add and claim (atomic read-modify-write) beside the raw client's one equivalent operation,
    the two alternated call by call.

    redis: APPEND of the same bytes, and SET NX; etcd: a read then a txn on mod_revision (etcd
    has no append), and a txn on create_revision == 0; file: flock + read + atomic replace, and
    a durable link-based create-if-absent.
    """
    import fcntl

    print("atomic list_add / claim", file=sys.stderr)
    fs = stores["file"]
    raw_dir = tmp / "rawfile-atomic"
    raw_dir.mkdir()
    d = str(raw_dir)
    lock_path = f"{d}/lock"

    def raw_file_add(i: int) -> None:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            path = f"{d}/l{i % 100}"
            try:
                old = raw_read(path)
            except FileNotFoundError:
                old = b""
            raw_atomic_write(d, f"l{i % 100}", old + f"item {i}\n".encode())
        finally:
            os.close(fd)

    def raw_file_claim(i: int) -> None:
        """A durable create-if-absent of a name holding its owner, as a careful program does
        it without a lock: temp, fsync, link (EEXIST when held, so no one ever sees an empty
        or partial owner), fsync dir. A bare O_EXCL create writes no owner and syncs nothing."""
        tmp = f"{d}/.tmp-claim"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"web")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, f"{d}/c{i}")
        except FileExistsError:
            return
        finally:
            os.unlink(tmp)
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)

    t, b = paired_per_op(lambda i: fs.list_add("bench", "atomic", f"l{i % 100}", f"item {i}"), raw_file_add,
                         ops)
    row("file list_add", us(t), us(b) + " (flock, read, replace)", f"{t / b:.2f}x", goal_met(t / b <= 1.3, "≤1.3x"))
    t, b = paired_per_op(lambda i: fs.claim("benchclaim", f"c{i}", "web"), raw_file_claim, ops)
    row("file claim", us(t), us(b) + " (temp, fsync, link, fsync dir)", f"{t / b:.2f}x",
        goal_met(t / b <= 1.3, "≤1.3x"))

    rs, rc = stores["redis"], raw["redis"]
    t, b = paired_per_op(lambda i: rs.list_add("bench", "atomic", f"l{i % 100}", f"item {i}"),
                         lambda i: rc.append(f"rawatomic:l{i % 100}", f"item {i}\n"), ops)
    row("redis list_add", us(t), us(b) + " (APPEND)", f"{t / b:.2f}x", goal_met(t / b <= 1.3, "≤1.3x"))
    t, b = paired_per_op(lambda i: rs.claim("benchclaim", f"c{i}", "web"),
                         lambda i: rc.set(f"rawclaim:c{i}", "web", nx=True), ops)
    row("redis claim", us(t), us(b) + " (SET NX)", f"{t / b:.2f}x", goal_met(t / b <= 1.3, "≤1.3x"))

    es, ec = stores["etcd"], raw["etcd"]
    n = max(200, ops // 4)

    def raw_etcd_add(i: int) -> None:
        key = f"/rawatomic/l{i % 100}"
        value, meta = ec.get(key)
        compare = ec.transactions.mod(key) == (meta.mod_revision if meta else 0)
        ec.transaction(compare=[compare], success=[ec.transactions.put(key, (value or b"") + f"item {i}\n".encode())],
                       failure=[])

    def raw_etcd_claim(i: int) -> None:
        key = f"/rawclaim/c{i}"
        ec.transaction(compare=[ec.transactions.create(key) == 0], success=[ec.transactions.put(key, "web")],
                       failure=[])

    t, b = paired_per_op(lambda i: es.list_add("bench", "atomic", f"l{i % 100}", f"item {i}"), raw_etcd_add,
                         n)
    row("etcd list_add", us(t), us(b) + " (get + txn on mod_revision)", f"{t / b:.2f}x",
        goal_met(t / b <= 1.3, "≤1.3x"))
    t, b = paired_per_op(lambda i: es.claim("benchclaim", f"c{i}", "web"), raw_etcd_claim, n)
    row("etcd claim", us(t), us(b) + " (txn create_revision == 0)", f"{t / b:.2f}x", goal_met(t / b <= 1.3, "≤1.3x"))
    for store in (fs, rs, es):
        store.destroy_scope("atomic")
        store.destroy_scope("--global")


def bench_bulk(kind: str, store: PropertyStore, raw_client: Any, props: list[Property], tmp: Path,
               naive_n: int) -> None:
    n = len(props)
    print(f"{kind}: export/import of {n:,} properties", file=sys.stderr)
    src = tmp / f"{kind}-in.jsonl"
    write_export(props, src)
    t_import = timed(lambda: import_file(store, src))
    out = tmp / f"{kind}-out.jsonl"
    result: list[Any] = []
    t_export = timed(lambda: result.append(export_store(store, out)))
    assert result[0].count == n, (result[0].count, n)
    sub = props[:naive_n]
    paths = [f"{p.plugin}/{p.scope}/{p.key}" for p in sub]
    payloads = [encode_data(p.data()) for p in sub]

    if kind == "file":
        root = tmp / "naive-file" / "config"

        def naive_import() -> None:
            for path, data in zip(paths, payloads, strict=True):
                directory = root / path.rsplit("/", 1)[0]
                directory.mkdir(parents=True, exist_ok=True)
                raw_atomic_write(str(directory), path.rsplit("/", 1)[1], data.encode())

        def naive_export() -> None:
            files = sorted(str(p) for p in root.rglob("*") if p.is_file())
            for f in files:
                raw_read(f).decode()
    elif kind == "redis":
        def naive_import() -> None:
            for path, data in zip(paths, payloads, strict=True):
                raw_client.set(f"naive:{path}", data)

        def naive_export() -> None:
            keys = list(raw_client.scan_iter(match="naive:*", count=1000))
            for k in keys:
                raw_client.get(k)
    else:
        def naive_import() -> None:
            for path, data in zip(paths, payloads, strict=True):
                raw_client.put(f"/naive/{path}", data)

        def naive_export() -> None:
            keys = [m.key for _, m in raw_client.get_prefix("/naive/", keys_only=True)]
            for k in keys:
                raw_client.get(k)

    t_naive_import = timed(naive_import)
    t_naive_export = timed(naive_export)
    ours_i, base_i = n / t_import, naive_n / t_naive_import
    ours_e, base_e = n / t_export, naive_n / t_naive_export
    label = f"{kind} import {n:,}"
    row(label + f" (naive loop on {naive_n:,})", rate(n, t_import), rate(naive_n, t_naive_import),
        f"{ours_i / base_i:.1f}x faster", goal_met(ours_i / base_i >= 20, "≥20x faster"))
    export_goal = goal_met(ours_e >= 50_000, "≥50,000 props/s") if kind in ("file", "redis") else "-"
    row(f"{kind} export {n:,} (naive loop on {naive_n:,})", rate(n, t_export), rate(naive_n, t_naive_export),
        f"{ours_e / base_e:.1f}x faster", export_goal)

    if kind == "redis":
        items = [(f"bulk:{p.plugin}/{p.scope}/{p.key}", encode_data(p.data())) for p in props]

        def pipelined_set() -> None:
            pipe = raw_client.pipeline(transaction=False)
            for i, (k, v) in enumerate(items, 1):
                pipe.set(k, v)
                if i % 10_000 == 0:
                    pipe.execute()
            pipe.execute()

        def scan_mget() -> None:
            got = 0
            for_keys: list[str] = []
            cursor = 0
            while True:
                cursor, keys = raw_client.scan(cursor, match="bulk:*", count=2000)
                if keys:
                    got += len(raw_client.mget(keys))
                    for_keys.extend(keys)
                if not cursor:
                    break
            assert got == n, got

        t_bulk_set = timed(pipelined_set)
        t_bulk_get = timed(scan_mget)
        row(f"redis import {n:,} vs pipelined SET", rate(n, t_import), rate(n, t_bulk_set),
            f"{t_import / t_bulk_set:.2f}x", goal_met(t_import / t_bulk_set <= 3, "≤3x"))
        row(f"redis export {n:,} vs SCAN+MGET", rate(n, t_export), rate(n, t_bulk_get),
            f"{t_export / t_bulk_get:.2f}x", goal_met(t_export / t_bulk_get <= 3, "≤3x"))


def median_wall(cmd: list[str], env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs + 2):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples[2:])


def bench_cli(tmp: Path, runs: int) -> None:
    print("CLI: config:get", file=sys.stderr)
    root = tmp / "cli-root"
    root.mkdir()
    cfg = tmp / "empty.toml"
    cfg.write_text("")
    env = dict(os.environ, DOCKYARD_ROOT=str(root), DOCKYARD_CONFIG=str(cfg))
    env.pop("DOCKYARD_PROPSTORE", None)
    # Both sides run from bytecode, as installed packages do: pip compiled click's .pyc at
    # install time, so Dockyard's own sources must not be recompiled on every run either.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    import compileall

    import dockyard.core

    package_root = Path(dockyard.core.__file__).resolve().parent.parent
    for part in ("core", "propstores"):
        compileall.compile_dir(str(package_root / part), quiet=1)
    exe = shutil.which("dockyard") or str(Path(sys.executable).parent / "dockyard")
    subprocess.run([exe, "apps:create", "web"], env=env, check=True, capture_output=True)
    subprocess.run([exe, "config:set", "web", "KEY=value"], env=env, check=True, capture_output=True)
    out = subprocess.run([exe, "config:get", "web", "KEY"], env=env, check=True, capture_output=True, text=True)
    assert out.stdout == "value\n", out
    ours = median_wall([exe, "config:get", "web", "KEY"], env, runs)
    base = median_wall([sys.executable, "-c", "import click"], env, runs)
    row("`dockyard config:get web KEY` (file store)", f"{ours * 1e3:.0f} ms",
        f"{base * 1e3:.0f} ms (python -c 'import click')", f"{ours / base:.2f}x", goal_met(ours / base <= 1.5, "≤1.5x"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="properties for file and redis export/import")
    ap.add_argument("--etcd-n", type=int, default=100_000, help="properties for etcd export/import")
    ap.add_argument("--naive-n", type=int, default=2_000, help="properties for the naive per-key loops")
    ap.add_argument("--ops", type=int, default=2_000, help="calls per per-operation figure")
    ap.add_argument("--cli-runs", type=int, default=15)
    args = ap.parse_args()

    import etcd3
    import redis

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dockyard-bench-")))
        for d in ("redis", "etcd", "filestore"):
            (tmp / d).mkdir()
        redis_url = stack.enter_context(run_redis_server(shutil.which("redis-server") or "redis-server",
                                                         tmp / "redis"))
        etcd_url = stack.enter_context(run_etcd_server(shutil.which("etcd") or "etcd", tmp / "etcd"))
        host, port = etcd_url.split("://", 1)[1].split(":")
        stores: dict[str, PropertyStore] = {
            "file": open_propstore(f"file://{tmp / 'filestore'}"),
            "redis": open_propstore(redis_url + "?prefix=dy:"),
            "etcd": open_propstore(etcd_url + "?prefix=/dy/"),
        }
        raw = {"redis": redis.Redis.from_url(redis_url, decode_responses=True),
               "etcd": etcd3.client(host=host, port=int(port))}
        for s in stores.values():
            stack.callback(s.close)
        stack.callback(raw["redis"].close)
        stack.callback(raw["etcd"].close)

        started = time.perf_counter()
        bench_per_op(stores, raw, tmp, args.ops)
        bench_atomic(stores, raw, tmp, args.ops)
        for kind, n in (("file", args.n), ("redis", args.n), ("etcd", args.etcd_n)):
            bench_bulk(kind, stores[kind], raw.get(kind), dataset(n), tmp, args.naive_n)
        bench_cli(tmp, args.cli_runs)
        elapsed = time.perf_counter() - started

    print()
    print(f"Property stores, measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}; redis-server and etcd private on loopback; {elapsed:.0f} s in all.")
    print(f"Export/import: N={args.n:,} for file and redis, N={args.etcd_n:,} for etcd; naive per-key loops "
          f"(raw client, one key at a time) run on the first {args.naive_n:,} properties and are shown in props/s.")
    print()
    print_table(("Measure", "Dockyard", "Baseline (same run)", "Ratio", "Goal"), ROWS)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A Markdown table, as the README keeps it."""
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
