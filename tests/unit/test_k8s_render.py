"""Kubernetes manifests: what deploy applies, each validated strictly against the official
schemas shipped by kubernetes-validate (the newest version it ships)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import latest_version

from dockyard.core.models import ChecksSettings, DeployPlan, NetworkSettings, PortMapping, ProcessSpec
from dockyard.schedulers.kubernetes import render as R

K8S_VERSION = latest_version()


def validate(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def make_plan(**kw: Any) -> DeployPlan:
    base: dict[str, Any] = dict(
        app="shop",
        release="20250101000000000",
        image="registry.example/shop:1",
        processes=(
            ProcessSpec("web", ("httpd", "-f", "-p", "5000"), 2),
            ProcessSpec("worker", ("sh", "-c", "echo work; sleep 1000"), 1),
            ProcessSpec("dns", None, 1),
            ProcessSpec("cron", ("sleep", "100"), 0),
        ),
        env={"DATABASE_URL": "postgres://db/shop", "WEIRD.NAME": "x"},
        ports=(
            PortMapping("http", 80, 5000, "web"),
            PortMapping("https", 443, 5000, "web"),
            PortMapping("tcp", 9000, 9000, "worker"),
            PortMapping("udp", 53, 5353, "dns"),
        ),
    )
    base.update(kw)
    return DeployPlan(**base)


def by(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name} rendered {len(found)} times"
    return found[0]


def test_schemas_are_current() -> None:
    major, minor = (int(x) for x in K8S_VERSION.split(".")[:2])
    assert (major, minor) >= (1, 30), f"kubernetes-validate ships only up to {K8S_VERSION}"


def test_the_validator_rejects_what_a_cluster_would() -> None:
    """Guard: strict validation is on, so an unknown field or a wrong type really fails."""
    dep = R.render_deployment(make_plan(), make_plan().processes[0], R.KubeSettings())
    dep["spec"]["replicaz"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(dep)
    dep = R.render_deployment(make_plan(), make_plan().processes[0], R.KubeSettings())
    dep["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(dep)


@pytest.mark.parametrize("ingress", R.INGRESS_MODES)
@pytest.mark.parametrize("networks", [
    NetworkSettings(),
    NetworkSettings(attach_post_create=("backend",)),
    NetworkSettings(attach_post_create=("backend", "Cache_Net.v2"), attach_post_deploy=("metrics",)),
])
def test_every_manifest_validates(ingress: str, networks: NetworkSettings) -> None:
    plan = make_plan(networks=networks, checks=ChecksSettings(wait=5, path="/healthz"))
    docs = R.render_manifests(plan, R.KubeSettings(namespace="apps", ingress=ingress))
    docs.append(R.render_run_pod(plan, ["sh", "-c", "echo hi"], R.KubeSettings(namespace="apps"), "shop-run-abc123"))
    assert docs
    for doc in docs:
        validate(doc)
        assert doc["metadata"]["namespace"] == "apps"


def test_one_deployment_per_process_type_with_scale_command_env_and_labels() -> None:
    plan = make_plan()
    docs = R.render_manifests(plan, R.KubeSettings())
    assert sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Deployment") == [
        "shop-cron", "shop-dns", "shop-web", "shop-worker"]
    web = by(docs, "Deployment", "shop-web")
    assert web["spec"]["replicas"] == 2
    assert by(docs, "Deployment", "shop-cron")["spec"]["replicas"] == 0
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/shop:1"
    assert container["args"] == ["httpd", "-f", "-p", "5000"]
    assert "command" not in container  # the image's ENTRYPOINT stays, as with docker run
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"DATABASE_URL": "postgres://db/shop", "WEIRD.NAME": "x", "PORT": "5000"}
    worker_env = {e["name"] for e in by(docs, "Deployment", "shop-worker")["spec"]["template"]["spec"]
                  ["containers"][0]["env"]}
    assert "PORT" not in worker_env
    assert "args" not in by(docs, "Deployment", "shop-dns")["spec"]["template"]["spec"]["containers"][0]
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert labels[R.APP_LABEL] == "shop" and labels[R.PROC_LABEL] == "web"
    assert labels[R.RELEASE_LABEL] == plan.release
    assert web["spec"]["selector"]["matchLabels"] == {R.APP_LABEL: "shop", R.PROC_LABEL: "web"}


def test_zero_downtime_strategy_and_checks() -> None:
    plan = make_plan(checks=ChecksSettings(wait=7, path="/up", timeout=3, attempts=4, disabled=frozenset({"worker"})))
    docs = R.render_manifests(plan, R.KubeSettings())
    web = by(docs, "Deployment", "shop-web")
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert web["spec"]["minReadySeconds"] == 7
    probe = web["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["httpGet"] == {"path": "/up", "port": 5000}
    assert probe["failureThreshold"] == 4
    # 0 is left out, as the API server stores it (omitempty), so what is printed is what is stored
    assert "minReadySeconds" not in by(docs, "Deployment", "shop-worker")["spec"]


def test_a_service_only_for_process_types_with_listeners() -> None:
    docs = R.render_manifests(make_plan(), R.KubeSettings())
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert sorted(services) == ["shop-dns", "shop-web", "shop-worker"]
    # http:80 and https:443 both go to container port 5000: one Service port
    assert [(p["port"], p["protocol"]) for p in services["shop-web"]["spec"]["ports"]] == [(5000, "TCP")]
    assert [(p["port"], p["protocol"]) for p in services["shop-dns"]["spec"]["ports"]] == [(5353, "UDP")]
    assert services["shop-worker"]["spec"]["selector"] == {R.APP_LABEL: "shop", R.PROC_LABEL: "worker"}


def test_no_network_no_policy() -> None:
    docs = R.render_manifests(make_plan(), R.KubeSettings())
    assert not [d for d in docs if d["kind"] == "NetworkPolicy"]
    labels = by(docs, "Deployment", "shop-web")["spec"]["template"]["metadata"]["labels"]
    assert not [k for k in labels if k.startswith(R.NETWORK_LABEL_PREFIX)]


def test_networks_become_labels_and_policies() -> None:
    plan = make_plan(networks=NetworkSettings(attach_post_create=("backend",), attach_post_deploy=("metrics",)))
    docs = R.render_manifests(plan, R.KubeSettings())
    labels = by(docs, "Deployment", "shop-web")["spec"]["template"]["metadata"]["labels"]
    assert labels["dockyard.io/network-backend"] == "true"  # member from creation
    assert labels["dockyard.io/network-metrics"] == "pending"  # not selected until promoted
    policy = by(docs, "NetworkPolicy", "dockyard-network-backend")
    member = {"dockyard.io/network-backend": "true"}
    assert policy["spec"]["podSelector"] == {"matchLabels": member}
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": {"matchLabels": member}}]}]
    # the post-deploy network's policy is the last object: deploy applies it after the rollout
    assert docs[-1]["metadata"]["name"] == "dockyard-network-metrics"
    assert [d["kind"] for d in docs].index("Deployment") < len(docs) - 1


def test_allow_all_baseline_keeps_the_app_reachable_as_before() -> None:
    plan = make_plan(networks=NetworkSettings(attach_post_create=("backend",)))
    docs = R.render_manifests(plan, R.KubeSettings(ingress="allow-all"))
    base = by(docs, "NetworkPolicy", "shop-dockyard-ingress")
    assert base["spec"]["podSelector"] == {"matchLabels": {R.APP_LABEL: "shop"}}
    assert base["spec"]["ingress"] == [{}]  # everything, as with no policy at all


def test_namespace_baseline_lets_only_the_proxy_in_to_web() -> None:
    plan = make_plan(networks=NetworkSettings(attach_post_create=("backend",)))
    docs = R.render_manifests(plan, R.KubeSettings(ingress="namespace"))
    base = by(docs, "NetworkPolicy", "shop-dockyard-ingress")
    assert base["spec"]["podSelector"]["matchLabels"] == {R.APP_LABEL: "shop", R.PROC_LABEL: "web"}
    rule = base["spec"]["ingress"][0]
    assert rule["from"] == [{"namespaceSelector": {}, "podSelector": {"matchLabels": {R.PROXY_LABEL: "true"}}}]
    assert rule["ports"] == [{"port": 5000, "protocol": "TCP"}]


def test_network_names_that_are_not_dns_labels_are_mapped_without_collisions() -> None:
    a, b = R.k8s_network_name("Cache_Net"), R.k8s_network_name("cache-net")
    assert b == "cache-net"
    assert a != b and a.startswith("cache-net-")
    long = R.k8s_network_name("n" * 128)
    assert len(long) <= 55
    validate(R.render_network_policy("Cache_Net", "default"))
    validate(R.render_network_policy("n" * 128, "default"))


def test_run_pod_never_restarts_and_carries_post_create_networks_only() -> None:
    plan = make_plan(networks=NetworkSettings(attach_post_create=("backend",), attach_post_deploy=("metrics",)))
    pod = R.render_run_pod(plan, ["env"], R.KubeSettings(), "shop-run-1", {"EXTRA": "1"})
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["metadata"]["labels"]["dockyard.io/network-backend"] == "true"
    assert "dockyard.io/network-metrics" not in pod["metadata"]["labels"]
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["EXTRA"] == "1" and env["DATABASE_URL"] == "postgres://db/shop"


def test_names_too_long_or_dotted_for_a_service_are_mapped_by_platform_name() -> None:
    import re

    rule = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    for app in ("a" * 60, "test.dokku.test", "1994testapp"):
        plan = make_plan(app=app, processes=(ProcessSpec("worker", None, 1),))
        manifests = R.render_manifests(plan, R.KubeSettings())
        names = {m["metadata"]["name"] for m in manifests if m["kind"] in ("Deployment", "Service")}
        assert names and all(rule.fullmatch(n) and len(n) <= 63 for n in names), names
        assert all(m["metadata"]["labels"][R.APP_LABEL] == app for m in manifests
                   if m["kind"] in ("Deployment", "Service"))  # the label keeps Dokku's name


def test_run_pod_names_are_valid_for_long_and_dotted_app_names() -> None:
    import re

    dns_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
    for app in ("shop", "test.dokku.test", "a" * 52 + "-b.c", "1994testapp", "x" * 62 + "y"):
        name = R.run_pod_name(app, "abc123")
        assert len(name) <= 63 and dns_1035.fullmatch(name), (app, name)
    assert R.run_pod_name("shop", "abc123") == "shop-run-abc123"  # a name that fits is kept
    assert R.run_pod_name("a" * 60, "abc123") != R.run_pod_name("a" * 60, "def456")
