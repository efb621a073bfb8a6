"""ps:inspect, ps:retire and ps:restore on Kubernetes and Nomad (the API doubles with the real
clients): what the Scheduler contract's defaults give a user of those schedulers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from dockyard.core.properties import create_app
from tests.doubles.fixtures import fast
from tests.fixtures.cli import Result, ok

Run = Callable[..., Result]


@pytest.fixture(params=["kubernetes", "nomad"])
def cluster_app(request: pytest.FixtureRequest, file_store: Any) -> str:
    request.getfixturevalue("k8s_double" if request.param == "kubernetes" else "nomad_double")
    create_app(file_store, "web1")
    file_store.set("scheduler", "web1", "selected", request.param)
    file_store.set("proxy", "web1", "type", "null")
    fast(file_store, f"scheduler-{request.param}")
    return "web1"


def test_inspect_retire_and_restore_on_a_cluster(run: Run, cluster_app: str) -> None:
    ok(run("ps:scale", cluster_app, "web=2"))
    ok(run("deploy", cluster_app, "--image", "good:1"))
    data = json.loads(ok(run("ps:inspect", cluster_app)).stdout)
    assert [(d["app"], d["process_type"]) for d in data] == [(cluster_app, "web")] * 2
    assert {d["state"] for d in data} == {"running"} and all(d["id"] and d["release"] for d in data)
    # the platform replaced the old instances itself: nothing is left to retire
    assert ok(run("ps:retire", cluster_app)).stdout == "-----> Retiring old containers and images\n"
    restored = ok(run("ps:restore", cluster_app))
    assert "-----> Starting app" in restored.stdout and f"App {cluster_app} already running" in restored.stderr
