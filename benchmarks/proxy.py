"""Proxy benchmarks: build-config --all for 1,000 apps, one app among 1,000, IP-change recovery.

Run from the repository root (root needed for docker and nginx): ``python benchmarks/proxy.py``
(``--apps N``, ``--trials N``, ``--skip-docker``). Each figure is printed beside a baseline
measured in the same run, with the ratio.

- 1,000 apps: real file-store properties (apps, releases, port maps, domains) under a temp
  DOCKYARD_ROOT; listeners come from a stub scheduler defined *inside this benchmark* (no
  containers). Dockyard renders every app, runs ONE ``nginx -t`` and ONE reload. Baseline:
  a plain ``nginx -t`` plus the same reload of the same tree. Goal: <= 1.5x.
  For scale, Dokku's pattern (one full ``nginx -t`` + reload per app) is extrapolated from
  a few measured rounds.
- One app among 1,000: a listener change for one app (render, ``nginx -t`` of the whole
  tree with the candidate, atomic replace, reload) vs the same plain ``nginx -t`` + reload.
- IP change: a real app container on its own network; it is stopped, another container
  takes its address, it is started again; the running event listener repairs nginx.
  Measured from Docker's ``start`` event (its timestamp) to the first 200 through nginx
  at the new address. Baseline: the same event to the first 200 straight from the
  container (the app's own start-up). Goal: median < 1 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def row(name: str, ours: float, base: float, goal: str, unit: str = "s") -> str:
    return f"| {name} | {ours:.3f} {unit} | {base:.3f} {unit} | {ours / base:.2f}x | {goal} |"


class StubScheduler:
    """Listeners without containers, for the 1,000-app benchmark only."""

    name = "stub"

    def __init__(self) -> None:
        self.generation = 0

    def listeners(self, app: str) -> dict[str, list[Any]]:
        from dockyard.core.models import Listener

        n = int(app[3:])
        return {"web": [Listener(f"10.{n // 250}.{n % 250}.{2 + self.generation % 200}", 5000)]}


def bench_many(n_apps: int, rounds: int) -> list[str]:
    os.environ["DOCKYARD_ROOT"] = tempfile.mkdtemp(prefix="dockyard-bench-")
    from dockyard.core import open_propstore
    from dockyard.core.routing import gather, rebuild_many
    from dockyard.propstores.base import Put
    from dockyard.proxy.nginx import NginxProxy, server
    from dockyard.proxy.nginx.server import Layout

    root = Path(os.environ["DOCKYARD_ROOT"])
    store = open_propstore(f"file://{root}")
    port = 20000 + os.getpid() % 10000
    apps = [f"app{i}" for i in range(n_apps)]
    ops: list[Any] = [Put("nginx", "--global", "bind-address-ipv4", "127.0.0.1"),
                      Put("nginx", "--global", "bind-address-ipv6", "::1")]
    for app in apps:
        ops += [Put("apps", app, "created-at", "0"), Put("release", app, "current", "1"),
                Put("ports", app, "map", [f"http:{port}:5000"]), Put("domains", app, "vhosts", [f"{app}.bench.test"])]
    store.apply(ops)
    proxy = NginxProxy(store)
    print(f"nginx: {proxy.start()}")
    stub = StubScheduler()
    layout = proxy.layout()
    layout = Layout(layout.conf_dir, layout.main_conf, server.find_binary(layout.binary) or "nginx")
    try:
        rebuild_many(store, apps, lambda a: stub)  # first build: every file written
        ours, base, render_only, one, dokku_round = [], [], [], [], []
        for _ in range(rounds):
            stub.generation += 1  # every app's upstream moves: every file is rewritten
            t = time.perf_counter()
            results = rebuild_many(store, apps, lambda a: stub, force=True)
            ours.append(time.perf_counter() - t)
            assert all(r.ok and r.changed for r in results), [r for r in results if not r.ok][:3]
            t = time.perf_counter()
            ok, out = server.test_config(layout, layout.main_conf)
            assert ok, out
            server.reload(layout)
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            fresh = NginxProxy(store)
            for app in apps:
                fresh.render(gather(store, app, stub.listeners(app)), http2_directive=False)
            render_only.append(time.perf_counter() - t)
            stub.generation += 1
            t = time.perf_counter()
            single = NginxProxy(store).build_config(gather(store, "app7", stub.listeners("app7")))
            one.append(time.perf_counter() - t)
            assert single.changed
        for _ in range(3):  # Dokku: a full nginx -t and a reload for every app
            t = time.perf_counter()
            server.test_config(layout, layout.main_conf)
            server.reload(layout)
            dokku_round.append(time.perf_counter() - t)
        print(f"render only ({n_apps} apps, store reads included): median {median(render_only):.3f} s")
        print(f"Dokku's per-app pattern, extrapolated: {n_apps} x {median(dokku_round):.3f} s "
              f"= {n_apps * median(dokku_round):.0f} s")
        return [
            row(f"proxy:build-config --all, {n_apps} apps (file store, stub listeners)",
                median(ours), median(base), "<= 1.5x"),
            row(f"rebuild one app among {n_apps}", median(one), median(base), "~1x (one nginx -t + reload)"),
        ]
    finally:
        print(f"nginx: {proxy.stop()}")
        store.close()
        shutil.rmtree(root, ignore_errors=True)


def bench_ip_change(trials: int) -> list[str]:
    import docker

    from tests.fixtures.docker import TEST_LABEL, import_base_image

    os.environ["DOCKYARD_ROOT"] = tempfile.mkdtemp(prefix="dockyard-bench-ip-")
    from dockyard.core import load_scheduler, open_propstore
    from dockyard.core.deploy import deploy_app
    from dockyard.core.events import EventListener
    from dockyard.core.plan import write_scale
    from dockyard.core.properties import create_app
    from dockyard.proxy.nginx import NginxProxy

    client = docker.from_env()
    tag = f"b{os.getpid()}"
    base = import_base_image(client, "dockyard-test/busybox", tag)
    app = f"benchip{os.getpid() % 100000}"
    net = f"dytest-bench-{tag}"
    client.networks.create(net, driver="bridge", labels={TEST_LABEL: "1"})
    store = open_propstore(f"file://{os.environ['DOCKYARD_ROOT']}")
    squatters: list[Any] = []
    sched = load_scheduler("docker-local", store)
    listen_sched = load_scheduler("docker-local", store)
    proxy = NginxProxy(store)
    listener = None
    try:
        create_app(store, app)
        port = 30000 + os.getpid() % 10000
        for k, v in (("wait", "1"), ("wait-to-retire", "0")):
            store.set("checks", app, k, v)
        store.set("ps", app, "stop-timeout-seconds", "1")
        store.set("network", app, "initial-network", net)
        store.list_write("ports", app, "map", [f"http:{port}:5000"])
        store.set("nginx", "--global", "bind-address-ipv4", "127.0.0.1")
        store.set("nginx", "--global", "bind-address-ipv6", "::1")
        write_scale(store, app, {"web": 1})
        print(f"nginx: {proxy.start()}")
        deploy_app(store, sched, app, image=base,
                   processes={"web": ("sh", "-c", "hostname > /www/index.html; exec httpd -f -p $PORT -h /www")})
        listener = EventListener(store, lambda: listen_sched, debounce=0.0)
        listener.start(max_seconds=600)
        assert listener.ready.wait(10)
        ours, floor = [], []
        container = client.containers.get(f"{app}.web.1")
        for _ in range(trials):
            container.stop(timeout=1)
            squatters.append(client.containers.run(base, ["sleep", "600"], detach=True, network=net,
                                                   labels={TEST_LABEL: "1"}))
            since = int(time.time()) - 1
            container.start()
            container.reload()
            ip = container.attrs["NetworkSettings"]["Networks"][net]["IPAddress"]
            event_at = None
            for ev in client.events(decode=True, since=since, until=int(time.time()) + 1,
                                    filters={"container": container.id, "event": "start"}):
                event_at = ev["timeNano"] / 1e9
            assert event_at is not None
            direct = through = None
            deadline = time.time() + 20
            while (direct is None or through is None) and time.time() < deadline:
                for url, which in ((f"http://{ip}:5000/", "direct"), (f"http://127.0.0.1:{port}/", "through")):
                    if (direct if which == "direct" else through) is not None:
                        continue
                    try:
                        with urllib.request.urlopen(url, timeout=1) as resp:
                            if resp.status == 200:
                                if which == "direct":
                                    direct = time.time()
                                else:
                                    through = time.time()
                    except OSError:
                        pass
                time.sleep(0.002)
            assert direct is not None and through is not None, "no 200 within 20 s"
            ours.append(through - event_at)
            floor.append(direct - event_at)
        print("IP-change trials (s): " + ", ".join(f"{x:.3f}" for x in ours))
        return [row(f"IP change -> first 200 through nginx (median of {trials})", median(ours), median(floor),
                    "< 1 s")]
    finally:
        if listener is not None:
            listener.stop()
        print(f"nginx: {proxy.stop()}")
        try:
            sched.destroy(app)
        except Exception as exc:
            print(f"cleanup: {exc}")
        for s in squatters:
            s.remove(force=True)
        client.networks.get(net).remove()
        client.images.remove(base, force=True)
        sched.close()
        listen_sched.close()
        store.close()
        shutil.rmtree(os.environ["DOCKYARD_ROOT"], ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--skip-docker", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    rows = bench_many(args.apps, args.rounds)
    if not args.skip_docker:
        rows += bench_ip_change(args.trials)
    print()
    print("| benchmark | Dockyard | baseline | ratio | goal |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print(r)


if __name__ == "__main__":
    threading.excepthook = lambda a: print(f"thread error: {a.exc_value}", file=sys.stderr)
    main()
