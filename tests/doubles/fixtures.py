"""Fixtures for the kubernetes and nomad drivers: API doubles, or a real cluster.

``kube_target`` and ``nomad_target`` are parametrised: always ``double`` (the stateful HTTP
doubles in this package, with the real clients talking to them), plus ``cluster`` when
``KUBECONFIG`` / ``NOMAD_ADDR`` was set in the environment pytest started in. The suites
that take these fixtures then run unchanged against the real cluster. For a cluster run:

* ``KUBECONFIG=~/.kube/config DOCKYARD_TEST_K8S_NAMESPACE=dockyard-test pytest tests/conformance/test_kubernetes.py``
  (the namespace must exist; the test apps are destroyed afterwards);
* ``NOMAD_ADDR=http://nomad:4646 [NOMAD_TOKEN=…] pytest tests/conformance/test_nomad.py``;
* ``DOCKYARD_TEST_CLUSTER_IMAGE`` names an image the cluster can pull that has busybox's
  ``sh``, ``httpd``, ``echo`` and ``sleep`` (default ``busybox:1.36``);
* ``DOCKYARD_TEST_K8S_RUNTIME=kwok`` says the cluster's nodes are kwok's (``.ci/kube-up``):
  pods are scheduled, made Running and Ready and given an IP by the real control plane and
  kwok, but no process runs. Cases marked ``needs_containers`` (an exit code, a process's
  output, a process that crashes) are then deselected for the cluster, never skipped, and run
  against the double only;
* ``DOCKYARD_TEST_K8S_POLL`` is the driver's poll interval on the cluster (default 1 s).

Tests that look inside a double (the order of API calls, injected errors) take
``k8s_double`` / ``nomad_double`` directly and always run against the double.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.doubles.k8s_api import K8sApiDouble
from tests.doubles.nomad_api import NomadApiDouble
from tests.doubles.nomad_spec import traffic_errors

#: captured at import, before any fixture points these variables at a double
REAL_KUBECONFIG = os.environ.get("KUBECONFIG")
REAL_NOMAD_ADDR = os.environ.get("NOMAD_ADDR")
REAL_NOMAD_TOKEN = os.environ.get("NOMAD_TOKEN")
CLUSTER_IMAGE = os.environ.get("DOCKYARD_TEST_CLUSTER_IMAGE", "busybox:1.36")
#: "kwok" when the cluster's nodes run no containers (see the module docstring)
K8S_RUNTIME = os.environ.get("DOCKYARD_TEST_K8S_RUNTIME", "")
DOUBLE_IMAGE = "dockyard-test/busybox:double"


def fast(store: Any, plugin: str) -> None:
    """Poll and back off in milliseconds: the doubles answer at once. Checks wait 0: the
    kubernetes double, as the real controller, counts a pod available only minReadySeconds
    (the checks' wait) after it became Ready."""
    store.set(plugin, "--global", "poll-interval", "0.01")
    store.set(plugin, "--global", "retry-backoff", "0.01")
    store.set("checks", "--global", "wait", "0")


@pytest.fixture
def k8s_double(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[K8sApiDouble]:
    double = K8sApiDouble().start(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(double.kubeconfig))
    yield double
    double.stop()


@pytest.fixture
def nomad_double(monkeypatch: pytest.MonkeyPatch) -> Iterator[NomadApiDouble]:
    double = NomadApiDouble().start()
    monkeypatch.setenv("NOMAD_ADDR", double.address)
    monkeypatch.delenv("NOMAD_TOKEN", raising=False)
    monkeypatch.delenv("NOMAD_NAMESPACE", raising=False)
    monkeypatch.delenv("NOMAD_REGION", raising=False)
    yield double
    double.stop()
    check_nomad_traffic(double)


def check_nomad_traffic(double: NomadApiDouble) -> None:
    """Fail the test if the driver sent, or the double answered, anything Nomad's official
    OpenAPI description does not allow (see tests/doubles/nomad_spec.py)."""
    errors = traffic_errors(double)
    assert not errors, f"{len(errors)} exchange(s) outside Nomad's OpenAPI spec:\n" + "\n".join(errors[:20])


@dataclass
class Target:
    """Where a driver test runs: ``double`` is None on a real cluster."""

    kind: str
    double: Any
    image: str


def _kube_params() -> list[str]:
    """In CI the cluster is never optional: .ci/run starts one, and every cluster case fails
    by name when it is missing rather than quietly running against the double alone."""
    return ["double", "cluster"] if REAL_KUBECONFIG or os.environ.get("CI") else ["double"]


def _nomad_params() -> list[str]:
    return ["double", "cluster"] if REAL_NOMAD_ADDR else ["double"]


@pytest.fixture(params=_kube_params())
def kube_target(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                file_store: Any) -> Iterator[Target]:
    if request.param == "cluster":
        if not REAL_KUBECONFIG:
            pytest.fail("CI runs the kubernetes suites against a real control plane, but KUBECONFIG is not set: "
                        "start one with .ci/kube-up (as .ci/run does)", pytrace=False)
        monkeypatch.setenv("KUBECONFIG", REAL_KUBECONFIG)
        namespace = os.environ.get("DOCKYARD_TEST_K8S_NAMESPACE", "default")
        file_store.set("scheduler-kubernetes", "--global", "namespace", namespace)
        file_store.set("scheduler-kubernetes", "--global", "poll-interval",
                       os.environ.get("DOCKYARD_TEST_K8S_POLL", "1"))
        file_store.set("checks", "--global", "wait", "0")  # minReadySeconds 0: no check can run on kwok
        yield Target("cluster", None, CLUSTER_IMAGE)
        return
    double = K8sApiDouble().start(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(double.kubeconfig))
    fast(file_store, "scheduler-kubernetes")
    yield Target("double", double, DOUBLE_IMAGE)
    double.stop()


@pytest.fixture(params=_nomad_params())
def nomad_target(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                 file_store: Any) -> Iterator[Target]:
    if request.param == "cluster":
        assert REAL_NOMAD_ADDR
        monkeypatch.setenv("NOMAD_ADDR", REAL_NOMAD_ADDR)
        if REAL_NOMAD_TOKEN:
            monkeypatch.setenv("NOMAD_TOKEN", REAL_NOMAD_TOKEN)
        file_store.set("scheduler-nomad", "--global", "poll-interval", "1")
        yield Target("cluster", None, CLUSTER_IMAGE)
        return
    double = NomadApiDouble().start()
    monkeypatch.setenv("NOMAD_ADDR", double.address)
    monkeypatch.delenv("NOMAD_TOKEN", raising=False)
    fast(file_store, "scheduler-nomad")
    yield Target("double", double, DOUBLE_IMAGE)
    double.stop()
    check_nomad_traffic(double)


@pytest.fixture
def kube_scheduler(kube_target: Target, file_store: Any) -> Iterator[Any]:
    from dockyard.schedulers.kubernetes import KubernetesScheduler

    sched = KubernetesScheduler(file_store)
    yield sched
    sched.close()


@pytest.fixture
def nomad_scheduler(nomad_target: Target, file_store: Any) -> Iterator[Any]:
    from dockyard.schedulers.nomad import NomadScheduler

    sched = NomadScheduler(file_store)
    yield sched
    sched.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a kwok cluster, cases that need a process to really run exist for the double only:
    deselected (and counted as such), so a skip never stands for a case that cannot run."""
    if K8S_RUNTIME != "kwok":
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("kube_target") == "cluster" and item.get_closest_marker("needs_containers"):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
