"""kill -9 during an import leaves the old state or the new one, on every store (issue 8).

The import runs as a real ``dockyard props:import`` process, killed with SIGKILL at several
moments. Then the store is opened again (the file store finishes a journaled batch when it
opens; etcd's journal is finished by ``props:import --resume``) and must hold exactly what
it held before, or exactly that plus the whole import: never a part of it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockyard.core import open_propstore
from dockyard.propstores.base import Delete, Put
from tests.fixtures.stores import STORE_KINDS
from tests.integration.test_import_refusals import good_lines, write_export

Run = Callable[..., Any]
N = 3000
DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


def state(url: str) -> dict[tuple[str, str, str], Any]:
    store = open_propstore(url)  # the file store finishes an interrupted batch here
    try:
        return {(p.plugin, p.scope, p.key): p.data() for p in store.iter_properties()}
    finally:
        store.close()


def seed(url: str) -> None:
    store = open_propstore(url)
    store.apply([Put("config", "web", "SECRET", "s3cret"), Put("apps", "web", "created-at", "1")])
    store.close()


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_kill_9_during_an_import_leaves_the_old_state_or_the_new(
        kind: str, store_url_factory: Callable[[str], str], tmp_path: Path, run: Run,
        dockyard_root: Path) -> None:
    url = store_url_factory(kind)
    export = write_export(tmp_path / "big.jsonl", good_lines(N))
    seed(url)
    before = state(url)
    after = {**before, **{("bulk", f"app{i % 7}", f"k{i:05d}"): f"v{i}" for i in range(N)}}
    outcomes: list[str] = []
    env = {**os.environ, "DOCKYARD_PROPSTORE": url, "DOCKYARD_LOCK_TTL": "2"}
    # one whole import first, to aim the kills inside the write (startup is part of it)
    start = time.monotonic()
    subprocess.run([DOCKYARD, "props:import", str(export)], env=env, check=True, capture_output=True)
    took = time.monotonic() - start
    assert state(url) == after
    reset = open_propstore(url)
    reset.apply([Delete(*k) for k in after if k[0] == "bulk"])
    reset.close()
    for delay in (took * f for f in (0.55, 0.65, 0.75, 0.85, 0.9, 0.95)):
        proc = subprocess.Popen([DOCKYARD, "props:import", str(export)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        now = state(url)
        if now not in (before, after):
            # the killed importer's lock lapses after its TTL (2 s here), then --resume runs
            deadline = time.monotonic() + 20
            while True:
                resumed = run("--propstore", url, "props:import", "--resume")
                if resumed.exit_code == 0 or "is held" not in resumed.stderr or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert resumed.exit_code == 0, resumed.stderr
            now = state(url)
            outcomes.append("resumed")
        else:
            outcomes.append("old" if now == before else "new")
        assert now in (before, after), (
            f"after kill -9 at {delay}s: {len(now) - len(before)} of {N} imported properties present")
        reset = open_propstore(url)
        reset.apply([Delete(*k) for k in now if k[0] == "bulk"])
        reset.close()
        assert state(url) == before
    print(f"{kind}: {outcomes}")


def test_a_file_batch_cut_off_between_its_renames_is_finished_when_the_store_opens(
        dockyard_root: Path, tmp_path: Path) -> None:
    """Deterministic: the writing process dies (os._exit) after 100 of its 3000 renames."""
    url = f"file://{dockyard_root}"
    seed(url)
    script = f"""
import os
import dockyard.propstores.file as F
from dockyard.core import open_propstore
from dockyard.propstores.base import Put
count = [0]
real = os.replace
def dying_replace(a, b):
    count[0] += 1
    if count[0] > 100:
        os._exit(9)
    real(a, b)
F.os.replace = dying_replace
store = open_propstore({url!r})
store.apply_batch([Put("bulk", "app1", f"k{{i:05d}}", f"v{{i}}") for i in range({N})])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr
    journals = list((dockyard_root / "locks").glob(".batch-*"))
    assert journals, "the cut-off batch left its journal"
    now = state(url)  # opening the store finishes the batch
    assert sum(1 for k in now if k[0] == "bulk") == N
    assert not list((dockyard_root / "locks").glob(".batch-*"))
    assert not list((dockyard_root / "config").rglob(".tmp-*"))
