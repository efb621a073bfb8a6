"""Dokku's ps commands and properties on a real dockerd, through the real CLI: procfile-path
at deploy and ps:rebuild, the restore property kept by ps:stop/ps:start and deploys,
ps:inspect, ps:retire and ps:restore (Dokku's tests/unit/ps-*.bats)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.cli import Result, ok

pytestmark = pytest.mark.docker

Run = Callable[..., Result]

PROCFILES = {
    "Procfile": "web: sh -c 'echo first.Procfile; exec httpd -f -p $PORT -h /www'\n",
    "second.Procfile": "web: sh -c 'echo second.Procfile; exec httpd -f -p $PORT -h /www'\n"
                       "worker: sh -c 'exec sleep 3600'\n",
}


def new_app(run: Run, name: str) -> str:
    ok(run("apps:create", name))
    ok(run("checks:set", name, "wait", "0"))
    ok(run("checks:set", name, "wait-to-retire", "0"))
    ok(run("props:set", "proxy", name, "type", "null"))
    return name


def web_cmd(client: Any, app: str) -> str:
    return " ".join(client.containers.get(f"{app}.web.1").attrs["Config"]["Cmd"])


@pytest.fixture(scope="module")
def procfile_image(build_image: Callable[..., str]) -> str:
    """An image with two Procfiles in WORKDIR /app, and a CMD for when neither is read."""
    return build_image("WORKDIR /app\nCOPY Procfile second.Procfile /app/\n"
                       'CMD ["sh", "-c", "echo from CMD; exec httpd -f -p 5000 -h /www"]', PROCFILES)


def test_procfile_path_is_read_at_deploy_and_by_ps_rebuild(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("pfp"))
    ok(run("ps:set", app, "procfile-path", "second.Procfile"))
    ok(run("deploy", app, "--image", procfile_image))
    assert "echo second.Procfile" in web_cmd(docker_client, app)
    # a path the image lacks: the deploy goes on as if there were no Procfile (the CMD is web)
    ok(run("ps:set", app, "procfile-path", "nonexistent-procfile"))
    rebuilt = ok(run("ps:rebuild", app))
    assert "has no /app/nonexistent-procfile (ps procfile-path)" in rebuilt.stderr
    assert "echo from CMD" in web_cmd(docker_client, app)
    # unset: back to WORKDIR/Procfile on the next rebuild, as Dokku's rebuild from source
    ok(run("ps:set", app, "procfile-path"))
    ok(run("ps:rebuild", app))
    assert "echo first.Procfile" in web_cmd(docker_client, app)
    assert ok(run("ps:report", app, "--ps-computed-procfile-path")).stdout == "Procfile\n"
    # ps:restart keeps the release's processes; only a rebuild reads the image again
    ok(run("ps:set", "--global", "procfile-path", "second.Procfile"))
    ok(run("ps:restart", app))
    assert "echo first.Procfile" in web_cmd(docker_client, app)
    ok(run("ps:rebuild", app))
    assert "echo second.Procfile" in web_cmd(docker_client, app)
    ok(run("ps:set", "--global", "procfile-path"))


def test_given_procfile_is_kept_by_ps_rebuild(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str],
        tmp_path: Any) -> None:
    app = new_app(run, app_names("pfg"))
    own = tmp_path / "Procfile"
    own.write_text("web: sh -c 'echo given; exec httpd -f -p $PORT -h /www'\n")
    ok(run("deploy", app, "--image", procfile_image, "--procfile", str(own)))
    ok(run("ps:set", app, "procfile-path", "second.Procfile"))
    ok(run("ps:rebuild", app))
    assert "echo given" in web_cmd(docker_client, app)


def test_restore_property_follows_stop_start_and_deploy(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("rst"))
    ok(run("deploy", app, "--image", procfile_image))
    assert ok(run("ps:report", app, "--restore")).stdout == "true\n"
    ok(run("ps:stop", app))
    assert ok(run("ps:report", app, "--restore")).stdout == "false\n"
    assert docker_client.containers.get(f"{app}.web.1").status == "exited"
    ok(run("ps:start", app))
    assert ok(run("ps:report", app, "--restore")).stdout == "true\n"
    ok(run("ps:stop", app))
    ok(run("ps:rebuild", app))  # any deploy brings restore back, as Dokku's core-post-deploy
    assert ok(run("ps:report", app, "--restore")).stdout == "true\n"
    report = json.loads(ok(run("ps:report", app, "--format", "json")).stdout)
    assert report["running"] == "true" and report["restore"] == "true"


def test_ps_inspect_prints_the_containers_with_env_values_masked(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("ins"))
    ok(run("config:set", app, "SECRET_KEY=hunter2", "key=value=value"))
    ok(run("ps:set", app, "procfile-path", "second.Procfile"))
    ok(run("ps:scale", app, "worker=1"))
    ok(run("deploy", app, "--image", procfile_image))
    result = ok(run("ps:inspect", app))
    data = json.loads(result.stdout)
    web, worker = docker_client.containers.get(f"{app}.web.1"), docker_client.containers.get(f"{app}.worker.1")
    assert [d["Id"] for d in data] == [web.id, worker.id]
    assert result.stdout.count(web.id) >= 1 and result.stdout.startswith("[\n    {")  # Dokku's indent
    env = data[0]["Config"]["Env"]
    assert "SECRET_KEY=XXXXXX" in env and "key=XXXXXX" in env
    assert "PORT=5000" in env and "DYNO=web.1" in env and "PATH=/bin" in env
    assert "hunter2" not in result.stdout and "value=value" not in result.stdout
    assert json.loads(ok(run("ps:inspect", app, "--format", "json")).stdout)[1]["Name"] == f"/{app}.worker.1"
    missing = run("ps:inspect", "no-such-app")
    assert missing.exit_code == 20 and "App no-such-app does not exist" in missing.stderr
    other = new_app(run, app_names("ins0"))
    assert ok(run("ps:inspect", other)).stdout == "[]\n"  # nothing deployed: no containers


def leftover(client: Any, app: str, image: str, name: str, release: str, proc: str = "web") -> str:
    """A container as an earlier rollout leaves it (Dockyard's labels, a retired/upcoming name)."""
    from dockyard.schedulers.docker_local import labels as L
    from tests.fixtures.docker import SESSION, TEST_LABEL

    created = client.api.create_container(
        image, command=["sleep", "3600"], name=name, host_config=client.api.create_host_config(init=True),
        labels={**L.deploy_labels(app, proc, 1, release), TEST_LABEL: SESSION})
    client.api.start(created["Id"])
    return str(created["Id"])


def test_ps_retire_removes_what_earlier_rollouts_left(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str]) -> None:
    a, b = new_app(run, app_names("reta")), new_app(run, app_names("retb"))
    for app in (a, b):
        ok(run("deploy", app, "--image", procfile_image))
    web_a = docker_client.containers.get(f"{a}.web.1").id
    old = leftover(docker_client, a, procfile_image, f"{a}.web.1.retired-0123456789ab", "v-old")
    stuck = leftover(docker_client, a, procfile_image, f"{a}.web.1.upcoming-v-next", "v-next")
    # a live name of another release is serving (the store is behind): kept, with a warning
    serving = leftover(docker_client, a, procfile_image, f"{a}.worker.1", "v-old", proc="worker")
    result = ok(run("ps:retire", a))
    assert result.stdout == (f"-----> Retiring old containers and images\n"
                             f"       Retired {a} container {a}.web.1.retired-0123456789ab\n"
                             f"       Retired {a} container {a}.web.1.upcoming-v-next\n")
    assert f"{a}.worker.1 runs release v-old, not the current" in result.stderr
    left = {c.id for c in docker_client.containers.list(all=True, filters={"label": f"com.dockyard.app={a}"})}
    assert old not in left and stuck not in left and {web_a, serving} <= left
    docker_client.api.remove_container(serving, force=True)
    # Dokku's form without an app: every app
    old_b = leftover(docker_client, b, procfile_image, f"{b}.web.1.retired-ba9876543210", "v-old")
    again = ok(run("ps:retire"))
    assert f"Retired {b} container {b}.web.1.retired-ba9876543210" in again.stdout
    assert f"Retired {a} " not in again.stdout  # nothing left there
    assert old_b not in _ids(docker_client, b)
    assert ok(run("ps:report", b, "--running")).stdout == "true\n"
    assert ok(run("--quiet", "ps:retire")).stdout == ""



