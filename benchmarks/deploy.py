"""docker-local benchmarks: deploy of web=10, and ps:scale 10 -> 0, on the real dockerd.

Run from the repository root (root needed for docker): ``python benchmarks/deploy.py``
(``--trials N``, ``--count N``). Each figure is the median of the trials, printed beside a
baseline measured in the same run, with the ratio.

- Deploy web=10 (checks wait 0, wait-to-retire 0): Dockyard's whole ``deploy_app`` (reading
  the Procfile from the image, building the plan, creating, attaching, starting and
  checking the containers in parallel, recording the release). Baseline: the same 10
  containers (same image, command, env, labels, restart policy, init) created and started
  one by one with docker-py. Goal: <= 0.7x.
- ps:scale 10 -> 0: Dockyard's ``scale_app`` (web=0) against stopping and removing the
  same 10 containers one by one with docker-py.
- Recording a release: the same deploy with the release record (number taken through the
  store's atomic update, the record in the switch's batch, the last one superseded) against
  the deploy with recording stubbed out, alternating, in the same run; and the recording
  steps' own time as a share of the deploy. Goal: < 5%.
- ``releases:list`` of an app with 1,000 releases on the file store (the whole command,
  in-process, ``--format json``), against the raw store reads of the same records (one scan
  of the app's ``releases`` scope). Goal: < 150 ms. ``--releases-only`` runs just this one
  (no docker needed).

Everything runs against a busybox image imported offline; every container, image and
property made here is removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WEB = ("sh", "-c", "exec httpd -f -p $PORT -h /www")
LABEL = "com.dockyard.benchmark"


def row(name: str, ours: float, base: float, goal: str) -> str:
    return f"| {name} | {ours:.3f} s | {base:.3f} s | {ours / base:.2f}x | {goal} |"


def baseline_start(client: Any, image: str, tag: str, count: int) -> tuple[float, list[Any]]:
    """Create and start ``count`` containers one by one, configured as Dockyard's are."""
    made = []
    t0 = time.perf_counter()
    for i in range(1, count + 1):
        c = client.containers.create(
            image, list(WEB), name=f"{tag}.web.{i}", detach=True, init=True,
            environment={"PORT": "5000", "DYNO": f"web.{i}"},
            labels={LABEL: tag, "com.dockyard.process-type": "web", "com.dockyard.dyno": f"web.{i}"},
            restart_policy={"Name": "on-failure", "MaximumRetryCount": 10},
        )
        c.start()
        made.append(c)
    return time.perf_counter() - t0, made


def baseline_stop(containers: list[Any]) -> float:
    t0 = time.perf_counter()
    for c in containers:
        c.stop(timeout=10)
        c.remove(force=True)
    return time.perf_counter() - t0


class _NoRecords:
    """``dockyard.core.releases`` as core/deploy.py uses it, doing nothing: a deploy as it was
    before release records, for the recording benchmark's baseline."""

    @staticmethod
    def allocate(store: Any, app: str) -> int:
        return 0

    @staticmethod
    def app_config(store: Any, app: str) -> dict[str, str]:
        return {}

    @staticmethod
    def new_release(number: int, **kw: Any) -> None:
        return None

    @staticmethod
    def succeeded_ops(store: Any, app: str, release: Any) -> list[Any]:
        return []


class _Timed:
    """``dockyard.core.releases`` with the time spent in each step the deploy calls summed."""

    STEPS = ("allocate", "app_config", "new_release", "succeeded_ops")

    def __init__(self, real: Any) -> None:
        self.real, self.spent = real, 0.0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if name not in self.STEPS:
            return attr

        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return attr(*a, **kw)
            finally:
                self.spent += time.perf_counter() - t0

        return timed


