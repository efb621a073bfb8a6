"""The nomad driver through the real python-nomad client: against the Nomad API double, and
against a real Nomad when NOMAD_ADDR is set (see tests/doubles/fixtures.py).

Tests that take ``nomad_double`` look inside the double and run only against it.
"""

from __future__ import annotations

import threading
import time
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


@pytest.fixture
def app(nomad_scheduler: Any) -> Any:
    created: list[str] = []
    yield created
    for name in created:
        nomad_scheduler.destroy(name)


def test_deploy_runs_every_process_type_at_its_scale(nomad_scheduler: Any, nomad_target: Target,
                                                     file_store: Any, app: list[str]) -> None:
    app.append("nomad-deploy")
    write_scale(file_store, "nomad-deploy", {"web": 2, "worker": 1})
    plan = plan_for(file_store, "nomad-deploy", nomad_target.image, {"web": WEB, "worker": WORKER})
    seen: list[tuple[str, int, int]] = []
    fired: list[dict[str, Any]] = []
    h = Hooks(load_entry_points=False)
    h.subscribe("core-post-deploy", lambda **kw: fired.append(kw))
    instances = roll_out(nomad_scheduler, plan, h, lambda m, d, t: seen.append((m, d, t)))
    assert sorted((i.process_type, i.index) for i in instances) == [("web", 1), ("web", 2), ("worker", 1)]
    assert {i.state for i in instances} == {"running"}
    assert {i.release for i in instances} == {plan.release}
    assert seen and seen[-1][1] == seen[-1][2] == 3
    assert fired and fired[0]["app"] == "nomad-deploy"
    listeners = nomad_scheduler.listeners("nomad-deploy", Exposure())
    assert listeners["worker"] == []  # no port mapping, no service
    assert len(listeners["web"]) == 2 and {x.port for x in listeners["web"]} == {5000}
    file_store.set("scheduler-nomad", "nomad-deploy", "address-mode", "host")
    roll_out(nomad_scheduler, build_plan(file_store, "nomad-deploy", image=plan.image,
                                      processes={"web": WEB, "worker": WORKER}), Hooks(load_entry_points=False))
    hosts = nomad_scheduler.listeners("nomad-deploy", Exposure())["web"]
    assert len(hosts) == 2 and 5000 not in {x.port for x in hosts}  # node address, dynamic port
    assert {x.target for x in hosts} == {5000}, "each says which container port it forwards to"


def test_scale_changes_only_the_counts(nomad_scheduler: Any, nomad_target: Target, file_store: Any,
                                       app: list[str]) -> None:
    app.append("nomad-scale")
    plan = plan_for(file_store, "nomad-scale", nomad_target.image, {"web": WEB})
    first = roll_out(nomad_scheduler, plan, Hooks(load_entry_points=False))
    write_scale(file_store, "nomad-scale", {"web": 3})
    up = build_plan(file_store, "nomad-scale", image=plan.image, processes={"web": WEB}, release=plan.release)
    scaled = roll_out(nomad_scheduler, up, Hooks(load_entry_points=False), scale=True)
    assert len(scaled) == 3
    assert first[0].id in {i.id for i in scaled}, "a count change keeps the running allocation"
    assert first[0].id in {i.id for i in nomad_scheduler.status("nomad-scale")}
    write_scale(file_store, "nomad-scale", {"web": 1})
    down = build_plan(file_store, "nomad-scale", image=plan.image, processes={"web": WEB}, release=plan.release)
    assert len(roll_out(nomad_scheduler, down, Hooks(load_entry_points=False), scale=True)) == 1


def test_run_passes_env_streams_output_and_returns_the_exit_code(
        nomad_scheduler: Any, nomad_target: Target, file_store: Any, app: list[str],
        capfd: pytest.CaptureFixture[str]) -> None:
    app.append("nomad-run")
    file_store.set("config", "nomad-run", "GREETING", "hello")
    plan = plan_for(file_store, "nomad-run", nomad_target.image, {"web": WEB})
    code = nomad_scheduler.run(plan, ["sh", "-c", "echo $GREETING $WHO; exit 3"], Hooks(load_entry_points=False),
                               env={"WHO": "world"})
    assert code == 3
    assert "hello world" in capfd.readouterr().out
    assert nomad_scheduler.run(plan, ["true"], Hooks(load_entry_points=False)) == 0
    if nomad_target.double:
        assert [j for j in nomad_target.double.jobs if "-run-" in j] == [], "run jobs are purged"


