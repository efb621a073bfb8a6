"""Concurrent CLI writers on one store (issue 8): no update lost, no port held by two apps.

Real processes of the real entry point, released at the same instant, on every store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.core import open_propstore

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


def _env(url: str, root: Path) -> dict[str, str]:
    config = root / "dockyard.toml"
    config.write_text("")
    env = dict(os.environ, DOCKYARD_PROPSTORE=url, DOCKYARD_ROOT=str(root / "root"), DOCKYARD_CONFIG=str(config))
    env.pop("DOCKYARD_SCHEDULER", None)
    return env


def _at_once(commands: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Run each command list (a shell loop of dockyard calls) in its own process, started together."""
    start = time.time() + 1.0
    wait = f"'{sys.executable}' -c 'import sys, time; time.sleep(max(0, float(sys.argv[1]) - time.time()))' \"$0\""
    procs = []
    for cmds in commands:
        body = " && ".join(" ".join(f"'{a}'" for a in c) for c in cmds)
        procs.append(subprocess.Popen(["bash", "-c", wait + " && " + body, str(start)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


@pytest.mark.parametrize("kind", ["file", "redis", "etcd"])
def test_concurrent_domains_add_keeps_all(kind: str, store_url_factory: Any, tmp_path: Path) -> None:
    url = store_url_factory(kind)
    env = _env(url, tmp_path)
    assert subprocess.run([DOCKYARD, "apps:create", "web"], env=env, capture_output=True).returncode == 0
    jobs = [[[DOCKYARD, "domains:add", "web", f"d{p}-{i}.example.com"] for i in range(10)] for p in range(8)]
    for r in _at_once(jobs, env):
        assert r.returncode == 0, r.stderr
    with open_propstore(url) as store:
        kept = store.list_get("domains", "web", "vhosts")
    assert sorted(kept) == sorted(f"d{p}-{i}.example.com" for p in range(8) for i in range(10))


@pytest.mark.parametrize("kind", ["file", "redis", "etcd"])
def test_tcp_port_claimed_by_one_app(kind: str, store_url_factory: Any, tmp_path: Path) -> None:
    url = store_url_factory(kind)
    env = _env(url, tmp_path)
    for n in range(8):
        assert subprocess.run([DOCKYARD, "apps:create", f"app{n}"], env=env, capture_output=True).returncode == 0
    results = _at_once([[[DOCKYARD, "ports:add", f"app{n}", "tcp:7701:5000"]] for n in range(8)], env)
    winners = [n for n, r in enumerate(results) if r.returncode == 0]
    assert len(winners) == 1, [r.stderr for r in results]
    with open_propstore(url) as store:
        holders = [n for n in range(8) if any(":7701:" in e for e in store.list_get("ports", f"app{n}", "map"))]
    assert holders == winners
    for n, r in enumerate(results):
        if n not in winners:
            assert "conflicts with app" in r.stderr, r.stderr


HOLDER = """
import sys, time
from dockyard.core import open_propstore
from dockyard.core.errors import LockLost
s = open_propstore(sys.argv[1])
with s.lock("deploy-web"):
    print("locked", flush=True)
    sys.stdin.readline()  # the test stops us here past the TTL, then lets us go on
    try:
        s.set("release", "web", "current", "first")
    except LockLost as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
"""


@pytest.mark.parametrize("kind", ["redis", "etcd"])
def test_holder_stopped_past_ttl_writes_nothing(kind: str, store_url_factory: Any) -> None:
    """SIGSTOP a lock holder past its TTL; a second holder writes; the first resumes and stops
    with one line before its next write (issue 8)."""
    import signal

    url = store_url_factory(kind)
    env = dict(os.environ, DOCKYARD_LOCK_TTL="1")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        holder.send_signal(signal.SIGSTOP)
        time.sleep(2.5)
        os.environ["DOCKYARD_LOCK_TTL"] = "1"
        try:
            with open_propstore(url) as second, second.lock("deploy-web", timeout=5):
                second.set("release", "web", "current", "second")
        finally:
            del os.environ["DOCKYARD_LOCK_TTL"]
        holder.send_signal(signal.SIGCONT)
        _, err = holder.communicate("go\n", timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert holder.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: lost the lock 'deploy-web'"), err
    with open_propstore(url) as store:
        assert store.get("release", "web", "current") == "second"
