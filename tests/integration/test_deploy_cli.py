"""The deploy, ps, run, logs and network commands through the real CLI on a real dockerd."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.cli import Result
from tests.fixtures.docker import copy_example, http_get, wait_for

pytestmark = pytest.mark.docker

Run = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def new_app(run: Run, name: str, wait: str = "0") -> str:
    ok(run("apps:create", name))
    ok(run("checks:set", name, "wait", wait))
    ok(run("checks:set", name, "wait-to-retire", "0"))
    ok(run("props:set", "proxy", name, "type", "null"))
    return name


def containers(client: Any, app: str) -> dict[str, Any]:
    return {c.name: c for c in client.containers.list(all=True, filters={"label": f"com.dockyard.app={app}"})}


def web_ip(client: Any, app: str, index: int = 1) -> str:
    c = client.containers.get(f"{app}.web.{index}")
    return str(c.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"])


def test_deploy_image_with_procfile_scale_before_deploy_and_report(
        run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("img"))
    # ps:scale before the first deploy stores the scale, even for a type no Procfile has yet
    ok(run("ps:scale", app, "web=2", "worker=1", "clock=1"))
    assert containers(docker_client, app) == {}
    result = ok(run("deploy", app, "--image", web_image))
    assert "process type clock is scaled to 1 but the Procfile has no such type" in result.stderr
    names = containers(docker_client, app)
    assert sorted(names) == [f"{app}.web.1", f"{app}.web.2", f"{app}.worker.1"]
    web = names[f"{app}.web.1"]
    labels = web.labels
    assert labels["com.dockyard.app"] == app and labels["com.dockyard.process-type"] == "web"
    assert labels["com.dockyard.dyno"] == "web.1" and labels["com.dockyard.release"]
    assert labels["com.dokku.app-name"] == app and labels["com.dokku.process-type"] == "web"  # Dokku's too
    assert "PORT=5000" in web.attrs["Config"]["Env"] and "DYNO=web.1" in web.attrs["Config"]["Env"]
    assert web.attrs["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 10}
    assert web.attrs["Config"]["Cmd"] == ["sh", "-c", "echo web starting on $PORT; exec httpd -f -v -p $PORT -h /www"]
    assert http_get(f"http://{web_ip(docker_client, app)}:5000/") == (200, "hello from dockyard\n")
    report = json.loads(ok(run("ps:report", app, "--format", "json")).stdout)
    assert report["processes"] == "tcp=0 web=2 worker=1"
    assert report["running"] == "true" and report["status-web-2"].startswith("running")
    scale = json.loads(ok(run("ps:scale", app, "--format", "json")).stdout)
    assert scale == [
        {"process_type": "tcp", "quantity": 0},
        {"process_type": "web", "quantity": 2},
        {"process_type": "worker", "quantity": 1},
    ]
    # scaling a deployed app changes only the counts: web.1 keeps running untouched
    ok(run("ps:scale", app, "web=1", "tcp=1"))
    after = containers(docker_client, app)
    assert sorted(after) == [f"{app}.tcp.1", f"{app}.web.1", f"{app}.worker.1"]
    assert after[f"{app}.web.1"].id == web.id
    # apps:destroy removes the containers and every property
    ok(run("apps:destroy", app, "--force"))
    assert containers(docker_client, app) == {}
    assert run("apps:exists", app).exit_code == 20


def test_deploy_build_and_from_image_and_procfile_option(
        run: Run, docker_client: Any, base_image: str, build_image: Callable[..., str],
        app_names: Callable[[str], str], tmp_path: Path) -> None:
    app = new_app(run, app_names("bld"))
    src = copy_example(tmp_path / "app")
    dockerfile = src / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("dockyard/busybox:latest", base_image))
    ok(run("ps:scale", app, "worker=1"))
    result = ok(run("deploy", app, "--build", str(src)))
    assert "Successfully built" in result.stderr
    image = json.loads(ok(run("apps:report", app, "--format", "json")).stdout)["app-deployed-image"]
    assert image.startswith(f"dockyard/{app}:")
    assert "Hello from the Dockyard example app" in http_get(f"http://{web_ip(docker_client, app)}:5000/")[1]
    # git:from-image redeploys an existing image; --procfile replaces the image's Procfile
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: sh -c 'echo custom; exec httpd -f -p $PORT -h /www'\n")
    ok(run("git:from-image", app, base_image, "--procfile", str(procfile)))
    names = containers(docker_client, app)
    assert sorted(names) == [f"{app}.web.1"]
    assert names[f"{app}.web.1"].image.tags == [base_image]
    assert http_get(f"http://{web_ip(docker_client, app)}:5000/") == (200, "hello from dockyard\n")
    # with no Procfile at all, the image's CMD is the web process
    plain = build_image('CMD ["httpd", "-f", "-p", "5000", "-h", "/www"]')
    ok(run("deploy", app, "--image", plain))
    assert docker_client.containers.get(f"{app}.web.1").attrs["Config"]["Cmd"] == ["httpd", "-f", "-p", "5000",
                                                                                  "-h", "/www"]
    assert json.loads(ok(run("props:get", "release", app, "processes")).stdout) == {"web": None}
    assert http_get(f"http://{web_ip(docker_client, app)}:5000/") == (200, "hello from dockyard\n")
    ok(run("apps:destroy", app, "--force"))
    assert docker_client.images.list(name=f"dockyard/{app}") == []


def test_run_passes_exit_code_and_output_and_logs(
        run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("run"))
    ok(run("config:set", app, "GREETING=hi there"))
    ok(run("ps:scale", app, "worker=1"))
    ok(run("deploy", app, "--image", web_image))
    result = run("run", app, "sh", "-c", 'echo "$GREETING from $DYNO"; echo oops >&2; exit 4')
    assert result.exit_code == 4
    assert result.stdout == "hi there from run.1\n"
    assert "oops" in result.stderr
    # global options after APP belong to the command, not to dockyard
    result = run("run", app, "echo", "--format", "json")
    assert result.exit_code == 0 and result.stdout == "--format json\n"
    assert not [n for n in containers(docker_client, app) if ".run." in n]
    logs = wait_for(lambda: "worker up" in (r := run("logs", app, "-p", "worker")).stdout and r, timeout=10)
    assert logs and f"{app}[worker.1]: worker up" in logs.stdout
    every = ok(run("logs", app))
    assert f"{app}[web.1]: web starting on 5000" in every.stdout
    ok(run("apps:destroy", app, "--force"))


def test_failed_deploy_leaves_the_old_release_serving(
        run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str], tmp_path: Path) -> None:
    app = new_app(run, app_names("fail"), wait="1")
    ok(run("deploy", app, "--image", web_image))
    old = docker_client.containers.get(f"{app}.web.1")
    release = ok(run("props:get", "release", app, "current")).stdout
    bad = tmp_path / "Procfile"
    bad.write_text("web: sh -c 'echo about to fail; echo on purpose; exit 3'\n")
    result = run("deploy", app, "--image", web_image, "--procfile", str(bad))
    assert result.exit_code == 1
    assert "failed its checks" in result.stderr and "about to fail" in result.stderr and "on purpose" in result.stderr
    names = containers(docker_client, app)
    assert list(names) == [f"{app}.web.1"] and names[f"{app}.web.1"].id == old.id
    assert names[f"{app}.web.1"].status == "running"
    assert http_get(f"http://{web_ip(docker_client, app)}:5000/") == (200, "hello from dockyard\n")
    assert ok(run("props:get", "release", app, "current")).stdout == release
    # a network that does not exist fails before anything changes, too
    ok(run("network:set", app, "attach-post-create", "dytest-no-such-net"))
    result = run("deploy", app, "--image", web_image)
    assert result.exit_code == 1 and "network dytest-no-such-net" in result.stderr
    assert [c.id for c in containers(docker_client, app).values()] == [old.id]
    ok(run("apps:destroy", app, "--force"))


def test_network_commands(run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str]) -> None:
    net = f"dytest-cli-{app_names('n')[-6:]}"
    ok(run("network:create", net))
    try:
        created = docker_client.networks.get(net)
        assert created.attrs["Driver"] == "bridge" and created.attrs["Attachable"] is True
        assert created.attrs["Labels"]["com.dockyard.network-name"] == net
        assert run("network:create", net).exit_code == 1
        assert "Network exists" in ok(run("network:exists", net)).stdout
        assert run("network:exists", net + "-nope").exit_code == 1
        listed = json.loads(ok(run("network:list", "--format", "json")).stdout)
        assert {"Name": net, "DokkuManaged": True}.items() <= next(n for n in listed if n["Name"] == net).items()
        assert net in ok(run("network:list", "--quiet")).stdout.split()
        for flag in ("--dokku-managed", "--managed"):  # Dokku's flag, and ours kept as an alias
            only = ok(run("network:list", flag, "--quiet")).stdout.split()
            assert net in only and "bridge" not in only
        # validation: host/bridge refused; the two attach phases may not share a network
        app = new_app(run, app_names("net"))
        assert run("network:set", app, "attach-post-create", "bridge").exit_code == 1
        ok(run("network:set", app, "attach-post-create", net, "dytest-later"))
        assert ok(run("props:get", "network", app, "attach-post-create")).stdout.strip() == f"{net},dytest-later"
        assert run("network:set", app, "attach-post-deploy", net).exit_code == 1
        ok(run("network:set", app, "attach-post-create", net))
        ok(run("network:set", app, "tld", "svc.local"))
        report = json.loads(ok(run("network:report", app, "--format", "json")).stdout)
        assert report["network-computed-attach-post-create"] == net and report["network-tld"] == "svc.local"
        ok(run("deploy", app, "--image", web_image))
        info = ok(run("network:info", net)).stdout
        assert f"{app}.web.1" in info
        # the alias APP.PROC.TLD resolves on the network
        code = run("run", app, "sh", "-c", f"wget -q -O- http://{app}.web.svc.local:5000/")
        assert code.exit_code == 0 and code.stdout == "hello from dockyard\n"
        # refused while attached, even with --force, naming the containers
        result = run("network:destroy", net, "--force")
        assert result.exit_code == 1 and f"{app}.web.1" in result.stderr
        assert docker_client.networks.get(net)
        # a stopped container still counts
        ok(run("ps:stop", app))
        result = run("network:destroy", net, "--force")
        assert result.exit_code == 1 and f"{app}.web.1" in result.stderr
        listeners = ok(run("network:rebuild", app)).stdout.splitlines()
        assert listeners[0] == f"-----> Ensuring network configuration is in sync for {app}"
        assert listeners[1] == "       tcp: -"
        ok(run("ps:start", app))
        assert "       web: " in ok(run("network:rebuild", app)).stdout
        assert report["network-web-listeners"] == ""
        assert json.loads(ok(run("network:report", app, "--format", "json")).stdout)["network-web-listeners"]
        ok(run("apps:destroy", app, "--force"))
        ok(run("network:destroy", net, "--force"))
        assert run("network:exists", net).exit_code == 1
    finally:
        for n in docker_client.networks.list(names=[net]):
            n.remove()


def test_post_create_alias_is_reachable_at_boot(
        run: Run, docker_client: Any, web_image: str, base_image: str, docker_network: Callable[[str], str],
        app_names: Callable[[str], str], tmp_path: Path) -> None:
    net = docker_network("boot")
    svc = new_app(run, app_names("svc"))
    ok(run("network:set", svc, "attach-post-create", net))
    ok(run("deploy", svc, "--image", web_image))
    client = new_app(run, app_names("cli"), wait="1")
    ok(run("network:set", client, "attach-post-create", net))
    procfile = tmp_path / "Procfile"
    # the web process fetches from svc at boot, before serving; if it could not, it exits
    # and fails its checks
    procfile.write_text(
        f"web: sh -c 'wget -q -O /tmp/got http://{svc}.web:5000/ || exit 1; cat /tmp/got; "
        "exec httpd -f -p $PORT -h /tmp'\n")
    ok(run("deploy", client, "--image", base_image, "--procfile", str(procfile)))
    assert "hello from dockyard" in ok(run("logs", client)).stdout
    assert http_get(f"http://{web_ip(docker_client, client)}:5000/got") == (200, "hello from dockyard\n")
    ok(run("apps:destroy", client, "--force"))
    ok(run("apps:destroy", svc, "--force"))


def test_settings_commands_validate_and_report(run: Run, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("set"))
    assert run("checks:set", app, "wait", "soon").exit_code == 1
    assert run("checks:set", app, "bogus", "1").exit_code == 1
    ok(run("checks:set", "--global", "wait-to-retire", "30"))
    report = json.loads(ok(run("checks:report", app, "--format", "json")).stdout)
    assert report["checks-computed-wait"] == "0" and report["checks-global-wait-to-retire"] == "30"
    assert report["checks-computed-wait-to-retire"] == "0"
    ok(run("ps:set", app, "restart-policy", "always"))
    assert run("ps:set", app, "restart-policy", "sometimes").exit_code == 1
    assert json.loads(ok(run("ps:report", app, "--format", "json")).stdout)["ps-restart-policy"] == "always"
    assert run("scheduler:set", app, "selected", "no-such").exit_code == 1
    ok(run("scheduler:set", "--global", "selected", "nomad"))
    ok(run("scheduler:set", app, "selected", "docker-local"))
    sched = json.loads(ok(run("scheduler:report", app, "--format", "json")).stdout)
    assert sched == {"scheduler-selected": "docker-local", "scheduler-global-selected": "nomad",
                     "scheduler-computed-selected": "docker-local",
                     # Dokku's JSON carries each key without its plugin prefix too
                     "selected": "docker-local", "global-selected": "nomad",
                     "computed-selected": "docker-local"}
    ok(run("scheduler:set", app, "selected"))
    assert json.loads(ok(run("scheduler:report", app, "--format", "json")).stdout)[
        "scheduler-computed-selected"] == "nomad"


def test_bind_all_interfaces_rebuild_and_restart(
        run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("bind"))
    ok(run("network:set", app, "bind-all-interfaces", "true"))
    ok(run("ps:scale", app, "worker=1"))
    ok(run("deploy", app, "--image", web_image))
    web = docker_client.containers.get(f"{app}.web.1")
    binding = web.attrs["NetworkSettings"]["Ports"]["5000/tcp"]
    host_port = next(b["HostPort"] for b in binding if b["HostIp"] in ("0.0.0.0", ""))
    assert http_get(f"http://127.0.0.1:{host_port}/") == (200, "hello from dockyard\n")
    assert not docker_client.containers.get(f"{app}.worker.1").attrs["NetworkSettings"]["Ports"]
    release = ok(run("props:get", "release", app, "current")).stdout
    # config:set redeploys (zero downtime) so the containers get the new environment, as in
    # Dokku; --no-restart leaves them be, and ps:restart then applies it
    ok(run("config:set", app, "--no-restart", "COLOR=blue"))
    assert docker_client.containers.get(f"{app}.web.1").id == web.id
    ok(run("ps:restart", app))
    restarted = docker_client.containers.get(f"{app}.web.1")
    assert restarted.id != web.id and "COLOR=blue" in restarted.attrs["Config"]["Env"]
    ok(run("config:set", app, "COLOR=green"))
    recolored = docker_client.containers.get(f"{app}.web.1")
    assert recolored.id != restarted.id and "COLOR=green" in recolored.attrs["Config"]["Env"]
    ok(run("config:unset", app, "COLOR"))
    assert not any(e.startswith("COLOR=") for e in docker_client.containers.get(f"{app}.web.1").attrs["Config"]["Env"])
    ok(run("ps:rebuild", app))
    rebuilt = docker_client.containers.get(f"{app}.web.1")
    assert rebuilt.id != web.id and rebuilt.status == "running"
    assert ok(run("props:get", "release", app, "current")).stdout != release
    assert sorted(containers(docker_client, app)) == [f"{app}.web.1", f"{app}.worker.1"]
    ok(run("apps:destroy", app, "--force"))


def test_rename_moves_properties_and_redeploys_under_the_new_name(
        run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str]) -> None:
    old = new_app(run, app_names("ren"))
    new = app_names("renamed")
    ok(run("config:set", old, "GREETING=hi"))
    ok(run("deploy", old, "--image", web_image))
    ok(run("apps:rename", old, new))
    assert containers(docker_client, old) == {}
    running = containers(docker_client, new)
    assert sorted(running) == [f"{new}.web.1"]
    assert "GREETING=hi" in running[f"{new}.web.1"].attrs["Config"]["Env"]
    assert http_get(f"http://{web_ip(docker_client, new)}:5000/")[0] == 200
    assert run("apps:exists", old).exit_code == 20
    assert ok(run("config:get", new, "GREETING")).stdout.strip() == "hi"
    ok(run("apps:destroy", new, "--force"))
    assert containers(docker_client, new) == {}


def test_clone_deploys_the_new_app_from_the_old_image_unless_skip_deploy(
        run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str]) -> None:
    old = new_app(run, app_names("cl"))
    ok(run("deploy", old, "--image", web_image))
    ok(run("apps:lock", old))
    new, skipped = app_names("clone"), app_names("cskip")
    ok(run("apps:clone", old, new))
    assert sorted(containers(docker_client, new)) == [f"{new}.web.1"]  # Dokku deploys the clone
    assert ok(run("apps:report", new, "--app-locked")).stdout == "false\n"  # the lock is not cloned
    ok(run("apps:clone", "--skip-deploy", old, skipped))
    assert containers(docker_client, skipped) == {}
    again = ok(run("apps:clone", "--ignore-existing", old, new))
    assert "Name is already taken" in again.stderr
    assert run("apps:clone", old, new).exit_code == 1
    assert sorted(containers(docker_client, old)) == [f"{old}.web.1"]


def _cli(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-c", "from dockyard.core.cli import main; main()", *args]


def test_run_forwards_stdin_and_gives_a_terminal_a_tty(
        run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str]) -> None:
    import os
    import pty
    import select
    import subprocess
    import time

    app = new_app(run, app_names("stdin"))
    ok(run("deploy", app, "--image", web_image))
    piped = subprocess.run(_cli("run", app, "sh", "-c", "tr a-z A-Z; exit 4"), input=b"hello stdin\n",
                           capture_output=True, timeout=60)
    assert piped.returncode == 4, piped.stderr
    assert piped.stdout == b"HELLO STDIN\n"

    # on a terminal: an interactive shell with a tty ([ -t 0 ] is true inside)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(_cli("run", app, "sh"), stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    os.write(leader, b"[ -t 0 ] && echo TTY-$((6*7)); exit 3\n")
    seen = b""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([leader], [], [], 0.2)[0]:
            try:
                seen += os.read(leader, 4096)
            except OSError:
                break
    if proc.poll() is None:
        proc.kill()
    os.close(leader)
    assert proc.wait(timeout=10) == 3
    assert b"TTY-42" in seen
    assert [c for c in containers(docker_client, app) if ".run." in c] == []


def test_a_dotted_dokku_app_name_deploys_and_redeploys_under_its_own_name(
        run: Run, docker_client: Any, web_image: str, app_names: Callable[[str], str]) -> None:
    app = new_app(run, app_names("x.dokku"))  # dytx.dokku-…: Dokku's rule allows the dot
    ok(run("scheduler-docker-local:set", app, "init-process", "false"))
    ok(run("scheduler-docker-local:set", app, "parallel-schedule-count", "1"))
    ok(run("deploy", app, "--image", web_image))
    assert not containers(docker_client, app)[f"{app}.web.1"].attrs["HostConfig"]["Init"]
    ok(run("ps:rebuild", app))  # the upcoming/retired renames must find the live names
    names = containers(docker_client, app)
    assert sorted(n for n in names if n.startswith(f"{app}.web.")) == [f"{app}.web.1"]
    assert http_get(f"http://{web_ip(docker_client, app)}:5000/") == (200, "hello from dockyard\n")