@pytest.mark.parametrize("auto_revert", [True, False], ids=["nomad-auto-revert", "dockyard-revert"])
def test_failed_deployment_reverts_and_the_old_version_keeps_serving(
        nomad_scheduler: Any, nomad_double: Any, file_store: Any, app: list[str], auto_revert: bool) -> None:
    app.append("nomad-fail")
    nomad_double.auto_revert = auto_revert
    nomad_double.deploy_reads = 2
    good = plan_for(file_store, "nomad-fail", "img:1", {"web": WEB})
    roll_out(nomad_scheduler, good, Hooks(load_entry_points=False))
    bad = build_plan(file_store, "nomad-fail", image="img:2", processes={"web": ("sh", "-c", "echo crashing; exit 1")})
    with pytest.raises(DeployError) as err:
        roll_out(nomad_scheduler, bad, Hooks(load_entry_points=False))
    assert "crashing" in str(err.value)
    reverts = nomad_double.calls("POST", "/revert$")
    if auto_revert:
        assert "auto-reverted" in str(err.value) and reverts == []
    else:
        assert "reverted to version 0" in str(err.value)
        assert [r.body["JobVersion"] for r in reverts] == [0]
    instances = nomad_scheduler.status("nomad-fail")
    assert instances and {i.release for i in instances} == {good.release}
    job = nomad_double.jobs["nomad-fail"]
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == "img:1"


def test_the_proxy_switches_to_the_canaries_before_promotion_stops_the_old_allocations(
        nomad_scheduler: Any, nomad_double: Any, file_store: Any, app: list[str]) -> None:
    """Blue/green as docker-local does it: while core-post-deploy runs (the proxy switching),
    the old allocations still serve and the listeners handed over are the canaries' alone;
    promotion, which stops the old ones, comes only after (issue 9: finish promotes)."""
    app.append("nomad-promote")
    nomad_double.deploy_reads = 2
    file_store.set("ports", "nomad-promote", "map", "http:80:5000")
    old = roll_out(nomad_scheduler, plan_for(file_store, "nomad-promote", "img:1", {"web": WEB}),
                   Hooks(load_entry_points=False))
    new = build_plan(file_store, "nomad-promote", image="img:2", processes={"web": WEB})
    seen: list[dict[str, Any]] = []
    h = Hooks(load_entry_points=False)
    h.subscribe("core-post-deploy", lambda listeners, **_: seen.append({
        "listeners": list(listeners["web"]),
        "running": {a["JobVersion"] for a in nomad_double.live_allocs("nomad-promote")},
        "promoted": nomad_double.calls("POST", "/deployment/promote/")}))
    instances = roll_out(nomad_scheduler, new, h)
    assert len(seen) == 1 and seen[0]["promoted"] == []
    assert seen[0]["running"] == {0, 1}, "the old allocation served while the proxy switched"
    canaries = {a["ID"] for a in nomad_double.live_allocs("nomad-promote") if a["JobVersion"] == 1}
    regs = {(r["Address"], r["Port"]) for r in nomad_double.services("nomad-promote") if r["AllocID"] in canaries}
    assert {(x.host, x.port) for x in seen[0]["listeners"]} == regs and len(regs) == 1
    assert len(nomad_double.calls("POST", "/deployment/promote/")) == 1
    assert {a["JobVersion"] for a in nomad_double.live_allocs("nomad-promote")} == {1}
    assert {i.release for i in instances} == {new.release} and old[0].id not in {i.id for i in instances}


