"""The plan -> service spec mapping (no engine needed), and the plugin's import boundary."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dockyard.core.errors import ValidationError
from dockyard.core.models import ChecksSettings, DeployPlan, NetworkSettings, ProcessSpec
from dockyard_swarm import spec as S

PLAN = DeployPlan(app="shop", release="r7", image="img:1",
                  processes=(ProcessSpec("web", ("httpd", "-f"), 2), ProcessSpec("worker", None, 1)),
                  env={"B": "2", "A": "1"}, restart_policy="on-failure:4",
                  networks=NetworkSettings(attach_post_create=("n1",), attach_post_deploy=("n2", "n1"), tld="svc"))


def test_a_type_is_one_service_with_its_scale_restart_policy_and_rolling_update() -> None:
    kw = S.service_spec(PLAN, PLAN.processes[0], stop_timeout=7)
    assert kw["name"] == "shop_web"
    assert kw["mode"] == {"Replicated": {"Replicas": 2}}
    container = kw["task_template"]["ContainerSpec"]
    assert container["Args"] == ["httpd", "-f"] and container["Image"] == "img:1"
    assert container["Env"] == ["A=1", "B=2", "DYNO=web.{{.Task.Slot}}", "PORT=5000"]
    assert container["Labels"]["com.dockyard.release"] == "r7" == kw["labels"]["com.dockyard.release"]
    assert container["StopGracePeriod"] == 7 * S.NS
    assert kw["task_template"]["RestartPolicy"]["Condition"] == "on-failure"
    assert kw["task_template"]["RestartPolicy"]["MaxAttempts"] == 4
    assert kw["update_config"]["Order"] == "start-first" and kw["update_config"]["FailureAction"] == "rollback"
    assert kw["endpoint_spec"] == {"Mode": "dnsrr"}
    # post-create and post-deploy networks, each once, with Dokku's alias
    assert kw["task_template"]["Networks"] == [{"Target": "n1", "Aliases": ["shop.web.svc"]},
                                               {"Target": "n2", "Aliases": ["shop.web.svc"]}]
    worker = S.service_spec(PLAN, PLAN.processes[1])
    assert "Args" not in worker["task_template"]["ContainerSpec"], "no command: the image's CMD runs"


def test_the_same_plan_gives_the_same_spec_so_a_scale_restarts_nothing() -> None:
    assert S.service_spec(PLAN, PLAN.processes[0]) == S.service_spec(PLAN, PLAN.processes[0])


@pytest.mark.parametrize(("policy", "condition", "attempts"), [
    ("no", "none", None), ("always", "any", None), ("unless-stopped", "any", None),
    ("on-failure", "on-failure", None), ("on-failure:10", "on-failure", 10)])
def test_restart_policies(policy: str, condition: str, attempts: int | None) -> None:
    got = S.restart_policy(policy)
    assert got["Condition"] == condition and got.get("MaxAttempts") == attempts


def test_a_bad_restart_policy_is_refused() -> None:
    with pytest.raises(ValidationError):
        S.restart_policy("sometimes")
    with pytest.raises(ValidationError):
        S.restart_policy("always:3")


def test_checks_are_a_healthcheck_at_wait_and_disabled_checks_stop_first() -> None:
    plan = DeployPlan(app="a", release="r", image="i", processes=(ProcessSpec("web", None, 1),),
                      checks=ChecksSettings(wait=3, path="/health", attempts=2, timeout=4))
    check = S.service_spec(plan, plan.processes[0])["task_template"]["ContainerSpec"]["Healthcheck"]
    assert check["Interval"] == 3 * S.NS and check["Retries"] == 2 and check["Timeout"] == 4 * S.NS
    assert "http://127.0.0.1:5000/health" in check["Test"][1]
    quick = DeployPlan(app="a", release="r", image="i", processes=(ProcessSpec("web", None, 1),),
                       checks=ChecksSettings(wait=0))
    assert "Healthcheck" not in S.service_spec(quick, quick.processes[0])["task_template"]["ContainerSpec"]
    off = DeployPlan(app="a", release="r", image="i", processes=(ProcessSpec("web", None, 1),),
                     checks=ChecksSettings(disabled=frozenset({"web"})))
    kw = S.service_spec(off, off.processes[0])
    assert kw["update_config"]["Order"] == "stop-first"
    assert "Healthcheck" not in kw["task_template"]["ContainerSpec"]


def test_a_dotted_app_gets_a_service_name_swarm_accepts() -> None:
    from dockyard_swarm.labels import service_name

    name = service_name("my.shop", "web")
    assert "." not in name and len(name) <= 63 and name != service_name("my-shop", "web")


#: what the plugin guide lets a driver import from Dockyard
PUBLIC = ("dockyard.schedulers.base", "dockyard.core.models", "dockyard.core.errors", "dockyard.core.names",
          "dockyard.core.lookup", "dockyard.core.hooks", "dockyard.schedulers.capabilities",
          "dockyard.schedulers.retries", "dockyard.schedulers.logstreams", "dockyard.schedulers.runs",
          "dockyard.schedulers.names", "dockyard.schedulers.local_images")


def test_the_plugin_imports_only_dockyards_public_contract() -> None:
    package = Path(__file__).resolve().parent.parent / "dockyard_swarm"
    used = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                used.add(node.module)
            elif isinstance(node, ast.Import):
                used.update(a.name for a in node.names)
    private = sorted(m for m in used if m.startswith("dockyard.") and m not in PUBLIC)
    assert private == [], f"not Dockyard's public contract: {private}"