def releases_list_benchmark(trials: int, count: int = 1000) -> tuple[list[float], list[float]]:
    """(releases:list times, raw-scan times) of an app with ``count`` releases on the file store."""
    import contextlib
    import io

    from dockyard.core import open_propstore
    from dockyard.core import releases as R
    from dockyard.core.cli import main as cli
    from dockyard.core.properties import create_app
    from dockyard.propstores.base import Put

    ours: list[float] = []
    base: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"file://{tmp}"
        store = open_propstore(url)
        create_app(store, "shop")
        env = {f"VAR_{i}": f"value-{i}" for i in range(20)}
        ops = [Put(R.PLUGIN, "shop", R.key_of(n), R.new_release(
            n, image=f"dockyard/shop:{n}", processes={"web": ("sh", "-c", "exec httpd -f -p $PORT")},
            env=env, scale={"web": 2}, description=f"Deploy dockyard/shop:{n}",
            release_id=str(n)).to_json()) for n in range(1, count + 1)]
        ops += [Put(R.PLUGIN, "shop", R.CURRENT, f"v{count}"), Put(R.PLUGIN, "shop", R.COUNTER, str(count))]
        store.apply(ops)
        for trial in range(trials + 1):  # the first round warms the page cache and imports
            sides = ["dockyard", "baseline"] if trial % 2 == 0 else ["baseline", "dockyard"]
            for side in sides:
                t0 = time.perf_counter()
                if side == "dockyard":
                    out = io.StringIO()
                    with contextlib.redirect_stdout(out):
                        try:
                            cli(["--propstore", url, "--format", "json", "releases:list", "shop"])
                        except SystemExit as exc:
                            assert not exc.code, exc.code
                    took = time.perf_counter() - t0
                    assert out.getvalue().count('"name": "v') == count
                else:
                    found = [p.value for p in store.iter_properties(R.PLUGIN, "shop")]
                    took = time.perf_counter() - t0
                    assert len(found) == count + 2
                if trial:
                    (ours if side == "dockyard" else base).append(took)
        store.close()
    return ours, base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--releases-only", action="store_true", help="Only the releases:list benchmark.")
    args = parser.parse_args()
    if not 1 <= args.trials <= 10 or not 1 <= args.count <= 50:
        parser.error("--trials must be 1-10 and --count 1-50 (keep the benchmark bounded)")
    med = statistics.median
    list_times, list_base = releases_list_benchmark(max(args.trials, 5))
    if args.releases_only:
        print("| benchmark | Dockyard | baseline | ratio | goal |")
        print("|---|---|---|---|---|")
        print(row("releases:list, 1,000 releases (file store)", med(list_times), med(list_base), "< 150 ms"))
        return 0

    import docker

    import dockyard.core.deploy as deploy_module
    from dockyard.core import load_scheduler, open_propstore
    from dockyard.core.deploy import deploy_app, scale_app
    from dockyard.core.hooks import Hooks
    from dockyard.core.plan import write_scale
    from dockyard.core.properties import create_app
    from tests.fixtures.docker import import_base_image

    client = docker.from_env(timeout=120)
    tag = f"bench{uuid.uuid4().hex[:6]}"
    image = import_base_image(client, "dockyard-bench/busybox", tag)
    tmp = tempfile.TemporaryDirectory()
    store = open_propstore(f"file://{tmp.name}")
    sched = load_scheduler("docker-local", store)
    deploy_times: list[float] = []
    deploy_base: list[float] = []
    scale_times: list[float] = []
    scale_base: list[float] = []
    recorded: list[float] = []
    unrecorded: list[float] = []
    recording_share: list[float] = []
    leftovers: list[Any] = []
    try:
        # warm the engine (first create of an image is slower) outside the measurements
        client.containers.run(image, ["true"], remove=True)
        for trial in range(args.trials):
            app = f"{tag}-{trial}"
            create_app(store, app)
            for key, value in (("wait", "0"), ("wait-to-retire", "0")):
                store.set("checks", app, key, value)
            store.set("proxy", app, "type", "null")
            write_scale(store, app, {"web": args.count})
            hooks = Hooks(load_entry_points=False)
            # alternate which side goes first, so neither always meets a warmer engine
            sides = ["dockyard", "baseline"] if trial % 2 == 0 else ["baseline", "dockyard"]
            for side in sides:
                if side == "dockyard":
                    t0 = time.perf_counter()
                    instances = deploy_app(store, sched, app, image=image, hooks=hooks,
                                           processes={"web": WEB})
                    deploy_times.append(time.perf_counter() - t0)
                    assert len(instances) == args.count and all(i.state == "running" for i in instances)
                else:
                    took, made = baseline_start(client, image, f"{tag}b{trial}", args.count)
                    leftovers += made
                    deploy_base.append(took)
            # a redeploy of the same 10 containers with and without the release record, alternating
            # which goes first
            real = deploy_module.releases
            order = [True, False] if trial % 2 == 0 else [False, True]
            for recording in order:
                timed = _Timed(real)
                deploy_module.releases = timed if recording else _NoRecords()  # type: ignore[assignment]
                try:
                    t0 = time.perf_counter()
                    deploy_app(store, sched, app, image=image, hooks=hooks, processes={"web": WEB})
                    took = time.perf_counter() - t0
                finally:
                    deploy_module.releases = real
                (recorded if recording else unrecorded).append(took)
                if recording:
                    recording_share.append(timed.spent / took)
            for side in sides:
                if side == "dockyard":
                    t0 = time.perf_counter()
                    scale_app(store, sched, app, {"web": 0}, hooks=hooks)
                    scale_times.append(time.perf_counter() - t0)
                    assert sched.status(app) == []
                else:
                    scale_base.append(baseline_stop(made))
                    leftovers = [c for c in leftovers if c not in made]
            sched.destroy(app)
    finally:
        for c in leftovers:
            try:
                c.remove(force=True)
            except Exception:
                pass
        for c in client.containers.list(all=True, filters={"label": "com.dockyard.app"}):
            if c.labels.get("com.dockyard.app", "").startswith(tag):
                c.remove(force=True)
        sched.close()
        client.images.remove(image, force=True)
        tmp.cleanup()

    print(f"docker-local, {args.count} containers, median of {args.trials} trials "
          f"(each trial: Dockyard and the baseline, same engine, same run)\n")
    print("| benchmark | Dockyard | baseline (docker-py, one by one) | ratio | goal |")
    print("|---|---|---|---|---|")
    print(row(f"deploy web={args.count} (checks wait 0)", med(deploy_times), med(deploy_base), "<= 0.7x"))
    print(row(f"ps:scale web={args.count} -> 0", med(scale_times), med(scale_base), "-"))
    print(row(f"redeploy web={args.count} recording its release (baseline: recording stubbed out)",
              med(recorded), med(unrecorded), "< 1.05x"))
    print(row("releases:list, 1,000 releases (file store; baseline: one raw scan of the records)",
              med(list_times), med(list_base), "< 150 ms"))
    print(f"\nrecording steps' own time: median {100 * med(recording_share):.2f}% of the deploy "
          f"(max {100 * max(recording_share):.2f}%)")
    print("\nraw deploy:", " ".join(f"{x:.2f}" for x in deploy_times), "| baseline:",
          " ".join(f"{x:.2f}" for x in deploy_base))
    print("raw scale: ", " ".join(f"{x:.2f}" for x in scale_times), "| baseline:",
          " ".join(f"{x:.2f}" for x in scale_base))
    print("raw recorded deploy:", " ".join(f"{x:.3f}" for x in recorded), "| unrecorded:",
          " ".join(f"{x:.3f}" for x in unrecorded))
    print("raw releases:list (ms):", " ".join(f"{x * 1000:.1f}" for x in list_times), "| raw scan:",
          " ".join(f"{x * 1000:.1f}" for x in list_base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
