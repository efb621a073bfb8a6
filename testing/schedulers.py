"""The scheduler conformance suite: the same cases for every driver.

Every case goes through the core (``dockyard.core.deploy``), so it checks what a user
gets: the plan built from properties, the phases, the release record, the listeners.
To run it on a driver, subclass ``SchedulerSuite`` in a test module and provide four
fixtures::

    import pytest
    from dockyard.testing.schedulers import SchedulerSuite

    class TestMyScheduler(SchedulerSuite):
        @pytest.fixture
        def store(self, tmp_path): ...          # an empty PropertyStore
        @pytest.fixture
        def scheduler(self, store): ...         # the driver, bound to ``store``
        @pytest.fixture
        def image(self): ...                    # an image reference the driver can run
        @pytest.fixture
        def network(self):                      # factory: hint -> name of a network that
            ...                                 # exists for the driver; removed afterwards

The image must provide busybox-like ``sh``, ``httpd``, ``sleep`` and ``echo``: the cases run
``WEB``, ``WORKER`` and ``FAILING`` below. A driver that lacks a capability has the cases
needing it skipped, with the capability's name as the reason; every other case runs.

Cases marked ``needs_containers`` read a process's exit code or output, or need a process
that really crashes. A test module may deselect them where the platform only simulates
processes (Dockyard's own kubernetes run on kwok does); register the marker in your pytest
configuration if you run the suite elsewhere.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.core.deploy import deploy_app, run_app, scale_app
from dockyard.core.errors import DeployError, LockHeld, NotFound, NotSupported
from dockyard.core.hooks import Hooks
from dockyard.core.models import Instance, NetworkSettings, Phase
from dockyard.core.plan import app_listeners, current_release, write_scale
from dockyard.core.properties import create_app
from dockyard.propstores.base import PropertyStore
from dockyard.schedulers.base import Capability, Rollout, Scheduler
from dockyard.schedulers.capabilities import check_plan

__all__ = ["FAILING", "WEB", "WORKER", "SchedulerSuite"]

WEB = ("sh", "-c", "echo web up on $PORT; exec httpd -f -v -p $PORT -h /")
WORKER = ("sh", "-c", "echo worker up; exec sleep 3600")
FAILING = ("sh", "-c", "echo about to fail; exit 3")


class SettledRollout(Rollout):
    """A rollout with nothing to retire or undo, for a test scheduler that starts nothing
    (core's side of the contract under test, not a driver's)."""

    def finish(self, progress: Any = None) -> None: ...

    def undo(self) -> str:
        return "nothing to undo"


def _needs(scheduler: Scheduler, *caps: Capability) -> None:
    missing = [str(c) for c in caps if c not in scheduler.capabilities]
    if missing:
        pytest.skip(f"the {scheduler.name} scheduler lacks {', '.join(missing)}")


def _by_type(instances: list[Instance]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i in instances:
        counts[i.process_type] = counts.get(i.process_type, 0) + 1
    return counts


class SchedulerSuite:
    """Subclass with ``store``, ``scheduler``, ``image`` and ``network`` fixtures."""

    # ---- helpers ---------------------------------------------------------------------
    @pytest.fixture
    def new_app(self, store: PropertyStore, scheduler: Scheduler) -> Iterator[Callable[..., str]]:
        """Create apps with quick checks (wait 0, retire at once); destroyed afterwards."""
        made: list[str] = []

        def _make(hint: str = "app", **checks: str) -> str:
            name = f"conf{hint}-{uuid.uuid4().hex[:6]}"
            create_app(store, name)
            store.set("checks", name, "wait", checks.get("wait", "0"))
            store.set("checks", name, "wait-to-retire", checks.get("wait_to_retire", "0"))
            store.set("proxy", name, "type", "null")  # the scheduler suite does not test routing
            made.append(name)
            return name

        yield _make
        for name in made:
            with contextlib.suppress(Exception):
                scheduler.destroy(name)

    @staticmethod
    def quiet() -> Hooks:
        return Hooks(load_entry_points=False)

    @staticmethod
    def live(scheduler: Scheduler, app: str) -> list[Instance]:
        return [i for i in scheduler.status(app) if i.state == "running"]

    # ---- contract ----------------------------------------------------------------------
    def test_declares_capabilities(self, scheduler: Scheduler) -> None:
        assert isinstance(scheduler.name, str) and scheduler.name
        assert all(isinstance(c, Capability) for c in scheduler.capabilities)

    def test_unhonourable_setting_is_refused_naming_app_setting_and_scheduler(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        app = new_app("refuse")
        lacking = [c for c in (Capability.INITIAL_NETWORK, Capability.ATTACH_POST_CREATE,
                               Capability.ATTACH_POST_DEPLOY) if c not in scheduler.capabilities]
        if lacking:
            prop = str(lacking[0])
            store.set("network", app, prop, "some-network")
            with pytest.raises(NotSupported) as err:
                deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
            assert current_release(store, app) is None and scheduler.status(app) == []
        else:  # the driver honours every network setting: the refusal itself still names all three
            prop = "initial-network"
            with pytest.raises(NotSupported) as err:
                check_plan(app, NetworkSettings(initial_network="some-network"), (), scheduler.name, frozenset())
        message = str(err.value)
        assert app in message and prop in message and scheduler.name in message

    # ---- deploy --------------------------------------------------------------------------
    def test_deploy_runs_each_process_type_at_its_scale(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        app = new_app("deploy")
        write_scale(store, app, {"web": 2, "worker": 1})
        instances = deploy_app(store, scheduler, app, image=image,
                               processes={"web": WEB, "worker": WORKER, "idle": WORKER}, hooks=self.quiet())
        assert _by_type(instances) == {"web": 2, "worker": 1}
        release = current_release(store, app)
        assert release is not None and release[1] == image
        assert release[2]["web"] == WEB, "the parsed process list is stored with the release"
        assert store.get("apps", app, "deployed-image") == image
        live = self.live(scheduler, app)
        assert _by_type(live) == {"web": 2, "worker": 1}
        assert {i.release for i in live} == {release[0]}
        assert sorted((i.process_type, i.index) for i in live) == [("web", 1), ("web", 2), ("worker", 1)]

    def test_redeploy_replaces_the_old_release(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        app = new_app("redeploy")
        first = deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        second = deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        assert first[0].release != second[0].release
        live = self.live(scheduler, app)
        assert [i.release for i in live] == [second[0].release]
        assert {i.id for i in live}.isdisjoint({i.id for i in first})

    def test_scale_up_and_down(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        app = new_app("scale")
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB, "worker": WORKER}, hooks=self.quiet())
        assert _by_type(self.live(scheduler, app)) == {"web": 1}
        scale_app(store, scheduler, app, {"web": 3, "worker": 1}, hooks=self.quiet())
        assert _by_type(self.live(scheduler, app)) == {"web": 3, "worker": 1}
        scale_app(store, scheduler, app, {"web": 0}, hooks=self.quiet())
        assert _by_type(self.live(scheduler, app)) == {"worker": 1}

    def test_scale_before_the_first_deploy_is_stored_and_used(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        app = new_app("prescale")
        assert scale_app(store, scheduler, app, {"worker": 2, "clock": 1}, hooks=self.quiet()) is None
        assert scheduler.status(app) == []
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB, "worker": WORKER}, hooks=self.quiet())
        assert _by_type(self.live(scheduler, app)) == {"web": 1, "worker": 2}

    def test_listeners_cover_every_process_type(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        app = new_app("listen")
        store.set("config", app, "PORT", "5005")
        store.list_write("ports", app, "map", ["http:80:5005", "tcp:7000:7001:worker"])
        write_scale(store, app, {"web": 2, "worker": 1})
        deploy_app(store, scheduler, app, image=image,
                   processes={"web": WEB, "worker": WORKER, "idle": WORKER}, hooks=self.quiet())
        # behind the null proxy nothing waited for them: a cluster lists a ready pod in its
        # EndpointSlice a moment later, so they are asked again until they settle (bounded)
        deadline = time.monotonic() + 30
        listeners = app_listeners(store, scheduler, app)
        while len(listeners.get("web", [])) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            listeners = app_listeners(store, scheduler, app)
        assert set(listeners) >= {"web", "worker", "idle"}
        assert len(listeners["web"]) == 2 and {x.port for x in listeners["web"]} == {5005}
        assert len(listeners["worker"]) == 1 and listeners["worker"][0].port == 7001
        assert listeners["idle"] == []
        assert all(x.host for x in listeners["web"] + listeners["worker"])

    # ---- the switch: core-post-deploy, finish, abort ------------------------------------------
    def test_core_post_deploy_fires_once_with_the_checked_new_release(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        """Every driver, whatever its capabilities: the proxy switches on this hook, to the
        listeners it carries, while the new release is up and checked."""
        app = new_app("switch")
        write_scale(store, app, {"web": 2})
        first = deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        seen: list[dict[str, Any]] = []
        hooks = self.quiet()
        hooks.subscribe("core-post-deploy", lambda **kw: seen.append(
            {**kw, "running": {i.release for i in self.live(scheduler, app)}}))
        second = deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=hooks)
        assert len(seen) == 1
        fired = seen[0]
        assert fired["app"] == app and fired["plan"].release == second[0].release
        assert {i.release for i in fired["instances"]} == {second[0].release}
        assert len(fired["listeners"]["web"]) == 2 and all(x.host for x in fired["listeners"]["web"])
        assert second[0].release in fired["running"]
        # after finish only the new release is left, and the proxy's listeners are the new ones
        assert {i.release for i in self.live(scheduler, app)} == {second[0].release}
        assert app_listeners(store, scheduler, app)["web"] == fired["listeners"]["web"]
        assert first[0].release != second[0].release

    def test_behind_the_null_proxy_nothing_asks_where_the_release_listens(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str],
            monkeypatch: pytest.MonkeyPatch) -> None:
        """The null proxy routes nothing, so finding listeners (on a cluster, Service and
        EndpointSlice lists and a wait for every endpoint) would be spent for no one."""
        app = new_app("unrouted")
        asked: list[str] = []
        real = scheduler.listeners

        def counted(name: str, exposure: Any) -> Any:
            asked.append(name)
            return real(name, exposure)

        monkeypatch.setattr(scheduler, "listeners", counted)
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        scale_app(store, scheduler, app, {"web": 2}, hooks=self.quiet())
        assert _by_type(self.live(scheduler, app)) == {"web": 2}
        assert asked == []

    def test_a_failed_switch_aborts_and_the_old_release_keeps_running(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        app = new_app("abort")
        first = deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        hooks = self.quiet()

        def refuse(**_: Any) -> None:
            raise RuntimeError("the proxy rejected the config")

        hooks.subscribe("core-post-deploy", refuse)
        with pytest.raises(DeployError) as err:
            deploy_app(store, scheduler, app, image=image, processes={"web": WEB, "worker": WORKER}, hooks=hooks)
        assert "switching traffic to it failed" in str(err.value) and "the proxy rejected the config" in str(err.value)
        release = current_release(store, app)
        assert release is not None and release[0] == first[0].release and set(release[2]) == {"web"}
        deadline = time.monotonic() + 60
        while {i.release for i in self.live(scheduler, app)} != {first[0].release} and time.monotonic() < deadline:
            time.sleep(0.5)  # a platform that reverts by rolling out the old release again
        live = self.live(scheduler, app)
        assert _by_type(live) == {"web": 1} and {i.release for i in live} == {first[0].release}

    # ---- run -----------------------------------------------------------------------------
    @pytest.mark.needs_containers
    def test_run_passes_the_exit_code_and_the_environment(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        _needs(scheduler, Capability.RUN)
        app = new_app("run")
        store.set("config", app, "GREETING", "hello")
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        before = {i.id for i in scheduler.status(app)}
        phases: list[Any] = []
        hooks = self.quiet()
        hooks.subscribe("post-container-create", lambda **kw: phases.append(kw.get("phase")))
        assert run_app(store, scheduler, app, ["sh", "-c", "exit 7"], hooks=hooks) == 7
        assert run_app(store, scheduler, app, ["sh", "-c", 'test "$GREETING" = hello']) == 0
        assert phases == [Phase.RUN]
        assert {i.id for i in scheduler.status(app)} == before, "one-off instances are removed"

    # ---- networks and phases ---------------------------------------------------------------
    def test_post_create_networks_are_attached_in_the_deploy_phase(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str],
            network: Callable[[str], str]) -> None:
        _needs(scheduler, Capability.ATTACH_POST_CREATE)
        app = new_app("pcreate")
        net = network("pcreate")
        store.set("network", app, "attach-post-create", net)
        seen: list[dict[str, Any]] = []
        hooks = self.quiet()
        hooks.subscribe("post-container-create", lambda **kw: seen.append(kw))
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=hooks)
        assert [(kw["phase"], kw["process_type"], kw["app"]) for kw in seen] == [(Phase.DEPLOY, "web", app)]
        assert all(net in i.addresses for i in self.live(scheduler, app))

    def test_post_deploy_networks_are_attached_before_core_post_deploy(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str],
            network: Callable[[str], str]) -> None:
        _needs(scheduler, Capability.ATTACH_POST_DEPLOY)
        app = new_app("pdeploy")
        net = network("pdeploy")
        store.set("network", app, "attach-post-deploy", net)
        at_switch: list[list[Instance]] = []
        hooks = self.quiet()
        hooks.subscribe("core-post-deploy", lambda **kw: at_switch.append(self.live(scheduler, app)))
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=hooks)
        assert len(at_switch) == 1
        assert at_switch[0] and all(net in i.addresses for i in at_switch[0])

    def test_several_networks_per_phase(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str],
            network: Callable[[str], str]) -> None:
        _needs(scheduler, Capability.MULTIPLE_NETWORKS, Capability.ATTACH_POST_CREATE, Capability.ATTACH_POST_DEPLOY)
        app = new_app("multi")
        nets = [network("m1"), network("m2"), network("m3")]
        store.set("network", app, "attach-post-create", f"{nets[0]},{nets[1]}")
        store.set("network", app, "attach-post-deploy", nets[2])
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        for inst in self.live(scheduler, app):
            assert set(nets) <= set(inst.addresses)

    def test_initial_network_gives_the_listener_address(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str],
            network: Callable[[str], str]) -> None:
        _needs(scheduler, Capability.INITIAL_NETWORK)
        app = new_app("initial")
        net = network("initial")
        store.set("network", app, "initial-network", net)
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        live = self.live(scheduler, app)
        assert len(live) == 1 and net in live[0].addresses
        assert [x.host for x in app_listeners(store, scheduler, app)["web"]] == [live[0].addresses[net]]

    def test_a_missing_network_fails_before_anything_changes(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        _needs(scheduler, Capability.ATTACH_POST_CREATE)
        app = new_app("missing")
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        release = current_release(store, app)
        before = {(i.id, i.state) for i in scheduler.status(app)}
        store.set("network", app, "attach-post-create", f"no-such-net-{uuid.uuid4().hex[:6]}")
        with pytest.raises(NotFound, match="does not exist"):
            deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        assert current_release(store, app) == release
        assert {(i.id, i.state) for i in scheduler.status(app)} == before

    # ---- checks -----------------------------------------------------------------------------
    @pytest.mark.needs_containers
    def test_a_failed_check_leaves_the_old_release_serving(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        _needs(scheduler, Capability.ZERO_DOWNTIME)
        app = new_app("failcheck", wait="1")
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        release = current_release(store, app)
        before = self.live(scheduler, app)
        switched: list[bool] = []
        hooks = self.quiet()
        hooks.subscribe("core-post-deploy", lambda **kw: switched.append(True))
        with pytest.raises(DeployError) as err:
            deploy_app(store, scheduler, app, image=image, processes={"web": FAILING}, hooks=hooks)
        assert app in str(err.value)
        if Capability.LOGS in scheduler.capabilities:
            assert "about to fail" in str(err.value), "the failing instance's last log lines are shown"
        assert switched == [], "the proxy never switched"
        assert current_release(store, app) == release
        assert [(i.id, i.state) for i in scheduler.status(app)] == [(i.id, "running") for i in before]

    def test_a_second_deploy_of_the_same_app_waits_for_the_lock(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str],
            monkeypatch: pytest.MonkeyPatch) -> None:
        import dockyard.core.deploy as deploy_module

        app = new_app("lock")
        monkeypatch.setattr(deploy_module, "LOCK_TIMEOUT", 0.3)
        with store.lock(f"deploy-{app}"), pytest.raises(LockHeld):
            deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        assert scheduler.status(app) == [] and current_release(store, app) is None

    # ---- lifecycle ----------------------------------------------------------------------------
    @pytest.mark.needs_containers
    def test_logs_show_the_processes_output(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        _needs(scheduler, Capability.LOGS)
        app = new_app("logs")
        write_scale(store, app, {"web": 0, "worker": 1})
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB, "worker": WORKER}, hooks=self.quiet())
        deadline = time.monotonic() + 10
        lines: list[str] = []
        while time.monotonic() < deadline and not any("worker up" in line for line in lines):
            lines = list(scheduler.logs(app, process_type="worker", tail=10))
            time.sleep(0.2)
        assert any("worker up" in line for line in lines), lines

    def test_events_report_instance_starts(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        _needs(scheduler, Capability.EVENTS)
        app = new_app("events")
        seen: queue.Queue[Any] = queue.Queue()
        done = threading.Event()

        def follow() -> None:
            with contextlib.suppress(Exception):
                for event in scheduler.events():
                    if done.is_set():
                        return
                    if event.app == app:
                        seen.put(event)

        threading.Thread(target=follow, daemon=True).start()
        time.sleep(0.5)  # the stream is open before the work starts
        try:
            instances = deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
            deadline = time.monotonic() + 10
            starts: list[Any] = []
            while time.monotonic() < deadline and not starts:
                with contextlib.suppress(queue.Empty):
                    event = seen.get(timeout=0.5)
                    if event.action == "start":
                        starts.append(event)
            assert starts, "a start event for the new instance"
            assert starts[0].process_type == "web" and starts[0].instance_id == instances[0].id
            assert starts[0].restart_policy == "on-failure" and starts[0].max_retries == 10
        finally:
            done.set()  # the follower returns on the next event (the destroy at teardown)

    def test_destroy_removes_every_instance(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        app = new_app("destroy")
        write_scale(store, app, {"web": 2})
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        assert len(scheduler.status(app)) == 2
        scheduler.destroy(app)
        assert scheduler.status(app) == []
        assert app_listeners(store, scheduler, app).get("web", []) == []

    # ---- releases -----------------------------------------------------------------------------
    @staticmethod
    def reported_env(scheduler: Scheduler, app: str) -> list[dict[str, str]] | None:
        """Each live instance's environment where the driver's ``inspect`` shows it (a docker
        container's ``Config.Env``), else None: the case then checks it through ``run``."""
        found = []
        for item in scheduler.inspect(app):
            config = item.get("Config") if isinstance(item, dict) else None
            if not isinstance(config, dict) or not isinstance(config.get("Env"), list):
                return None
            found.append(dict(str(e).partition("=")[::2] for e in config["Env"]))
        return found or None

    def test_rollback_runs_the_old_release_with_its_environment_and_zero_downtime(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        """Deploy v1 with env A, v2 with env B (and a worker), roll back: what runs is v1's
        image, processes and environment again, as a new release, and v2 served until it was up."""
        from dockyard.core import releases
        from dockyard.core.deploy import rollback_app

        app = new_app("rollback")
        store.set("config", app, "GREETING", "a")
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        store.set("config", app, "GREETING", "b")
        write_scale(store, app, {"worker": 1})
        v2 = deploy_app(store, scheduler, app, image=image, processes={"web": WEB, "worker": WORKER},
                        hooks=self.quiet())
        old = v2[0].release
        seen: list[set[str]] = []  # the releases of the running web instances, at each step

        def observe(*_: Any) -> None:
            seen.append({i.release for i in self.live(scheduler, app) if i.process_type == "web"})

        hooks = self.quiet()
        hooks.subscribe("core-post-deploy", lambda **_: observe())
        target, instances = rollback_app(store, scheduler, app, hooks=hooks, progress=observe)
        assert target.name == "v1"
        new = instances[0].release
        current = current_release(store, app)
        assert current is not None and current[0] == new and current[1] == image and set(current[2]) == {"web"}
        v3 = releases.get_release(store, app, 3)
        assert (v3.description, v3.status, v3.image) == ("Rollback to v1", "succeeded", image)
        assert v3.env == {"GREETING": "a"}
        assert store.get("config", app, "GREETING") == "a"
        deadline = time.monotonic() + 60
        while _by_type(self.live(scheduler, app)) != {"web": 1} and time.monotonic() < deadline:
            time.sleep(0.5)  # a platform that removes a dropped process type's instances by itself
        live = self.live(scheduler, app)
        assert _by_type(live) == {"web": 1} and {i.release for i in live} == {new}
        envs = self.reported_env(scheduler, app)
        if envs is not None:
            assert [e.get("GREETING") for e in envs] == ["a"]
        assert seen and new in seen[-1], "the new release serves once traffic switched"
        if Capability.ZERO_DOWNTIME in scheduler.capabilities:
            assert all(s & {old, new} for s in seen), f"web was served at every step of the rollback: {seen}"
            assert any(old in s for s in seen), "the old release kept running while the new one came up"

    @pytest.mark.needs_containers
    def test_a_rolled_back_release_runs_with_its_environment(
            self, scheduler: Scheduler, store: PropertyStore, image: str, new_app: Callable[..., str]) -> None:
        """Where ``inspect`` does not show the environment, a one-off of the rolled-back release does."""
        _needs(scheduler, Capability.RUN)
        from dockyard.core.deploy import rollback_app

        app = new_app("rollenv")
        store.set("config", app, "GREETING", "a")
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        store.set("config", app, "GREETING", "b")
        deploy_app(store, scheduler, app, image=image, processes={"web": WEB}, hooks=self.quiet())
        rollback_app(store, scheduler, app, hooks=self.quiet())
        assert run_app(store, scheduler, app, ["sh", "-c", 'test "$GREETING" = a']) == 0
