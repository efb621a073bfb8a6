"""The Nomad job: checked against the fields of Nomad's JSON job specification (the HTTP API
that python-nomad's ``register_job`` posts to), and for what each field means."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.core.errors import ValidationError
from dockyard.core.models import ChecksSettings, DeployPlan, NetworkSettings, PortMapping, ProcessSpec
from dockyard.schedulers.nomad import render as R

STR, INT, BOOL, LIST, MAP = str, int, bool, list, dict

#: Nomad's JSON job specification (api/jobs.go, api/tasks.go, api/services.go, api/resources.go):
#: every field a job may carry, with its JSON type, or the name of a nested object.
SCHEMA: dict[str, dict[str, Any]] = {
    "Job": {"Region": STR, "Namespace": STR, "ID": STR, "Name": STR, "Type": STR, "Priority": INT,
            "AllAtOnce": BOOL, "Datacenters": [STR], "NodePool": STR, "Constraints": LIST, "Affinities": LIST,
            "TaskGroups": ["TaskGroup"], "Update": "Update", "Spreads": LIST, "Periodic": MAP,
            "ParameterizedJob": MAP, "Reschedule": "Reschedule", "Migrate": MAP, "Meta": {STR: STR},
            "ConsulToken": STR, "VaultToken": STR, "Stop": BOOL, "ParentID": STR, "Payload": STR},
    "TaskGroup": {"Name": STR, "Count": INT, "Constraints": LIST, "Affinities": LIST, "Tasks": ["Task"],
                  "Spreads": LIST, "Volumes": MAP, "RestartPolicy": "RestartPolicy", "Disconnect": MAP,
                  "ReschedulePolicy": "Reschedule", "EphemeralDisk": MAP, "Update": "Update", "Migrate": MAP,
                  "Networks": ["Network"], "Meta": {STR: STR}, "Services": ["Service"], "ShutdownDelay": INT,
                  "StopAfterClientDisconnect": INT, "MaxClientDisconnect": INT, "Scaling": MAP, "Consul": MAP},
    "Task": {"Name": STR, "Driver": STR, "User": STR, "Lifecycle": MAP, "Config": "DockerConfig",
             "Constraints": LIST, "Affinities": LIST, "Env": {STR: STR}, "Services": ["Service"],
             "Resources": "Resources", "RestartPolicy": "RestartPolicy", "Meta": {STR: STR}, "KillTimeout": INT,
             "LogConfig": MAP, "Artifacts": LIST, "Vault": MAP, "Templates": LIST, "DispatchPayload": MAP,
             "VolumeMounts": LIST, "Leader": BOOL, "ShutdownDelay": INT, "KillSignal": STR, "Kind": STR},
    "RestartPolicy": {"Interval": INT, "Attempts": INT, "Delay": INT, "Mode": STR, "RenderTemplates": BOOL},
    "Reschedule": {"Attempts": INT, "Interval": INT, "Delay": INT, "DelayFunction": STR, "MaxDelay": INT,
                   "Unlimited": BOOL},
    "Update": {"Stagger": INT, "MaxParallel": INT, "HealthCheck": STR, "MinHealthyTime": INT,
               "HealthyDeadline": INT, "ProgressDeadline": INT, "Canary": INT, "AutoRevert": BOOL,
               "AutoPromote": BOOL},
    "Network": {"Mode": STR, "Device": STR, "CIDR": STR, "IP": STR, "DNS": MAP, "ReservedPorts": ["Port"],
                "DynamicPorts": ["Port"], "Hostname": STR, "MBits": INT},
    "Port": {"Label": STR, "Value": INT, "To": INT, "HostNetwork": STR},
    "Service": {"Name": STR, "Tags": [STR], "CanaryTags": [STR], "EnableTagOverride": BOOL, "PortLabel": STR,
                "AddressMode": STR, "Address": STR, "Checks": ["Check"], "CheckRestart": MAP, "Connect": MAP,
                "Meta": {STR: STR}, "CanaryMeta": {STR: STR}, "TaggedAddresses": {STR: STR}, "TaskName": STR,
                "OnUpdate": STR, "Provider": STR},
    "Check": {"Name": STR, "Type": STR, "Command": STR, "Args": [STR], "Path": STR, "Protocol": STR,
              "PortLabel": STR, "Expose": BOOL, "AddressMode": STR, "Interval": INT, "Timeout": INT,
              "InitialStatus": STR, "TLSSkipVerify": BOOL, "Header": MAP, "Method": STR, "CheckRestart": MAP,
              "TaskName": STR, "SuccessBeforePassing": INT, "FailuresBeforeCritical": INT, "Body": STR,
              "OnUpdate": STR},
    "Resources": {"CPU": INT, "Cores": INT, "MemoryMB": INT, "MemoryMaxMB": INT, "DiskMB": INT, "Networks": LIST,
                  "Devices": LIST, "IOPS": INT},
    # the docker driver's task config (Nomad docker driver documentation)
    "DockerConfig": {"image": STR, "command": STR, "args": [STR], "ports": [STR], "network_mode": STR,
                     "labels": {STR: STR}, "entrypoint": [STR], "hostname": STR, "work_dir": STR,
                     "auth_soft_fail": BOOL, "force_pull": BOOL, "network_aliases": [STR]},
}
ENUMS = {("Job", "Type"): {"service", "batch", "system", "sysbatch"},
         ("RestartPolicy", "Mode"): {"delay", "fail"},
         ("Update", "HealthCheck"): {"checks", "task_states", "manual"},
         ("Network", "Mode"): {"host", "bridge", "none"},
         ("Service", "Provider"): {"nomad", "consul"},
         ("Service", "AddressMode"): {"alloc", "auto", "driver", "host"},
         ("Check", "Type"): {"http", "tcp", "script", "grpc"},
         ("Task", "Driver"): {"docker"}}


def check(obj: Any, spec: Any, path: str) -> None:
    if isinstance(spec, str):
        assert isinstance(obj, dict), f"{path}: expected an object ({spec})"
        fields = SCHEMA[spec]
        for key, value in obj.items():
            assert key in fields, f"{path}.{key} is not a field of Nomad's {spec}"
            if (spec, key) in ENUMS:
                assert value in ENUMS[(spec, key)], f"{path}.{key}={value!r} is not one of {ENUMS[(spec, key)]}"
            check(value, fields[key], f"{path}.{key}")
    elif isinstance(spec, list):
        assert isinstance(obj, list), f"{path}: expected a list"
        for i, item in enumerate(obj):
            check(item, spec[0], f"{path}[{i}]")
    elif isinstance(spec, dict):
        assert isinstance(obj, dict), f"{path}: expected a map"
        for k, v in obj.items():
            assert isinstance(k, str) and isinstance(v, str), f"{path}[{k!r}]: expected text"
    elif spec is INT:
        assert isinstance(obj, int) and not isinstance(obj, bool), f"{path}: expected an integer, got {obj!r}"
    else:
        assert isinstance(obj, spec), f"{path}: expected {spec.__name__}, got {obj!r}"


def validate_job(body: dict[str, Any]) -> None:
    assert list(body) == ["Job"], "register_job posts {\"Job\": …}"
    job = body["Job"]
    for required in ("ID", "Name", "Type", "Datacenters", "TaskGroups"):
        assert required in job, f"Job.{required} is required"
    check(job, "Job", "Job")
    names = [g["Name"] for g in job["TaskGroups"]]
    assert len(names) == len(set(names)), "task group names must be unique"
    for g in job["TaskGroups"]:
        labels = {p["Label"] for n in g.get("Networks") or [] for p in n.get("DynamicPorts") or []}
        for t in g["Tasks"]:
            assert set(t["Config"].get("ports", [])) <= labels, "a task port must be a group network port"
        for s in g.get("Services") or []:
            assert s["PortLabel"] in labels
    update = job.get("Update")
    if update:
        assert update["MinHealthyTime"] < update["HealthyDeadline"] < update["ProgressDeadline"]


def make_plan(**kw: Any) -> DeployPlan:
    base: dict[str, Any] = dict(
        app="shop", release="20250101000000000", image="registry.example/shop:1",
        processes=(ProcessSpec("web", ("httpd", "-f", "-p", "5000"), 2), ProcessSpec("worker", None, 1),
                   ProcessSpec("dns", ("named",), 0)),
        env={"DATABASE_URL": "postgres://db/shop"},
        ports=(PortMapping("http", 80, 5000, "web"), PortMapping("https", 443, 5000, "web"),
               PortMapping("udp", 53, 5353, "dns")),
    )
    base.update(kw)
    return DeployPlan(**base)


def groups(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["Name"]: g for g in job["Job"]["TaskGroups"]}


def test_the_field_check_rejects_unknown_fields_and_wrong_types() -> None:
    job = R.render_job(make_plan(), R.NomadSettings())
    job["Job"]["TaskGroups"][0]["Cuont"] = 1
    with pytest.raises(AssertionError, match="Cuont"):
        validate_job(job)
    job = R.render_job(make_plan(), R.NomadSettings())
    job["Job"]["Update"]["MinHealthyTime"] = "10s"  # the API wants nanoseconds
    with pytest.raises(AssertionError, match="MinHealthyTime"):
        validate_job(job)


@pytest.mark.parametrize("settings", [R.NomadSettings(), R.NomadSettings(region="eu", namespace="apps",
                                                                           datacenters=("dc1", "dc2"))])
@pytest.mark.parametrize("networks", [NetworkSettings(), NetworkSettings(initial_network="backend")])
def test_jobs_use_only_documented_fields(settings: R.NomadSettings, networks: NetworkSettings) -> None:
    plan = make_plan(networks=networks, checks=ChecksSettings(path="/up"))
    validate_job(R.render_job(plan, settings))
    validate_job(R.render_run_job(plan, ["sh", "-c", "echo hi"], settings, "shop-run-abc"))


def test_one_job_a_group_per_process_type_with_count_command_and_env() -> None:
    job = R.render_job(make_plan(), R.NomadSettings(region="eu", namespace="apps"))
    assert job["Job"]["ID"] == "shop" and job["Job"]["Type"] == "service"
    assert job["Job"]["Region"] == "eu" and job["Job"]["Namespace"] == "apps"
    g = groups(job)
    assert {n: x["Count"] for n, x in g.items()} == {"web": 2, "worker": 1, "dns": 0}
    web = g["web"]["Tasks"][0]
    assert web["Driver"] == "docker"
    assert web["Config"]["image"] == "registry.example/shop:1"
    assert (web["Config"]["command"], web["Config"]["args"]) == ("httpd", ["-f", "-p", "5000"])
    assert web["Env"] == {"DATABASE_URL": "postgres://db/shop", "PORT": "5000"}
    worker = g["worker"]["Tasks"][0]
    assert "command" not in worker["Config"]  # the image's CMD
    assert "PORT" not in worker["Env"]


def test_services_only_for_process_types_with_listeners() -> None:
    g = groups(R.render_job(make_plan(), R.NomadSettings()))
    assert "Services" not in g["worker"] and "Networks" not in g["worker"]
    (svc,) = g["web"]["Services"]  # http and https share container port 5000
    assert svc["Provider"] == "nomad" and svc["Name"] == "shop-web" and svc["AddressMode"] == "driver"
    assert "process-type=web" in svc["Tags"]
    assert g["web"]["Networks"][0]["DynamicPorts"] == [{"Label": "p5000", "To": 5000}]
    assert g["web"]["Tasks"][0]["Config"]["ports"] == ["p5000"]
    assert g["dns"]["Networks"][0]["DynamicPorts"] == [{"Label": "p5353", "To": 5353}]


def test_host_address_mode_registers_the_node_port() -> None:
    g = groups(R.render_job(make_plan(), R.NomadSettings(address_mode="host")))
    assert g["web"]["Services"][0]["AddressMode"] == "host"


def test_blue_green_canaries_per_group() -> None:
    g = groups(R.render_job(make_plan(), R.NomadSettings()))
    assert g["web"]["Update"] == {"Canary": 2, "MaxParallel": 2, "AutoPromote": False, "AutoRevert": True}
    assert "Update" not in g["dns"]  # count 0: nothing to roll out


def test_initial_network_is_the_docker_network_mode() -> None:
    g = groups(R.render_job(make_plan(networks=NetworkSettings(initial_network="backend")), R.NomadSettings()))
    assert g["web"]["Tasks"][0]["Config"]["network_mode"] == "backend"
    assert g["web"]["Services"][0]["AddressMode"] == "driver"


@pytest.mark.parametrize(("policy", "attempts", "mode"), [
    ("on-failure:10", 10, "fail"), ("on-failure:3", 3, "fail"), ("no", 0, "fail"),
    ("always", 2, "delay"), ("unless-stopped", 2, "delay"), ("on-failure", 2, "delay"),
])
def test_restart_policy(policy: str, attempts: int, mode: str) -> None:
    rp = groups(R.render_job(make_plan(restart_policy=policy), R.NomadSettings()))["web"]["RestartPolicy"]
    assert (rp["Attempts"], rp["Mode"]) == (attempts, mode)


def test_bad_restart_policy_is_refused() -> None:
    with pytest.raises(ValidationError, match="restart policy"):
        R.render_job(make_plan(restart_policy="sometimes"), R.NomadSettings())


def test_update_block_is_the_zero_downtime_rollout() -> None:
    job = R.render_job(make_plan(checks=ChecksSettings(wait=7, path="/up")), R.NomadSettings())
    update = job["Job"]["Update"]
    assert update["MaxParallel"] == 1 and update["AutoRevert"] is True
    assert update["MinHealthyTime"] == 7 * R.SECOND
    check_ = groups(job)["web"]["Services"][0]["Checks"][0]
    assert check_["Type"] == "http" and check_["Path"] == "/up"


def test_run_job_is_a_batch_job_that_never_restarts() -> None:
    job = R.render_run_job(make_plan(), ["sh", "-c", "exit 3"], R.NomadSettings(), "shop-run-1", {"X": "1"})
    assert job["Job"]["Type"] == "batch"
    (group,) = job["Job"]["TaskGroups"]
    assert group["RestartPolicy"]["Attempts"] == 0 and group["ReschedulePolicy"]["Attempts"] == 0
    task = group["Tasks"][0]
    assert (task["Config"]["command"], task["Config"]["args"]) == ("sh", ["-c", "exit 3"])
    assert task["Env"]["X"] == "1"
