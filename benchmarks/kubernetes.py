"""Kubernetes benchmarks on a real control plane, each beside a baseline measured in the same run.

    KUBECONFIG=$(bash .ci/kube-up) python benchmarks/kubernetes.py [--apps 100] [--web 3] [--render 1000]

- Deploy ``--apps`` apps (web=``--web`` each) through Dockyard's ``deploy_app`` (plan from the
  store, the kubernetes driver applying the manifests, waiting for every rollout, the release
  record), against the raw kubernetes client creating the same manifests and polling the same
  rollouts to completion, at the same poll interval. The two alternate app by app, so drift in
  the control plane's speed falls on both. Goal: at most 1.3x.
- ``k8s:manifests`` rendering for ``--render`` apps: ``render_manifests`` against building the
  same objects as plain dict literals (checked equal, object for object, before timing).
  Goal: at most 1.5x. A second row adds what the command adds around it: reading the plan from
  the file store and dumping YAML, against the plain dicts dumped to YAML.

Everything runs in a namespace made for the run and deleted at the end, also on failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# run as a script, this file's directory comes first on sys.path, and this file is named
# kubernetes.py: drop the directory so ``import kubernetes`` finds the client, not this file
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

WEB = ("sh", "-c", "exec httpd -f -p $PORT -h /")
IMAGE = "dockyard-bench/busybox:1"
POLL = 0.2


def row(name: str, ours: float, base: float, goal: str, unit: str = "s") -> str:
    return f"| {name} | {ours:.3f} {unit} | {base:.3f} {unit} | {ours / base:.2f}x | {goal} |"


def rollout_done(dep: Any) -> bool:
    """``kubectl rollout status``'s test, written against the raw model."""
    spec, status = dep.spec, dep.status
    want = spec.replicas if spec.replicas is not None else 1
    return bool((status.observed_generation or 0) >= (dep.metadata.generation or 0)
                and (status.updated_replicas or 0) == want and (status.replicas or 0) == want
                and (status.available_replicas or 0) == want)


def raw_deploy(core: Any, apps: Any, networking: Any, manifests: list[dict[str, Any]]) -> None:
    create = {"Deployment": apps.create_namespaced_deployment, "Service": core.create_namespaced_service,
              "NetworkPolicy": networking.create_namespaced_network_policy}
    for m in manifests:
        create[m["kind"]](m["metadata"]["namespace"], m)
    pending = [m for m in manifests if m["kind"] == "Deployment"]
    while pending:
        pending = [m for m in pending if not rollout_done(
            apps.read_namespaced_deployment(m["metadata"]["name"], m["metadata"]["namespace"]))]
        if pending:
            time.sleep(POLL)