def test_a_failed_switch_fails_the_deployment_and_the_old_allocations_keep_running(
        nomad_scheduler: Any, nomad_double: Any, file_store: Any, app: list[str]) -> None:
    app.append("nomad-unswitched")
    first = plan_for(file_store, "nomad-unswitched", "img:1", {"web": WEB})
    old = roll_out(nomad_scheduler, first, Hooks(load_entry_points=False))
    h = Hooks(load_entry_points=False)

    def refuse(**_: Any) -> None:
        raise RuntimeError("nginx -t failed")

    h.subscribe("core-post-deploy", refuse)
    with pytest.raises(DeployError, match="switching traffic to it failed"):
        roll_out(nomad_scheduler, build_plan(file_store, "nomad-unswitched", image="img:2", processes={"web": WEB}), h)
    assert len(nomad_double.calls("POST", "/deployment/fail/")) == 1
    assert nomad_double.calls("POST", "/deployment/promote/") == []
    live = nomad_double.live_allocs("nomad-unswitched")
    assert [a["ID"] for a in live] == [old[0].id], "the canary stopped, the old allocation never did"
    assert nomad_double.jobs["nomad-unswitched"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == "img:1"


def test_a_failed_first_deploy_leaves_nothing_running(nomad_scheduler: Any, nomad_target: Target,
                                                      file_store: Any, app: list[str]) -> None:
    app.append("nomad-first")
    bad = plan_for(file_store, "nomad-first", nomad_target.image, {"web": ("sh", "-c", "exit 2")})
    with pytest.raises(DeployError, match="no previous version"):
        roll_out(nomad_scheduler, bad, Hooks(load_entry_points=False))
    assert [i for i in nomad_scheduler.status("nomad-first") if i.state == "running"] == []


def test_initial_network_is_the_task_network(nomad_scheduler: Any, nomad_double: Any, file_store: Any,
                                             app: list[str]) -> None:
    app.append("nomad-net")
    plan = plan_for(file_store, "nomad-net", "img:1", {"web": WEB}, network__initial_network="backend")
    roll_out(nomad_scheduler, plan, Hooks(load_entry_points=False))
    registered = nomad_double.calls("POST", "^/v1/jobs$")[0].body["Job"]
    assert registered["TaskGroups"][0]["Tasks"][0]["Config"]["network_mode"] == "backend"
    (listener,) = nomad_scheduler.listeners("nomad-net", Exposure())["web"]
    assert listener.port == 5000 and listener.host.startswith("172.18.")  # the container, on that network


@pytest.mark.parametrize("prop", ["attach_post_create", "attach_post_deploy"])
def test_attach_phases_are_refused_before_any_request(nomad_scheduler: Any, nomad_double: Any,
                                                      file_store: Any, prop: str) -> None:
    plan = plan_for(file_store, "nomad-refuse", "img:1", {"web": WEB}, **{f"network__{prop}": "backend"})
    with pytest.raises(NotSupported, match=rf"{prop.replace('_', '-')}.*nomad"):
        roll_out(nomad_scheduler, plan, Hooks(load_entry_points=False))
    assert nomad_double.requests == []


def test_logs_come_from_allocations(nomad_scheduler: Any, nomad_target: Target, file_store: Any,
                                    app: list[str]) -> None:
    app.append("nomad-logs")
    write_scale(file_store, "nomad-logs", {"worker": 1})
    plan = plan_for(file_store, "nomad-logs", nomad_target.image, {"web": WEB, "worker": WORKER})
    roll_out(nomad_scheduler, plan, Hooks(load_entry_points=False))
    assert "nomad-logs[worker.1]: working" in list(nomad_scheduler.logs("nomad-logs", process_type="worker"))
    followed = list(nomad_scheduler.logs("nomad-logs", process_type="worker", follow=True))
    assert "nomad-logs[worker.1]: working" in followed


def test_events_follow_the_event_stream(nomad_scheduler: Any, nomad_double: Any, file_store: Any,
                                        app: list[str]) -> None:
    app.append("nomad-events")
    plan = plan_for(file_store, "nomad-events", "img:1", {"web": WEB})
    roll_out(nomad_scheduler, plan, Hooks(load_entry_points=False))
    stream = nomad_scheduler.events()
    got: list[Any] = []
    started = threading.Event()

    def consume() -> None:
        started.set()
        for event in stream:
            got.append(event)
            if event.action == "restart":
                return

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    started.wait(2)
    # the stream starts from the index read when it opens: wait for that read, not a fixed time
    deadline = time.monotonic() + 5
    while not nomad_double.calls("GET", "^/v1/jobs$") and time.monotonic() < deadline:
        time.sleep(0.01)
    alloc = nomad_double.live_allocs("nomad-events")[0]
    nomad_double.crash_alloc(alloc["ID"])
    reader.join(5)
    stream.close()
    assert [e.action for e in got] == ["restart"]
    assert got[0].app == "nomad-events" and got[0].restart_count == 1 and got[0].max_retries == 10
    assert any("topic" in r.query for r in nomad_double.calls("GET", "/v1/event/stream"))


def test_stop_start_and_destroy(nomad_scheduler: Any, nomad_target: Target, file_store: Any) -> None:
    from dockyard.core.plan import record_release

    plan = plan_for(file_store, "nomad-life", nomad_target.image, {"web": WEB})
    roll_out(nomad_scheduler, plan, Hooks(load_entry_points=False))
    record_release(file_store, "nomad-life", plan.release, plan.image, {"web": WEB})
    nomad_scheduler.stop("nomad-life")
    assert nomad_scheduler.status("nomad-life") == []
    from dockyard.core.plan import write_scale

    write_scale(file_store, "nomad-life", {"web": 3})  # start brings back what ran, not a new plan
    nomad_scheduler.start("nomad-life")
    assert len(nomad_scheduler.status("nomad-life")) == 1
    assert {i.release for i in nomad_scheduler.status("nomad-life")} == {plan.release}
    nomad_scheduler.destroy("nomad-life")
    assert nomad_scheduler.status("nomad-life") == []
    assert nomad_scheduler.listeners("nomad-life", Exposure()) == {}


# ---- the shared scheduler conformance suite (dockyard.testing) ---------------------------
from dockyard.testing.schedulers import SchedulerSuite  # noqa: E402


class TestNomadConformance(SchedulerSuite):
    """Every case of the shared suite; skipped only where the driver declares no capability."""

    @pytest.fixture
    def store(self, file_store: Any, nomad_target: Target) -> Any:
        return file_store

    @pytest.fixture
    def scheduler(self, nomad_scheduler: Any) -> Any:
        return nomad_scheduler

    @pytest.fixture
    def image(self, nomad_target: Target) -> str:
        return nomad_target.image

    @pytest.fixture
    def network(self) -> Any:
        """Docker networks on the client nodes are made outside Nomad: the name is used as is
        (on a real cluster, DOCKYARD_TEST_NOMAD_NETWORK names one that exists)."""
        import os
        import uuid

        fixed = os.environ.get("DOCKYARD_TEST_NOMAD_NETWORK")
        return lambda hint: fixed or f"conf-{hint}-{uuid.uuid4().hex[:6]}"
