"""`props:import` throughput of this checkout beside another revision's, in the same run.

Imports became all-or-nothing (everything validated before the first write, staged trees on
file, one MULTI/EXEC on redis, a journal on etcd), with the bar that throughput falls by no
more than 10% from the code before. Figures from another day cannot show that: the disk,
the load and the servers differ. So this runs the user's own command, ``dockyard
props:import FILE`` into a fresh store, with this checkout's ``dockyard`` and with a second
checkout's (``--base``), alternating trial by trial on the same private redis and etcd and
the same disk, and prints the medians side by side.

    git worktree add --detach /tmp/base 1e71752   # the last commit before issue 8's work
    python3 -m venv /tmp/base/.venv && /tmp/base/.venv/bin/pip install -q -e '/tmp/base[all]'
    .venv/bin/python benchmarks/import_revisions.py --base /tmp/base/.venv/bin/dockyard
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
import uuid
from contextlib import ExitStack
from pathlib import Path

from dockyard.testing.propstores import run_etcd_server, run_redis_server

# the same properties as benchmarks/propstores.py (this script's folder is first on sys.path)
from propstores import dataset, print_table, write_export


class Fresh:
    """An empty store of each kind for every trial: a new folder, or the private redis and
    etcd emptied, so no trial scans (``props:import`` reads the store to plan) what an
    earlier one wrote."""

    def __init__(self, tmp: Path, redis_url: str, etcd_url: str) -> None:
        import etcd3
        import redis

        self.tmp, self.redis_url, self.etcd_url = tmp, redis_url, etcd_url
        self.redis = redis.Redis.from_url(redis_url)
        host, port = etcd_url.split("://", 1)[1].split(":")
        self.etcd = etcd3.client(host=host, port=int(port))

    def url(self, kind: str) -> str:
        if kind == "file":
            root = self.tmp / f"store-{uuid.uuid4().hex[:10]}"
            root.mkdir()
            return f"file://{root}"
        if kind == "redis":
            self.redis.flushall()
            return f"{self.redis_url}?prefix=bench:"
        self.etcd.delete_prefix("/")
        return f"{self.etcd_url}?prefix=/bench/"

    def close(self) -> None:
        self.redis.close()
        self.etcd.close()


def timed_import(dockyard: str, url: str, src: Path) -> float:
    os.sync()  # the previous trial's dirty pages are written out now, not during this one
    started = time.perf_counter()
    done = subprocess.run([dockyard, "--propstore", url, "props:import", str(src)], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{dockyard} props:import failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the other revision's dockyard executable")
    ap.add_argument("--n", type=int, default=50_000, help="properties for file and redis")
    ap.add_argument("--etcd-n", type=int, default=20_000, help="properties for etcd")
    ap.add_argument("--trials", type=int, default=7)
    args = ap.parse_args()
    ours = shutil.which("dockyard", path=str(Path(sys.executable).parent)) or "dockyard"

    rows = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dockyard-bench-")))
        (tmp / "redis").mkdir()
        (tmp / "etcd").mkdir()
        redis_url = stack.enter_context(run_redis_server(shutil.which("redis-server") or "redis-server",
                                                         tmp / "redis"))
        etcd_url = stack.enter_context(run_etcd_server(shutil.which("etcd") or "etcd", tmp / "etcd"))
        fresh = Fresh(tmp, redis_url, etcd_url)
        stack.callback(fresh.close)
        for kind, n in (("file", args.n), ("redis", args.n), ("etcd", args.etcd_n)):
            src = tmp / f"{kind}.jsonl"
            write_export(dataset(n), src)
            times: dict[str, list[float]] = {"ours": [], "base": []}
            for trial in range(args.trials):
                # alternate who goes first, so neither always meets a warmer cache
                order = [("ours", ours), ("base", args.base)]
                for side, exe in order if trial % 2 == 0 else order[::-1]:
                    times[side].append(timed_import(exe, fresh.url(kind), src))
                print(f"{kind} trial {trial + 1}: ours {times['ours'][-1]:.2f} s, base {times['base'][-1]:.2f} s",
                      file=sys.stderr)
            t_ours, t_base = statistics.median(times["ours"]), statistics.median(times["base"])
            ratio = (n / t_ours) / (n / t_base)
            goal = "≥0.9x ✓" if ratio >= 0.9 else "≥0.9x ✗"
            rows.append((f"{kind} props:import {n:,}", f"{n / t_ours:,.0f} props/s", f"{n / t_base:,.0f} props/s",
                         f"{ratio:.2f}x", goal))

    print()
    print(f"props:import, this checkout beside {args.base}, measured {time.strftime('%Y-%m-%d')}, medians of "
          f"{args.trials} alternated trials, each into a fresh store (whole command, start-up included).")
    print()
    print_table(("Measure", "Dockyard (this checkout)", "Baseline (other revision, same run)", "Throughput ratio",
                 "Goal"), rows)


if __name__ == "__main__":
    main()