def plain_manifests(plan: Any, ns: str) -> list[dict[str, Any]]:
    """The objects of a web-only app with one http port map, as one would write them by hand."""
    (web,) = plan.processes
    port = plan.ports[0].container_port
    app, release = plan.app, plan.release
    name = f"{app}-web"
    labels = {"dockyard.io/app": app, "dockyard.io/process-type": "web", "app.kubernetes.io/managed-by": "dockyard"}
    sel = {"dockyard.io/app": app, "dockyard.io/process-type": "web"}
    rel = {**labels, "dockyard.io/release": release}
    env = [{"name": k, "value": v} for k, v in sorted(plan.env_for("web").items())]
    ready = {"minReadySeconds": int(plan.checks.wait)} if plan.checks.wait else {}
    return [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": ns, "labels": labels},
         "spec": {"type": "ClusterIP", "selector": sel,
                  "ports": [{"name": f"tcp-{port}", "port": port, "targetPort": port, "protocol": "TCP"}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": ns, "labels": rel,
                      "annotations": {"dockyard.io/image": plan.image, "dockyard.io/release": release}},
         "spec": {"replicas": web.scale, "revisionHistoryLimit": 10, **ready,
                  "progressDeadlineSeconds": max(600, int(plan.checks.wait) + 1),
                  "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                  "selector": {"matchLabels": sel},
                  "template": {
                      "metadata": {"labels": rel, "annotations": {"dockyard.io/restart-policy": plan.restart_policy}},
                      "spec": {"restartPolicy": "Always", "containers": [{
                          "name": "web", "image": plan.image, "imagePullPolicy": "IfNotPresent", "env": env,
                          "args": list(web.command), "ports": [{"containerPort": port, "protocol": "TCP"}]}]}}}},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--web", type=int, default=3)
    parser.add_argument("--render", type=int, default=1000)
    args = parser.parse_args()
    if not os.environ.get("KUBECONFIG"):
        print("error: set KUBECONFIG (bash .ci/kube-up prints one)", file=sys.stderr)
        return 2

    root = tempfile.mkdtemp(prefix="dockyard-bench-k8s-")
    os.environ["DOCKYARD_ROOT"] = root
    from kubernetes import client, config

    from dockyard.core import open_propstore
    from dockyard.core.deploy import deploy_app, plan_for_render
    from dockyard.core.hooks import Hooks
    from dockyard.core.plan import build_plan, record_release, write_scale
    from dockyard.core.properties import create_app
    from dockyard.schedulers.kubernetes import KubernetesScheduler
    from dockyard.schedulers.kubernetes.client import read_settings
    from dockyard.schedulers.kubernetes.render import object_name, render_manifests

    store = open_propstore("file://" + root)
    ns = f"dockyard-bench-{uuid.uuid4().hex[:6]}"
    raw = config.new_client_from_config(config_file=os.environ["KUBECONFIG"])
    core, apps, networking = client.CoreV1Api(raw), client.AppsV1Api(raw), client.NetworkingV1Api(raw)
    core.create_namespace({"metadata": {"name": ns}})
    for prop, value in (("namespace", ns), ("poll-interval", str(POLL))):
        store.set("scheduler-kubernetes", "--global", prop, value)
    # kwok runs no process, so no check can: a rollout is measured without minReadySeconds
    store.set("checks", "--global", "wait", "0")
    store.set("proxy", "--global", "type", "null")  # routing is measured in benchmarks/proxy.py
    rows: list[str] = []
    try:
        # ---- deploy ------------------------------------------------------------------
        sched = KubernetesScheduler(store)
        _ = sched.kube  # the client is made (and imported) once, as the raw client's was above
        ours = base = 0.0
        for i in range(args.apps):
            for app in (f"d{i}", f"r{i}"):
                create_app(store, app)
                write_scale(store, app, {"web": args.web})
                store.list_write("ports", app, "map", ["http:80:5000"])
            t0 = time.perf_counter()
            deploy_app(store, sched, f"d{i}", image=IMAGE, processes={"web": WEB}, hooks=Hooks(load_entry_points=False))
            ours += time.perf_counter() - t0
            manifests = render_manifests(build_plan(store, f"r{i}", image=IMAGE, processes={"web": WEB}),
                                         read_settings(store, f"r{i}"))
            t0 = time.perf_counter()
            raw_deploy(core, apps, networking, manifests)
            base += time.perf_counter() - t0
            if (i + 1) % 10 == 0:
                print(f"  deployed {i + 1}/{args.apps} apps each way", file=sys.stderr, flush=True)
        sched.close()
        rows.append(row(f"deploy {args.apps} apps, web={args.web} (raw client: create + wait for rollout)",
                        ours, base, "<= 1.3x"))

        # ---- render ------------------------------------------------------------------
        import yaml

        names = [f"m{i}" for i in range(args.render)]
        for app in names:
            create_app(store, app)
            write_scale(store, app, {"web": args.web})
            store.list_write("ports", app, "map", ["http:80:5000"])
            record_release(store, app, "20250101000000001", IMAGE, {"web": WEB})
        plans = [plan_for_render(store, app) for app in names]
        settings = read_settings(store, None)
        for plan in plans:
            assert render_manifests(plan, settings) == plain_manifests(plan, ns), plan.app
        object_name.cache_clear()  # timed cold, as a single k8s:manifests run renders
        t0 = time.perf_counter()
        for plan in plans:
            render_manifests(plan, settings)
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        for plan in plans:
            plain_manifests(plan, ns)
        base = time.perf_counter() - t0
        rows.append(row(f"render {args.render} apps' manifests (plain dict literals)", ours, base, "<= 1.5x"))
        t0 = time.perf_counter()
        for app in names:
            yaml.safe_dump_all(render_manifests(plan_for_render(store, app), read_settings(store, app)),
                               sort_keys=False, explicit_start=True)
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        for plan in plans:
            yaml.safe_dump_all(plain_manifests(plan, ns), sort_keys=False, explicit_start=True)
        base = time.perf_counter() - t0
        rows.append(row(f"k8s:manifests path for {args.render} apps: store, plan, render, YAML "
                        "(plain dicts + YAML)", ours, base, "-"))
    finally:
        core.delete_namespace(ns)
        raw.close()
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    print("| measure | Dockyard | baseline | ratio | goal |")
    print("|---|---|---|---|---|")
    for line in rows:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
