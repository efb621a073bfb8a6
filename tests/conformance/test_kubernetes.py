"""The kubernetes driver through the real ``kubernetes`` client: against the API double, and
against a real cluster when KUBECONFIG is set (see tests/doubles/fixtures.py).

Tests that take ``k8s_double`` look inside the double (order of calls, scripted crashes)
and run only against it.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from dockyard.core.deploy import roll_out
from dockyard.core.errors import DeployError, NotSupported
from dockyard.core.hooks import Hooks
from dockyard.core.models import DeployPlan, Exposure
from dockyard.core.plan import build_plan, write_scale
from dockyard.core.properties import create_app
from tests.doubles.fixtures import Target

pytestmark = pytest.mark.cluster

WEB = ("httpd", "-f", "-p", "5000")
WORKER = ("sh", "-c", "echo working; sleep 100000")


def plan_for(store: Any, app: str, image: str, processes: dict[str, Any], **props: str) -> DeployPlan:
    if not store.exists("apps", app, "created-at"):
        create_app(store, app)
    for key, value in props.items():
        plugin, _, prop = key.partition("__")
        store.set(plugin, app, prop.replace("_", "-"), value)
    return build_plan(store, app, image=image, processes=processes)


def hooks() -> tuple[Hooks, list[dict[str, Any]]]:
    fired: list[dict[str, Any]] = []
    h = Hooks(load_entry_points=False)
    # reads the listeners as a routing proxy does, so the rollout waits for every endpoint
    h.subscribe("core-post-deploy", lambda **kw: fired.append({**kw, "listeners": dict(kw.get("listeners") or {})}))
    return h, fired


@pytest.fixture
def app(kube_scheduler: Any) -> Any:
    created: list[str] = []
    yield created
    for name in created:
        kube_scheduler.destroy(name)


def test_deploy_runs_every_process_type_at_its_scale(kube_scheduler: Any, kube_target: Target,
                                                     file_store: Any, app: list[str]) -> None:
    app.append("k8s-deploy")
    write_scale(file_store, "k8s-deploy", {"web": 2, "worker": 1})
    plan = plan_for(file_store, "k8s-deploy", kube_target.image, {"web": WEB, "worker": WORKER})
    seen: list[tuple[str, int, int]] = []
    h, fired = hooks()
    instances = roll_out(kube_scheduler, plan, h, lambda m, d, t: seen.append((m, d, t)))
    assert sorted((i.process_type, i.index) for i in instances) == [("web", 1), ("web", 2), ("worker", 1)]
    assert {i.state for i in instances} == {"running"}
    assert {i.release for i in instances} == {plan.release}
    assert seen and seen[-1][1] == seen[-1][2] == 3, "progress ends with every replica available"
    assert fired and fired[0]["app"] == "k8s-deploy"
    listeners = kube_scheduler.listeners("k8s-deploy", Exposure())
    assert listeners["worker"] == []  # no port mapping, so no Service
    pod_ips = sorted(i.addresses["pod"] for i in instances if i.process_type == "web")
    assert sorted((x.host, x.port) for x in listeners["web"]) == [(ip, 5000) for ip in pod_ips]
    file_store.set("scheduler-kubernetes", "k8s-deploy", "listeners", "service")
    (service,) = kube_scheduler.listeners("k8s-deploy", Exposure())["web"]
    assert service.port == 5000 and service.host not in pod_ips  # the ClusterIP
    if kube_target.double:
        assert service.host == kube_target.double.get("Service", "k8s-deploy-web")["spec"]["clusterIP"]


def test_scale_changes_only_the_counts(kube_scheduler: Any, kube_target: Target, file_store: Any,
                                       app: list[str]) -> None:
    app.append("k8s-scale")
    plan = plan_for(file_store, "k8s-scale", kube_target.image, {"web": WEB})
    roll_out(kube_scheduler, plan, Hooks(load_entry_points=False))
    write_scale(file_store, "k8s-scale", {"web": 3})
    up = build_plan(file_store, "k8s-scale", image=plan.image, processes={"web": WEB}, release=plan.release)
    assert len(roll_out(kube_scheduler, up, Hooks(load_entry_points=False), scale=True)) == 3
    write_scale(file_store, "k8s-scale", {"web": 0})
    down = build_plan(file_store, "k8s-scale", image=plan.image, processes={"web": WEB}, release=plan.release)
    assert roll_out(kube_scheduler, down, Hooks(load_entry_points=False), scale=True) == []


@pytest.mark.needs_containers
def test_run_passes_env_streams_output_and_returns_the_exit_code(
        kube_scheduler: Any, kube_target: Target, file_store: Any, app: list[str],
        capfd: pytest.CaptureFixture[str]) -> None:
    app.append("k8s-run")
    file_store.set("config", "k8s-run", "GREETING", "hello")
    plan = plan_for(file_store, "k8s-run", kube_target.image, {"web": WEB})
    code = kube_scheduler.run(plan, ["sh", "-c", "echo $GREETING $WHO; exit 3"], Hooks(load_entry_points=False),
                              env={"WHO": "world"})
    assert code == 3
    assert "hello world" in capfd.readouterr().out
    assert kube_scheduler.run(plan, ["true"], Hooks(load_entry_points=False)) == 0
    assert not [i for i in kube_scheduler.status("k8s-run") if i.process_type == "run"]
    if kube_target.double:
        assert not kube_target.double.list("Pod", selector="dockyard.io/process-type=run"), "run pods are removed"


@pytest.mark.needs_containers
def test_failed_rollout_rolls_back_and_the_old_release_keeps_serving(
        kube_scheduler: Any, kube_target: Target, file_store: Any, app: list[str]) -> None:
    app.append("k8s-fail")
    good = plan_for(file_store, "k8s-fail", kube_target.image, {"web": WEB})
    roll_out(kube_scheduler, good, Hooks(load_entry_points=False))
    bad = build_plan(file_store, "k8s-fail", image=kube_target.image,
                     processes={"web": ("sh", "-c", "echo crashing now; exit 1")})
    h, fired = hooks()
    with pytest.raises(DeployError) as err:
        roll_out(kube_scheduler, bad, h)
    assert "rolled back" in str(err.value) and "crashing now" in str(err.value)
    assert not fired, "core-post-deploy must not fire for a failed deploy"
    instances = [i for i in kube_scheduler.status("k8s-fail") if i.state == "running"]
    assert instances and {i.release for i in instances} == {good.release}
    if kube_target.double:
        dep = kube_target.double.get("Deployment", "k8s-fail-web")
        assert dep["spec"]["template"]["spec"]["containers"][0]["args"] == list(WEB)


@pytest.mark.needs_containers
def test_a_failed_first_deploy_leaves_nothing_running(kube_scheduler: Any, kube_target: Target,
                                                      file_store: Any, app: list[str]) -> None:
    app.append("k8s-first")
    bad = plan_for(file_store, "k8s-first", kube_target.image, {"web": ("sh", "-c", "exit 2")})
    with pytest.raises(DeployError, match="no previous release"):
        roll_out(kube_scheduler, bad, Hooks(load_entry_points=False))
    assert kube_scheduler.status("k8s-first") == []


def test_post_create_network_members_are_labelled_from_creation(
        kube_scheduler: Any, kube_target: Target, file_store: Any, app: list[str]) -> None:
    app.append("k8s-net")
    if not kube_scheduler.network_exists("k8s-backend"):
        kube_scheduler.network_create("k8s-backend")
    try:
        plan = plan_for(file_store, "k8s-net", kube_target.image, {"web": WEB},
                        network__attach_post_create="k8s-backend")
        instances = roll_out(kube_scheduler, plan, Hooks(load_entry_points=False))
        info = kube_scheduler.network_inspect("k8s-backend")
        assert {i.name for i in instances} <= set(info.containers)
        assert "k8s-backend" in [n.name for n in kube_scheduler.network_list()]
    finally:
        kube_scheduler.destroy("k8s-net")
        kube_scheduler.network_destroy("k8s-backend")
    assert not kube_scheduler.network_exists("k8s-backend")


def test_post_deploy_network_applies_only_after_the_rollout_completed(
        kube_scheduler: Any, k8s_double: Any, file_store: Any, app: list[str]) -> None:
    from dockyard.schedulers.kubernetes import render as R

    app.append("k8s-late")
    k8s_double.rollout_reads = 3  # the rollout reports progress three times first
    plan = plan_for(file_store, "k8s-late", "img:1", {"web": WEB}, network__attach_post_deploy="metrics")
    roll_out(kube_scheduler, plan, Hooks(load_entry_points=False))
    complete = [seq for seq, what, name in k8s_double.events if what == "rollout-complete" and name == "k8s-late-web"]
    policy_writes = k8s_double.calls("POST", "networkpolicies$")
    policy_seq = [r.seq for r in policy_writes if r.body["metadata"]["name"] == "dockyard-network-metrics"]
    label_patches = [r for r in k8s_double.calls("PATCH", "/pods/") if
                     r.body["metadata"]["labels"].get("dockyard.io/network-metrics") == "true"]
    assert complete and policy_seq and label_patches
    assert min(policy_seq) > complete[0], "the policy is applied after the rollout was reported complete"
    assert min(r.seq for r in label_patches) > complete[0], "pods join only after the rollout completed"
    # the Deployment was created before: its pods started "pending", outside the network
    created = k8s_double.calls("POST", "deployments$")[0]
    assert created.seq < complete[0]
    assert created.body["spec"]["template"]["metadata"]["labels"][R.network_label("metrics")] == "pending"
    pods = k8s_double.list("Pod", selector="dockyard.io/app=k8s-late")
    assert pods and all(p["metadata"]["labels"]["dockyard.io/network-metrics"] == "true" for p in pods)


def test_initial_network_is_refused_before_any_api_call(kube_scheduler: Any, k8s_double: Any,
                                                        file_store: Any) -> None:
    plan = plan_for(file_store, "k8s-initial", "img:1", {"web": WEB}, network__initial_network="backend")
    with pytest.raises(NotSupported, match=r"initial-network.*kubernetes"):
        roll_out(kube_scheduler, plan, Hooks(load_entry_points=False))
    assert k8s_double.requests == []


@pytest.mark.needs_containers
def test_logs_come_from_pods(kube_scheduler: Any, kube_target: Target, file_store: Any, app: list[str]) -> None:
    app.append("k8s-logs")
    plan = plan_for(file_store, "k8s-logs", kube_target.image, {"web": WEB, "worker": WORKER})
    write_scale(file_store, "k8s-logs", {"worker": 1})
    plan = build_plan(file_store, "k8s-logs", image=plan.image, processes={"web": WEB, "worker": WORKER})
    roll_out(kube_scheduler, plan, Hooks(load_entry_points=False))
    lines = list(kube_scheduler.logs("k8s-logs", process_type="worker"))
    assert "k8s-logs[worker.1]: working" in lines
    followed = list(itertools.islice(kube_scheduler.logs("k8s-logs", process_type="worker", follow=True), 1))
    assert followed == ["k8s-logs[worker.1]: working"]


def test_events_watch_the_app_pods(kube_scheduler: Any, k8s_double: Any, file_store: Any, app: list[str]) -> None:
    app.append("k8s-events")
    plan = plan_for(file_store, "k8s-events", "img:1", {"web": WEB})
    file_store.set("scheduler", "k8s-events", "selected", "kubernetes")
    roll_out(kube_scheduler, plan, Hooks(load_entry_points=False))
    stream = kube_scheduler.events()
    got: list[Any] = []

    def consume() -> None:
        for event in stream:
            got.append(event)
            if event.action == "restart":
                return

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    import time

    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:  # the watch starts with the running pod
        time.sleep(0.02)
    pod = k8s_double.list("Pod", selector="dockyard.io/app=k8s-events")[0]
    k8s_double.crash_pod(pod["metadata"]["name"])
    reader.join(5)
    stream.close()
    assert [e.action for e in got][:1] == ["start"]
    assert got[-1].action == "restart" and got[-1].app == "k8s-events" and got[-1].restart_count == 1


def test_stop_start_and_destroy(kube_scheduler: Any, kube_target: Target, file_store: Any) -> None:
    from dockyard.core.plan import record_release

    plan = plan_for(file_store, "k8s-life", kube_target.image, {"web": WEB})
    roll_out(kube_scheduler, plan, Hooks(load_entry_points=False))
    record_release(file_store, "k8s-life", plan.release, plan.image, {"web": WEB})
    kube_scheduler.stop("k8s-life")
    assert kube_scheduler.status("k8s-life") == []  # ps:stop returns once the pods are gone
    from dockyard.core.plan import write_scale

    write_scale(file_store, "k8s-life", {"web": 3})  # start brings back what ran, not a new plan
    kube_scheduler.start("k8s-life")
    assert len(kube_scheduler.status("k8s-life")) == 1
    assert {i.release for i in kube_scheduler.status("k8s-life")} == {plan.release}
    kube_scheduler.destroy("k8s-life")
    assert kube_scheduler.status("k8s-life") == []
    assert kube_scheduler.listeners("k8s-life", Exposure()) == {}


def _contains(live: Any, sent: Any, path: str = "") -> list[str]:
    """Where ``live`` differs from ``sent``: every field sent must come back with its value; the
    API server may add defaults (strategy, terminationMessagePath, clusterIP...), never change."""
    if isinstance(sent, dict):
        if not isinstance(live, dict):
            return [f"{path}: sent an object, got {live!r}"]
        return [d for k, v in sent.items() for d in _contains(live.get(k), v, f"{path}.{k}")]
    if isinstance(sent, list):
        if not isinstance(live, list) or len(live) != len(sent):
            return [f"{path}: sent {sent!r}, got {live!r}"]
        return [d for i, (a, b) in enumerate(zip(live, sent, strict=True)) for d in _contains(a, b, f"{path}[{i}]")]
    return [] if live == sent else [f"{path}: sent {sent!r}, got {live!r}"]


def test_k8s_manifests_apply_as_printed_with_the_raw_client(run: Any, file_store: Any, kube_target: Target) -> None:
    """What ``k8s:manifests`` prints is accepted by the API server as it is, and read back equal."""
    import os

    import yaml
    from kubernetes import client, config

    from dockyard.core.plan import record_release

    app = "k8s-manifest"
    create_app(file_store, app)
    record_release(file_store, app, "20250101000000001", kube_target.image, {"web": WEB, "worker": WORKER})
    file_store.list_write("ps", app, "scale", ["web=2", "worker=1"])
    file_store.list_write("ports", app, "map", ["http:80:5000", "tcp:9000:9000:worker"])
    file_store.set("network", app, "attach-post-create", "k8s-rt-backend")
    result = run("k8s:manifests", app)
    assert result.exit_code == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    assert {d["kind"] for d in docs} == {"Deployment", "Service", "NetworkPolicy"}
    raw = config.new_client_from_config(config_file=os.environ["KUBECONFIG"])
    typed = {"Deployment": (client.AppsV1Api(raw), "deployment"), "Service": (client.CoreV1Api(raw), "service"),
             "NetworkPolicy": (client.NetworkingV1Api(raw), "network_policy")}
    applied: list[dict[str, Any]] = []
    try:
        for doc in docs:
            api, kind = typed[doc["kind"]]
            getattr(api, f"create_namespaced_{kind}")(doc["metadata"]["namespace"], doc)
            applied.append(doc)
        for doc in applied:
            api, kind = typed[doc["kind"]]
            live = raw.sanitize_for_serialization(
                getattr(api, f"read_namespaced_{kind}")(doc["metadata"]["name"], doc["metadata"]["namespace"]))
            diff = _contains(live["spec"], doc["spec"], "spec") + _contains(
                live["metadata"].get("labels") or {}, doc["metadata"].get("labels") or {}, "labels")
            assert not diff, f"{doc['kind']} {doc['metadata']['name']}: " + "; ".join(diff)
    finally:
        for doc in applied:
            api, kind = typed[doc["kind"]]
            getattr(api, f"delete_namespaced_{kind}")(doc["metadata"]["name"], doc["metadata"]["namespace"],
                                                      propagation_policy="Foreground", grace_period_seconds=0)
        raw.close()


# ---- the shared scheduler conformance suite (dockyard.testing) ---------------------------
from dockyard.testing.schedulers import SchedulerSuite  # noqa: E402


class TestKubernetesConformance(SchedulerSuite):
    """Every case of the shared suite; skipped only where the driver declares no capability."""

    @pytest.fixture
    def store(self, file_store: Any, kube_target: Target) -> Any:
        return file_store

    @pytest.fixture
    def scheduler(self, kube_scheduler: Any) -> Any:
        return kube_scheduler

    @pytest.fixture
    def image(self, kube_target: Target) -> str:
        return kube_target.image

    @pytest.fixture
    def network(self, kube_scheduler: Any) -> Any:
        import uuid

        made: list[str] = []

        def _make(hint: str) -> str:
            name = f"conf-{hint}-{uuid.uuid4().hex[:6]}"
            kube_scheduler.network_create(name)
            made.append(name)
            return name

        yield _make
        for name in made:
            kube_scheduler.network_destroy(name)