def _ids(client: Any, app: str) -> set[str]:
    """The app's containers by label only: the engine is shared, and listing every container
    inspects each, so one that another test removes meanwhile is a 404."""
    return {c.id for c in client.containers.list(all=True, filters={"label": f"com.dockyard.app={app}"})}


def test_ps_retire_of_every_app_passes_over_one_being_deployed(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str],
        file_store: Any) -> None:
    a, b = new_app(run, app_names("rlka")), new_app(run, app_names("rlkb"))
    for app in (a, b):
        ok(run("deploy", app, "--image", procfile_image))
    busy = leftover(docker_client, a, procfile_image, f"{a}.web.1.upcoming-v-next", "v-next")
    old_b = leftover(docker_client, b, procfile_image, f"{b}.web.1.retired-ba9876543210", "v-old")
    with file_store.lock(f"deploy-{a}"):  # a deploy of a is under way: its upcoming one is no leftover
        result = run("ps:retire")
        single = run("ps:retire", a)
    assert result.exit_code == 1 and f"not retired, a deploy is running: {a}" in result.stderr
    assert f"Retired {b} container {b}.web.1.retired-ba9876543210" in result.stdout
    assert single.exit_code == 1
    assert busy in _ids(docker_client, a) and old_b not in _ids(docker_client, b)


