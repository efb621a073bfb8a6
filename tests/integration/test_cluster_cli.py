"""``k8s:manifests``, ``nomad:job`` and deploys to Kubernetes and Nomad through the real CLI,
with the real clients talking to the API doubles: what is printed is what is applied, and
the failure paths (failed rollout, 403, 409, 5xx, refused phase) end the way a user sees them.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from dockyard.core.deploy import roll_out
from dockyard.core.plan import record_release
from dockyard.core.properties import create_app
from tests.doubles.fixtures import fast
from tests.fixtures.cli import Result, need

Run = Callable[..., Result]
PROCS = {"web": ("httpd", "-f", "-p", "5000"), "worker": ("sh", "-c", "echo work; sleep 100000")}


def released(store: Any, app: str, image: str = "registry.example/shop:7", **props: str) -> None:
    create_app(store, app)
    record_release(store, app, "20250101000000001", image, PROCS)
    for key, value in props.items():
        plugin, _, prop = key.partition("__")
        store.set(plugin, app, prop.replace("_", "-"), value)


def kinds(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["kind"], d["metadata"]["name"]) for d in docs]


# ---- render commands -----------------------------------------------------------------
def test_k8s_manifests_prints_every_object_deploy_applies(run: Run, file_store: Any, k8s_double: Any) -> None:
    fast(file_store, "scheduler-kubernetes")  # before rendering: it sets the checks' wait
    released(file_store, "shop", network__attach_post_create="backend", network__attach_post_deploy="metrics")
    file_store.list_write("ps", "shop", "scale", ["web=2", "worker=1"])
    file_store.list_write("ports", "shop", "map", ["http:80:5000", "tcp:9000:9000:worker"])
    result = run("k8s:manifests", "shop")
    assert result.exit_code == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    assert sorted(kinds(docs)) == sorted([
        ("NetworkPolicy", "dockyard-network-backend"), ("NetworkPolicy", "dockyard-network-metrics"),
        ("NetworkPolicy", "shop-dockyard-ingress"), ("Service", "shop-web"), ("Service", "shop-worker"),
        ("Deployment", "shop-web"), ("Deployment", "shop-worker")])
    for doc in docs:
        kubernetes_validate.validate(doc, latest_version(), strict=True)
    web = next(d for d in docs if kinds([d]) == [("Deployment", "shop-web")])
    assert web["spec"]["replicas"] == 2
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/shop:7"
    assert k8s_double.requests == [], "rendering needs no cluster"

    # deploy applies exactly these objects
    from dockyard.core.hooks import Hooks
    from dockyard.core.plan import build_plan
    from dockyard.schedulers.kubernetes import KubernetesScheduler

    sched = KubernetesScheduler(file_store)
    sched.network_create("backend")
    roll_out(sched, build_plan(file_store, "shop"), Hooks(load_entry_points=False))
    sched.close()
    for doc in docs:
        live = k8s_double.get(doc["kind"], doc["metadata"]["name"])
        assert live is not None, f"{doc['kind']} {doc['metadata']['name']} was not applied"
        assert live["spec"] == doc["spec"] or doc["kind"] == "Service", doc["metadata"]["name"]
        if doc["kind"] == "Service":  # the API server adds the ClusterIP
            assert {k: v for k, v in live["spec"].items() if not k.startswith("clusterIP")} == doc["spec"]


def test_k8s_manifests_with_image_and_for_an_app_on_another_scheduler(run: Run, file_store: Any) -> None:
    released(file_store, "other", scheduler__selected="docker-local")
    result = run("k8s:manifests", "other", "--image", "registry.example/other:9")
    assert result.exit_code == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    images = {d["spec"]["template"]["spec"]["containers"][0]["image"] for d in docs if d["kind"] == "Deployment"}
    assert images == {"registry.example/other:9"}
    json_result = run("--format", "json", "k8s:manifests", "other")
    assert [d["kind"] for d in json.loads(json_result.stdout)].count("Deployment") == 2


def test_k8s_manifests_refuses_what_kubernetes_cannot_honour(run: Run, file_store: Any, k8s_double: Any) -> None:
    released(file_store, "lonely", network__initial_network="backend")
    result = run("k8s:manifests", "lonely")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "setting initial-network" in result.stderr and "kubernetes scheduler" in result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert k8s_double.requests == []


def test_render_commands_need_a_release_or_an_image(run: Run, file_store: Any) -> None:
    create_app(file_store, "fresh")
    for command in ("k8s:manifests", "nomad:job"):
        result = run(command, "fresh")
        assert result.exit_code == 1 and "not been deployed" in result.stderr
    assert run("k8s:manifests", "missing").exit_code == 20  # Dokku's exit code for a missing app


def test_nomad_job_prints_the_job_deploy_registers(run: Run, file_store: Any, nomad_double: Any) -> None:
    fast(file_store, "scheduler-nomad")  # before rendering: it sets the checks' wait
    released(file_store, "shop", network__initial_network="backend", scheduler__selected="kubernetes")
    file_store.list_write("ps", "shop", "scale", ["web=3"])
    result = run("nomad:job", "shop")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)["Job"]
    groups = {g["Name"]: g for g in job["TaskGroups"]}
    assert job["ID"] == "shop" and groups["web"]["Count"] == 3 and groups["worker"]["Count"] == 0
    assert groups["web"]["Tasks"][0]["Config"]["network_mode"] == "backend"
    assert nomad_double.requests == []

    from dockyard.core.hooks import Hooks
    from dockyard.core.plan import build_plan
    from dockyard.schedulers.nomad import NomadScheduler

    sched = NomadScheduler(file_store)
    roll_out(sched, build_plan(file_store, "shop"), Hooks(load_entry_points=False))
    sched.close()
    (register,) = nomad_double.calls("POST", "^/v1/jobs$")
    assert register.body == json.loads(result.stdout)


def test_nomad_job_refuses_attach_phases(run: Run, file_store: Any, nomad_double: Any) -> None:
    released(file_store, "shop", network__attach_post_deploy="metrics")
    result = run("nomad:job", "shop")
    assert result.exit_code == 1 and result.stdout == ""
    assert "setting attach-post-deploy" in result.stderr and "nomad scheduler" in result.stderr
    assert nomad_double.requests == []


# ---- deploy through the CLI: failure paths ----------------------------------------------
@pytest.fixture
def deploy_cli() -> None:
    need(importlib.util.find_spec("dockyard.core.cli.deploy") is not None, "the deploy command")


@pytest.fixture
def k8s_app(file_store: Any, k8s_double: Any, deploy_cli: None) -> str:
    create_app(file_store, "web1")
    file_store.set("scheduler", "web1", "selected", "kubernetes")
    fast(file_store, "scheduler-kubernetes")
    return "web1"


@pytest.fixture
def nomad_app(file_store: Any, nomad_double: Any, deploy_cli: None) -> str:
    create_app(file_store, "web1")
    file_store.set("scheduler", "web1", "selected", "nomad")
    fast(file_store, "scheduler-nomad")
    return "web1"


def test_k8s_failed_rollout_rolls_back_and_exits_non_zero(run: Run, file_store: Any, k8s_double: Any,
                                                          k8s_app: str) -> None:
    assert run("deploy", k8s_app, "--image", "good:1").exit_code == 0
    k8s_double.crashing_images.add("bad:2")
    result = run("deploy", k8s_app, "--image", "bad:2")
    assert result.exit_code != 0
    assert "rolled back" in result.stderr and "crashed on start" in result.stderr
    dep = k8s_double.get("Deployment", "web1-web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "good:1"
    assert file_store.get("release", k8s_app, "image") == "good:1"
    running = [p for p in k8s_double.list("Pod", selector="dockyard.io/app=web1")
               if p["status"]["phase"] == "Running" and p["status"]["containerStatuses"][0]["ready"]]
    assert {p["spec"]["containers"][0]["image"] for p in running} == {"good:1"}


def test_k8s_403_is_one_clear_error(run: Run, k8s_double: Any, k8s_app: str) -> None:
    k8s_double.inject(403, "POST", "/deployments$")
    result = run("deploy", k8s_app, "--image", "good:1")
    assert result.exit_code == 1
    assert "kubernetes API refused to create Deployment default/web1-web" in result.stderr
    assert "HTTP 403" in result.stderr and "Traceback" not in result.stderr
    assert len(k8s_double.calls("POST", "/deployments$")) == 1, "a 403 is not retried"


def test_k8s_409_on_create_replaces_and_a_409_conflict_on_replace_is_retried(
        run: Run, k8s_double: Any, k8s_app: str) -> None:
    assert run("deploy", k8s_app, "--image", "good:1").exit_code == 0
    k8s_double.inject(409, "PUT", "/deployments/web1-web$")
    start = len(k8s_double.requests)
    assert run("deploy", k8s_app, "--image", "good:2").exit_code == 0
    writes = [(r.method, r.status) for r in k8s_double.requests[start:] if r.method in ("POST", "PUT")
              and (r.path.endswith("/deployments") or r.path.endswith("/deployments/web1-web"))]
    # create -> 409 AlreadyExists -> replace -> 409 Conflict (stale resourceVersion) -> re-read, replace
    assert writes == [("POST", 409), ("PUT", 409), ("PUT", 200)]
    dep = k8s_double.get("Deployment", "web1-web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "good:2"


def test_k8s_5xx_is_retried_with_backoff_then_given_up(run: Run, file_store: Any, k8s_double: Any,
                                                       k8s_app: str) -> None:
    k8s_double.inject(503, "POST", "/deployments$", times=2)
    assert run("deploy", k8s_app, "--image", "good:1").exit_code == 0
    assert [r.status for r in k8s_double.calls("POST", "/deployments$")] == [503, 503, 201]
    file_store.set("scheduler-kubernetes", "--global", "retries", "3")
    k8s_double.inject(500, "GET", "/deployments/web1-web$", times=100)
    before = len(k8s_double.calls("GET", "/deployments/web1-web$"))
    result = run("deploy", k8s_app, "--image", "good:2")
    assert result.exit_code == 1 and "HTTP 500" in result.stderr
    assert len(k8s_double.calls("GET", "/deployments/web1-web$")) - before == 3


def test_k8s_unsupported_phase_is_refused_before_any_api_call(run: Run, file_store: Any, k8s_double: Any,
                                                              k8s_app: str) -> None:
    file_store.set("network", k8s_app, "initial-network", "backend")
    result = run("deploy", k8s_app, "--image", "good:1")
    assert result.exit_code == 1
    assert "initial-network" in result.stderr and "kubernetes" in result.stderr
    assert k8s_double.requests == []


def test_nomad_failed_deployment_reverts_and_exits_non_zero(run: Run, file_store: Any, nomad_double: Any,
                                                            nomad_app: str) -> None:
    assert run("deploy", nomad_app, "--image", "good:1").exit_code == 0
    nomad_double.crashing_images.add("bad:2")
    result = run("deploy", nomad_app, "--image", "bad:2")
    assert result.exit_code != 0 and "crashed on start" in result.stderr
    assert nomad_double.jobs["web1"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == "good:1"
    assert {a["JobVersion"] for a in nomad_double.live_allocs("web1")} == {nomad_double.jobs["web1"]["Version"]}
    assert file_store.get("release", nomad_app, "image") == "good:1"


def test_nomad_token_403_and_5xx_retry(run: Run, file_store: Any, nomad_double: Any, nomad_app: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    nomad_double.token = "s3cret"
    result = run("deploy", nomad_app, "--image", "good:1")
    assert result.exit_code == 1 and "Permission denied" in result.stderr and "HTTP 403" in result.stderr
    monkeypatch.setenv("NOMAD_TOKEN", "s3cret")  # NOMAD_TOKEN is honoured
    nomad_double.inject(500, "POST", "^/v1/jobs$", times=2)
    assert run("deploy", nomad_app, "--image", "good:1").exit_code == 0
    assert [r.status for r in nomad_double.calls("POST", "^/v1/jobs$")][-3:] == [500, 500, 200]


def test_nomad_unsupported_phase_is_refused_before_any_request(run: Run, file_store: Any, nomad_double: Any,
                                                               nomad_app: str) -> None:
    file_store.set("network", nomad_app, "attach-post-create", "backend")
    result = run("deploy", nomad_app, "--image", "good:1")
    assert result.exit_code == 1 and "attach-post-create" in result.stderr and "nomad" in result.stderr
    assert nomad_double.requests == []
