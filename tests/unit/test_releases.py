"""Release records: numbering, what each records, failures, retention, diff, rollback.

Deploys go through the real core path (``deploy_app``, ``rebuild_app``, ``rollback_app``)
against a scheduler that starts nothing, so what is checked is what the store holds
afterwards, as ``releases:list`` and ``releases:info`` show it.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dockyard.core import open_propstore
from dockyard.core import releases as R
from dockyard.core.deploy import deploy_app, rebuild_app, rollback_app
from dockyard.core.errors import DeployError, NotFound, NotSupported, ValidationError
from dockyard.core.hooks import Hooks
from dockyard.core.models import DeployPlan, Exposure, ImageConfig, Instance, Listener
from dockyard.core.plan import current_release
from dockyard.core.properties import create_app
from dockyard.propstores.base import PropertyStore
from dockyard.schedulers.base import Capability, Rollout, Scheduler
from dockyard.testing.schedulers import SettledRollout
from tests.fixtures.cli import ok

WEB = ("sh", "-c", "httpd")


class Recording(Scheduler):
    """Starts nothing; remembers each plan it was asked to roll out, and which images exist."""

    name = "recording"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.BUILD})

    def __init__(self, store: PropertyStore, images: set[str] | None = None) -> None:
        super().__init__(store)
        self.plans: list[DeployPlan] = []
        self.images = images

    def rollout(self, plan: DeployPlan, hooks: Any, progress: Any = None) -> Rollout:
        self.plans.append(plan)
        return SettledRollout(plan, self)

    def image_config(self, image: str) -> ImageConfig:
        if self.images is None:
            raise NotSupported("cannot read images")
        if image not in self.images:
            raise NotFound(f"image {image} does not exist")
        return ImageConfig("/", None)

    def image_available(self, image: str) -> bool | None:
        return None if self.images is None else image in self.images

    def stop(self, app: str) -> None: ...

    def start(self, app: str) -> None: ...

    def destroy(self, app: str) -> None: ...

    def status(self, app: str) -> list[Instance]:
        return []

    def listeners(self, app: str, exposure: Exposure) -> dict[str, list[Listener]]:
        return {}


def quiet() -> Hooks:
    return Hooks(load_entry_points=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PropertyStore]:
    s = open_propstore(f"file://{tmp_path}")
    create_app(s, "shop")
    s.set("proxy", "shop", "type", "null")
    yield s
    s.close()


@pytest.fixture
def sched(store: PropertyStore) -> Recording:
    return Recording(store)


def deploy(store: PropertyStore, sched: Scheduler, image: str = "shop:1", **kw: Any) -> list[Instance]:
    return deploy_app(store, sched, "shop", image=image, processes=kw.pop("processes", {"web": WEB}),
                      hooks=kw.pop("hooks", quiet()), **kw)


def statuses(store: PropertyStore) -> list[tuple[str, str, str]]:
    return [(r.name, r.status, r.description) for r in R.list_releases(store, "shop")]


# ---- what a release records ------------------------------------------------------------
def test_a_deploy_records_v1_with_everything_that_ran(store: PropertyStore, sched: Recording) -> None:
    store.set("config", "--global", "SHARED", "everyone")
    store.set("config", "shop", "GREETING", "hello")
    store.list_write("ps", "shop", "scale", ["web=2"])
    deploy(store, sched)
    (v1,) = R.list_releases(store, "shop")
    assert (v1.name, v1.status, v1.description) == ("v1", "succeeded", "Deploy shop:1")
    assert v1.image == "shop:1" and v1.processes == {"web": list(WEB)} and v1.scale == {"web": 2}
    assert v1.env == {"GREETING": "hello"}, "the app's own scope, not the global config"
    assert v1.host == socket.gethostname() and v1.user
    when = dt.datetime.strptime(v1.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 60
    assert v1.release_id == sched.plans[0].release
    assert R.current_number(store, "shop") == 1
    current = current_release(store, "shop")
    assert current is not None and current[1] == "shop:1", "the existing release keys still work"


def test_each_new_running_state_is_the_next_number_and_supersedes_the_last(
        store: PropertyStore, sched: Recording) -> None:
    deploy(store, sched)
    store.set("config", "shop", "GREETING", "hi")
    rebuild_app(store, sched, "shop", hooks=quiet(), description="Set GREETING")
    rebuild_app(store, sched, "shop", hooks=quiet(), description="Rebuild")
    deploy(store, sched, "shop:2")
    assert statuses(store) == [("v4", "succeeded", "Deploy shop:2"), ("v3", "superseded", "Rebuild"),
                               ("v2", "superseded", "Set GREETING"), ("v1", "superseded", "Deploy shop:1")]
    assert R.get_release(store, "shop", 2).env == {"GREETING": "hi"}
    assert R.get_release(store, "shop", 1).env == {}


def test_a_failed_switch_is_recorded_failed_with_the_reason_and_the_old_one_serves(
        store: PropertyStore, sched: Recording) -> None:
    deploy(store, sched)
    hooks = quiet()

    def refuse(**_: Any) -> None:
        raise RuntimeError("the proxy rejected the config")

    hooks.subscribe("core-post-deploy", refuse)
    with pytest.raises(DeployError):
        deploy(store, sched, "shop:2", hooks=hooks)
    assert statuses(store) == [("v2", "failed", "Deploy shop:2"), ("v1", "succeeded", "Deploy shop:1")]
    v2 = R.get_release(store, "shop", 2)
    assert "the proxy rejected the config" in v2.reason
    assert R.current_number(store, "shop") == 1
    current = current_release(store, "shop")
    assert current is not None and current[1] == "shop:1"


def test_an_interrupted_release_is_recorded_failed(store: PropertyStore, sched: Recording,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from dockyard.core.errors import Interrupted

    deploy(store, sched)

    def interrupted(plan: DeployPlan, hooks: Any, progress: Any = None) -> Rollout:
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(sched, "rollout", interrupted)
    with pytest.raises(Interrupted):
        deploy(store, sched, "shop:2")
    v2 = R.get_release(store, "shop", 2)
    assert (v2.status, v2.reason) == ("failed", "interrupted by SIGTERM")
    assert R.current_number(store, "shop") == 1


# ---- numbering -----------------------------------------------------------------------------
def _allocate_many(url: str, count: int, out: Any) -> None:
    s = open_propstore(url)
    try:
        out.put([R.allocate(s, "shop") for _ in range(count)])
    finally:
        s.close()


@pytest.mark.parametrize("kind", ["file", "redis", "etcd"])
def test_numbers_are_unique_when_several_processes_take_them_at_once(
        kind: str, store_url_factory: Callable[[str], str]) -> None:
    url = store_url_factory(kind)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_allocate_many, args=(url, 15, out)) for _ in range(4)]
    for p in procs:
        p.start()
    taken = [n for _ in procs for n in out.get(timeout=60)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert sorted(taken) == list(range(1, 61)), "every number once, none skipped or shared"


def test_release_names_are_checked() -> None:
    assert R.parse_name("v12") == 12 and R.parse_name("3") == 3
    for bad in ("v0", "x3", "v-1", "", "v3.1"):
        with pytest.raises(ValidationError, match="expected vN"):
            R.parse_name(bad)


# ---- retention -----------------------------------------------------------------------------
def test_history_beyond_retention_is_pruned_and_the_kept_images_listed(
        store: PropertyStore, sched: Recording) -> None:
    store.set(R.PLUGIN, "shop", R.RETENTION, "3")
    for n in range(1, 7):
        deploy(store, sched, f"shop:{n}")
    assert [r.name for r in R.list_releases(store, "shop")] == ["v6", "v5", "v4"]
    assert store.list_get(R.PLUGIN, "shop", R.KEPT_IMAGES) == ["shop:6", "shop:5", "shop:4"]
    with pytest.raises(NotFound, match="pruned by retention"):
        R.get_release(store, "shop", 2)


def test_retention_never_prunes_the_current_release(store: PropertyStore, sched: Recording) -> None:
    store.set(R.PLUGIN, "--global", R.RETENTION, "2")
    deploy(store, sched)
    hooks = quiet()
    hooks.subscribe("core-post-deploy", lambda **_: (_ for _ in ()).throw(RuntimeError("no")))
    for n in range(2, 5):
        with pytest.raises(DeployError):
            deploy(store, sched, f"shop:{n}", hooks=hooks)
    # the newest two, and the one that serves beyond them
    assert [(r.name, r.status) for r in R.list_releases(store, "shop")] == [
        ("v4", "failed"), ("v3", "failed"), ("v1", "succeeded")]
    assert store.list_get(R.PLUGIN, "shop", R.KEPT_IMAGES) == ["shop:1"], "failed releases need no image"


def test_retention_is_validated() -> None:
    for bad in ("0", "-1", "x", "1.5"):
        with pytest.raises(ValidationError):
            R.validate_retention("retention", bad)
    R.validate_retention("retention", "20")


# ---- diff ----------------------------------------------------------------------------------
def _release(number: int, env: dict[str, str], image: str = "shop:1", **kw: Any) -> R.Release:
    return R.new_release(number, image=image, processes=kw.get("processes", {"web": WEB}), env=env,
                         scale=kw.get("scale", {"web": 1}), description="d", release_id=str(number))


def test_diff_names_the_changed_keys_and_masks_their_values() -> None:
    a = _release(1, {"KEEP": "same", "OLD": "gone-secret", "TOKEN": "s3cret"})
    b = _release(2, {"KEEP": "same", "NEW": "fresh-secret", "TOKEN": "t0ken"}, image="shop:2",
                 processes={"web": WEB, "worker": ("sleep", "1")}, scale={"web": 2, "worker": 1})
    d = R.diff(a, b)
    assert d["image"] == {"from": "shop:1", "to": "shop:2"}
    assert d["processes"] == {"worker": {"from": None, "to": ["sleep", "1"]}}
    assert d["scale"] == {"web": {"from": 1, "to": 2}, "worker": {"from": None, "to": 1}}
    assert d["env"] == {"added": {"NEW": R.MASK}, "removed": {"OLD": R.MASK},
                        "changed": {"TOKEN": {"from": R.MASK, "to": R.MASK}}}
    text = json.dumps(d)
    assert not any(secret in text for secret in ("gone-secret", "s3cret", "t0ken", "fresh-secret", "same"))
    shown = R.diff(a, b, show_values=True)["env"]
    assert shown["changed"] == {"TOKEN": {"from": "s3cret", "to": "t0ken"}}
    assert shown["added"] == {"NEW": "fresh-secret"}


# ---- rollback ------------------------------------------------------------------------------
def test_rollback_deploys_the_old_image_processes_and_environment(store: PropertyStore, sched: Recording) -> None:
    store.set("config", "shop", "GREETING", "a")
    deploy(store, sched, "shop:1")
    store.set("config", "shop", "GREETING", "b")
    store.set("config", "shop", "EXTRA", "x")
    deploy(store, sched, "shop:2", processes={"web": WEB, "worker": ("sleep", "9")})
    target, _ = rollback_app(store, sched, "shop", hooks=quiet())
    assert target.name == "v1"
    plan = sched.plans[-1]
    assert plan.image == "shop:1" and [p.name for p in plan.processes] == ["web"]
    assert plan.env == {"GREETING": "a"}
    assert store.get_all("config", "shop") == {"GREETING": "a"}, "the app's config is v1's again"
    assert statuses(store)[0] == ("v3", "succeeded", "Rollback to v1")
    v3 = R.get_release(store, "shop", 3)
    assert v3.image == "shop:1" and v3.env == {"GREETING": "a"}
    # the default goes back one more: v2 is the last that served before v3
    assert rollback_app(store, sched, "shop", hooks=quiet())[0].name == "v2"
    assert store.get_all("config", "shop") == {"GREETING": "b", "EXTRA": "x"}


def test_a_failed_rollback_changes_nothing(store: PropertyStore, sched: Recording) -> None:
    store.set("config", "shop", "GREETING", "a")
    deploy(store, sched, "shop:1")
    store.set("config", "shop", "GREETING", "b")
    deploy(store, sched, "shop:2")
    hooks = quiet()
    hooks.subscribe("core-post-deploy", lambda **_: (_ for _ in ()).throw(RuntimeError("proxy said no")))
    with pytest.raises(DeployError):
        rollback_app(store, sched, "shop", 1, hooks=hooks)
    assert store.get_all("config", "shop") == {"GREETING": "b"}
    assert R.current_number(store, "shop") == 2
    current = current_release(store, "shop")
    assert current is not None and current[1] == "shop:2"
    assert statuses(store)[0] == ("v3", "failed", "Rollback to v1")


def test_rollback_is_refused_naming_the_release_when_its_image_is_gone(store: PropertyStore) -> None:
    sched = Recording(store, images={"shop:1", "shop:2"})
    deploy(store, sched, "shop:1")
    deploy(store, sched, "shop:2")
    assert sched.images is not None
    sched.images.discard("shop:1")
    with pytest.raises(NotFound) as err:
        rollback_app(store, sched, "shop", hooks=quiet())
    assert "v1" in str(err.value) and "shop:1" in str(err.value) and "no longer available" in str(err.value)
    assert R.current_number(store, "shop") == 2 and len(sched.plans) == 2
    assert store.get(R.PLUGIN, "shop", R.COUNTER) == "2", "no number was taken"


def test_a_registry_pulling_scheduler_rolls_back_to_the_reference(store: PropertyStore) -> None:
    class Pulling(Recording):
        """Reads images on this host, but runs what its registry holds: it cannot tell."""

        capabilities: ClassVar[frozenset[Capability]] = frozenset()

        def image_available(self, image: str) -> bool | None:
            return None

    sched = Pulling(store, images=set())  # nothing on this host: the registry has them
    deploy(store, sched, "reg.example/shop:1")
    deploy(store, sched, "reg.example/shop:2")
    assert rollback_app(store, sched, "shop", hooks=quiet())[0].name == "v1"
    assert sched.plans[-1].image == "reg.example/shop:1"


def test_rollback_refuses_a_failed_or_the_current_release(store: PropertyStore, sched: Recording) -> None:
    with pytest.raises(NotFound, match="no earlier release"):
        rollback_app(store, sched, "shop", hooks=quiet())
    deploy(store, sched)
    with pytest.raises(NotFound, match="no earlier release"):
        rollback_app(store, sched, "shop", hooks=quiet())
    with pytest.raises(ValidationError, match="current release"):
        rollback_app(store, sched, "shop", 1, hooks=quiet())
    hooks = quiet()
    hooks.subscribe("core-post-deploy", lambda **_: (_ for _ in ()).throw(RuntimeError("no")))
    with pytest.raises(DeployError):
        deploy(store, sched, "shop:2", hooks=hooks)
    with pytest.raises(ValidationError, match="v2: that release failed"):
        rollback_app(store, sched, "shop", 2, hooks=quiet())


# ---- the commands ----------------------------------------------------------------------------
def test_list_info_and_diff_commands(run: Callable[..., Any], file_store: PropertyStore) -> None:
    ok(run("apps:create", "shop"))
    sched = Recording(file_store)
    file_store.set("config", "shop", "API_TOKEN", "first-secret")
    deploy(file_store, sched, "shop:1")
    file_store.set("config", "shop", "API_TOKEN", "second-secret")
    rebuild_app(file_store, sched, "shop", hooks=quiet(), description="Set API_TOKEN")

    rows = json.loads(ok(run("--format", "json", "releases:list", "shop")).stdout)
    assert [(r["name"], r["status"], r["current"]) for r in rows] == [
        ("v2", "succeeded", True), ("v1", "superseded", False)]
    assert rows[0]["env"] == {"API_TOKEN": R.MASK}, "values are masked in the list too"
    assert "secret" not in ok(run("--format", "json", "releases:list", "shop")).stdout
    text = ok(run("releases:list", "shop")).stdout.splitlines()
    assert text[1].startswith("* v2") and "Set API_TOKEN" in text[1] and text[2].startswith("  v1")

    info = json.loads(ok(run("--format", "json", "releases:info", "shop", "v1")).stdout)
    assert info["image"] == "shop:1" and info["env"] == {"API_TOKEN": R.MASK}
    shown = json.loads(ok(run("--format", "json", "releases:info", "shop", "v1", "--show-values")).stdout)
    assert shown["env"] == {"API_TOKEN": "first-secret"}
    assert "first-secret" not in ok(run("releases:info", "shop", "v1")).stdout

    diff = ok(run("releases:diff", "shop", "v1")).stdout
    assert "~ API_TOKEN: ***** -> *****" in diff and "secret" not in diff
    assert "first-secret -> second-secret" in ok(run("releases:diff", "shop", "v1", "v2", "--show-values")).stdout
    missing = run("releases:info", "shop", "v9")
    assert missing.exit_code != 0 and "no release v9" in missing.stderr


def test_set_and_report_retention(run: Callable[..., Any]) -> None:
    ok(run("apps:create", "shop"))
    report = json.loads(ok(run("--format", "json", "releases:report", "shop")).stdout)
    assert report["releases-computed-retention"] == "20" and report["releases-count"] == "0"
    ok(run("releases:set", "--global", "retention", "7"))
    assert ok(run("releases:report", "shop", "--releases-computed-retention")).stdout.strip() == "7"
    ok(run("releases:set", "shop", "retention", "3"))
    assert ok(run("releases:report", "shop", "--releases-computed-retention")).stdout.strip() == "3"
    refused = run("releases:set", "shop", "retention", "0")
    assert refused.exit_code != 0 and "retention" in refused.stderr
    assert ok(run("releases:report", "shop", "--releases-retention")).stdout.strip() == "3"


def test_docker_local_reads_the_kept_images_where_core_writes_them() -> None:
    """The driver may not import core's release module, so it names the property itself."""
    from dockyard.schedulers.docker_local.driver import KEPT_IMAGES

    assert KEPT_IMAGES == (R.PLUGIN, R.KEPT_IMAGES)


def test_a_clone_starts_its_own_history(store: PropertyStore, sched: Recording) -> None:
    from dockyard.core.apps import clone_app

    deploy(store, sched, "shop:1")
    deploy(store, sched, "shop:2")
    assert clone_app(store, lambda _app: sched, "shop", "shop2", hooks=quiet())
    assert [(r.name, r.description) for r in R.list_releases(store, "shop2")] == [("v1", "Deploy shop:2")]
    assert R.current_number(store, "shop2") == 1
    assert [r.name for r in R.list_releases(store, "shop")] == ["v2", "v1"], "the original keeps its own"