def test_ps_restore_starts_what_ran_before_a_reboot(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str]) -> None:
    up, down, crashed, gone = (new_app(run, app_names(h)) for h in ("rup", "rdown", "rcrash", "rgone"))
    never = new_app(run, app_names("rnever"))
    for app in (up, down, crashed, gone):
        ok(run("deploy", app, "--image", procfile_image))
    ok(run("ps:stop", down))  # stopped by hand: stays down
    crashed_id = docker_client.containers.get(f"{crashed}.web.1").id
    docker_client.api.stop(crashed_id, timeout=1)  # the reboot stopped it (restore still true)
    docker_client.api.remove_container(f"{gone}.web.1", force=True)  # and this one is missing
    result = ok(run("ps:restore"))
    assert "Restore specified without app, assuming --all" in result.stderr
    for app in (up, down, crashed, gone, never):
        assert f"-----> Running restore against app {app}\n" in result.stdout
    assert f"Skipping ps:restore for {down} as restore property is false" in result.stderr
    assert f"App {never} has not been deployed" in result.stderr
    assert f"App {up} already running" in result.stderr
    assert "App has been detected as not running, releasing" in result.stderr  # gone: redeployed
    assert result.stdout.count("-----> Starting app\n") == 3
    assert docker_client.containers.get(f"{crashed}.web.1").id == crashed_id  # started, not replaced
    for app in (up, crashed, gone):
        assert docker_client.containers.get(f"{app}.web.1").status == "running"
        assert ok(run("ps:report", app, "--running")).stdout == "true\n"
    assert docker_client.containers.get(f"{down}.web.1").status == "exited"
    assert ok(run("--quiet", "ps:report", down)).stdout.count("exited") == 1  # Dokku's own check
    # one app, once its restore property allows it again
    ok(run("ps:set", down, "restore", "true"))
    one = ok(run("ps:restore", down))
    assert "Running restore against app" not in one.stdout and "-----> Starting app" in one.stdout
    assert docker_client.containers.get(f"{down}.web.1").status == "running"
    assert ok(run("ps:restore", "--all")).exit_code == 0
    bad = run("ps:restore", "--all", "--parallel", "-2")
    assert bad.exit_code == 1 and "Invalid value -2 for --parallel flag" in bad.stderr
    assert run("ps:restore", "no-such-app").exit_code == 20


def test_cleanup_removes_leftovers_and_exited_one_offs_and_keeps_what_runs(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str]) -> None:
    from dockyard.schedulers.docker_local import labels as L
    from tests.fixtures.docker import SESSION, TEST_LABEL

    app = new_app(run, app_names("clean"))
    ok(run("deploy", app, "--image", procfile_image))
    # Dokku's apps properties, written once the deploy succeeded
    assert ok(run("apps:report", app, "--app-deploy-source")).stdout == "docker-image\n"
    assert ok(run("apps:report", app, "--app-deploy-source-metadata")).stdout == f"{procfile_image}\n"
    live = docker_client.containers.get(f"{app}.web.1").id
    old = leftover(docker_client, app, procfile_image, f"{app}.web.1.retired-0123456789ab", "v-old")

    def one_off(index: int, command: list[str]) -> str:
        labels = {L.MARKER: "1", L.APP: app, L.PROCESS: "run", L.DYNO: f"run.{index}", L.RELEASE: "v-x",
                  L.CONTAINER_TYPE: "run", TEST_LABEL: SESSION}
        made = docker_client.api.create_container(procfile_image, command=command, name=L.run_name(app, index),
                                                  labels=labels)
        docker_client.api.start(made["Id"])
        return str(made["Id"])

    ended = one_off(1, ["true"])
    docker_client.api.wait(ended, timeout=30)
    shell = one_off(2, ["sleep", "3600"])  # someone's one-off still running
    result = ok(run("cleanup", app))
    assert result.stdout.startswith("-----> Cleaning up\n")
    assert f"Removed {app} container {app}.web.1.retired-0123456789ab" in result.stdout
    assert f"Removed {app} container {L.run_name(app, 1)}" in result.stdout
    left = {c.id for c in docker_client.containers.list(all=True, filters={"label": f"com.dockyard.app={app}"})}
    assert old not in left and ended not in left and {live, shell} <= left
    docker_client.api.remove_container(shell, force=True)
    assert ok(run("cleanup")).stdout == "-----> Cleaning up\n"  # every app: nothing left


def test_ps_scale_skip_deploy_stores_the_counts_for_the_next_deploy(
        run: Run, docker_client: Any, procfile_image: str, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("skipd"))
    ok(run("deploy", app, "--image", procfile_image))

    def webs() -> int:
        return len(docker_client.containers.list(filters={"label": [f"com.dockyard.app={app}",
                                                                    "com.dockyard.process-type=web"]}))

    ok(run("ps:scale", "--skip-deploy", app, "web=2"))
    assert webs() == 1, "nothing was deployed"
    assert {"process_type": "web", "quantity": 2} in json.loads(ok(run("ps:scale", app, "--format", "json")).stdout)
    ok(run("ps:rebuild", app))
    assert webs() == 2
