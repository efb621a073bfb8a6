"""Releases and rollback through the real CLI, on a real dockerd, behind a private nginx.

What a user checks: the containers that run after a rollback have the old image and the old
environment, a client hammering nginx during the rollback sees nothing but 200s, a rollback
to an image that is gone is refused by name, retention keeps (and only keeps) the images of
the kept releases, and a store restored from an export can still roll back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.cli import Result, ok
from tests.fixtures.docker import SESSION, TEST_LABEL
from tests.fixtures.nginx import PrivateNginx, free_port, request

pytestmark = [pytest.mark.docker, pytest.mark.nginx]

Run = Callable[..., Result]
#: web serves its GREETING, so what the environment of the serving container is, is visible
PROCFILE = "web: sh -c 'echo \"$GREETING\" > /www/index.html; exec httpd -f -p $PORT -h /www'\n"


@pytest.fixture(scope="module")
def greeting_image(build_image: Callable[..., str]) -> str:
    return build_image("WORKDIR /app\nCOPY Procfile /app/Procfile\n", {"Procfile": PROCFILE})


@pytest.fixture
def make_app(run: Run, app_names: Callable[[str], str]) -> Iterator[Callable[[str], str]]:
    made: list[str] = []

    def _make(hint: str) -> str:
        app = app_names(hint)
        ok(run("apps:create", app))
        ok(run("checks:set", app, "wait", "1"))
        ok(run("checks:set", app, "wait-to-retire", "1"))
        ok(run("ps:set", app, "stop-timeout-seconds", "1"))
        made.append(app)
        return app

    yield _make
    for app in made:
        run("apps:destroy", app, "--force")


def web(client: Any, app: str) -> Any:
    return client.containers.get(f"{app}.web.1")


def env_of(container: Any) -> dict[str, str]:
    return dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])


def releases(run: Run, app: str, *flags: str) -> list[dict[str, Any]]:
    return list(json.loads(ok(run(*flags, "--format", "json", "releases:list", app)).stdout))


def build_dir(tmp_path: Path, base_image: str, hint: str) -> Path:
    ctx = tmp_path / hint
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nLABEL {TEST_LABEL}={SESSION}\n"
                                    f"WORKDIR /app\nCOPY Procfile /app/Procfile\nRUN echo {hint} > /build-id\n")
    (ctx / "Procfile").write_text(PROCFILE)
    return ctx


def test_rollback_brings_back_the_image_and_environment_with_only_200s(
        run: Run, private_nginx: PrivateNginx, docker_client: Any, make_app: Callable[[str], str],
        greeting_image: str, base_image: str, tmp_path: Path) -> None:
    app = make_app("rb")
    port = free_port()
    ok(run("ports:set", app, f"http:{port}:5000"))
    ok(run("config:set", app, "--no-restart", "GREETING=from-v1"))
    ok(run("deploy", app, "--image", greeting_image))
    v1_image = web(docker_client, app).attrs["Config"]["Image"]
    assert request(port).body == "from-v1\n"
    # v2: another image (a build) and another environment
    ok(run("config:set", app, "--no-restart", "GREETING=from-v2"))
    ok(run("deploy", app, "--build", str(build_dir(tmp_path, base_image, "v2"))))
    assert request(port).body == "from-v2\n"
    assert web(docker_client, app).attrs["Config"]["Image"] != v1_image

    statuses: list[int | str] = []
    bodies: set[str] = set()
    lock = threading.Lock()
    done = threading.Event()

    def client() -> None:
        deadline = time.monotonic() + 120  # bounded even if the rollback hangs
        while not done.is_set() and time.monotonic() < deadline:
            try:
                got = request(port, timeout=5)
                status: int | str = got.status
                with lock:
                    bodies.add(got.body)
            except OSError as exc:
                status = repr(exc)
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        result = ok(run("releases:rollback", app))
        time.sleep(0.3)
    finally:
        done.set()
        for t in threads:
            t.join(30)
    assert "Rolled back" in result.stdout and "v1" in result.stdout
    failures = [s for s in statuses if s != 200]
    assert len(statuses) > 50 and not failures, (len(statuses), failures[:5])
    assert bodies <= {"from-v1\n", "from-v2\n"}

    running = web(docker_client, app)
    assert running.attrs["Config"]["Image"] == v1_image and env_of(running)["GREETING"] == "from-v1"
    assert request(port).body == "from-v1\n"
    assert ok(run("config:get", app, "GREETING")).stdout.strip() == "from-v1"
    rows = releases(run, app)
    assert [(r["name"], r["status"], r["description"], r["current"]) for r in rows] == [
        ("v3", "succeeded", "Rollback to v1", True),
        ("v2", "superseded", rows[1]["description"], False),
        ("v1", "superseded", f"Deploy {greeting_image}", False),
    ]
    assert rows[1]["description"].startswith(f"Deploy dockyard/{app}:")
    # v2's built image was protected from the image cleanup, so rolling forward works too
    ok(run("releases:rollback", app, "v2"))
    assert request(port).body == "from-v2\n"


def test_rollback_to_an_image_that_is_gone_is_refused_naming_the_release(
        run: Run, docker_client: Any, make_app: Callable[[str], str], greeting_image: str,
        base_image: str, tmp_path: Path) -> None:
    app = make_app("gone")
    ok(run("props:set", "proxy", app, "type", "null"))
    ok(run("config:set", app, "--no-restart", "GREETING=one"))
    ok(run("deploy", app, "--build", str(build_dir(tmp_path, base_image, "one"))))
    built = web(docker_client, app).attrs["Config"]["Image"]
    ok(run("config:set", app, "GREETING=two"))
    ok(run("deploy", app, "--image", greeting_image))
    before = web(docker_client, app).id
    docker_client.images.remove(built, force=True)
    refused = run("releases:rollback", app, "v1")
    assert refused.exit_code != 0
    assert "v1" in refused.stderr and built in refused.stderr and "no longer available" in refused.stderr
    assert web(docker_client, app).id == before and env_of(web(docker_client, app))["GREETING"] == "two"
    rows = releases(run, app)
    assert [(r["name"], r["description"]) for r in rows] == [
        ("v3", f"Deploy {greeting_image}"), ("v2", "Set GREETING"), ("v1", f"Deploy {built}")], "nothing recorded"


def test_retention_prunes_history_and_the_images_of_pruned_releases(
        run: Run, docker_client: Any, make_app: Callable[[str], str], base_image: str, tmp_path: Path) -> None:
    app = make_app("keep")
    ok(run("props:set", "proxy", app, "type", "null"))
    ok(run("releases:set", app, "retention", "2"))
    images = []
    for n in range(1, 4):
        ok(run("deploy", app, "--build", str(build_dir(tmp_path, base_image, f"b{n}"))))
        images.append(web(docker_client, app).attrs["Config"]["Image"])
    assert [r["name"] for r in releases(run, app)] == ["v3", "v2"]
    tags = {t for img in docker_client.images.list(name=f"dockyard/{app}") for t in img.tags}
    assert tags == {images[1], images[2]}, "the kept releases' images stay, the pruned one's went"
    ok(run("releases:rollback", app))
    assert web(docker_client, app).attrs["Config"]["Image"] == images[1]
    assert [r["name"] for r in releases(run, app)] == ["v4", "v3"]


def test_a_store_restored_from_an_export_rolls_back(
        run: Run, docker_client: Any, make_app: Callable[[str], str], greeting_image: str,
        base_image: str, tmp_path: Path) -> None:
    app = make_app("restore")
    ok(run("props:set", "proxy", app, "type", "null"))
    ok(run("config:set", app, "--no-restart", "GREETING=old"))
    ok(run("deploy", app, "--image", greeting_image))
    ok(run("config:set", app, "--no-restart", "GREETING=new", "ADDED=1"))
    ok(run("deploy", app, "--build", str(build_dir(tmp_path, base_image, "new"))))
    export = tmp_path / "export.jsonl"
    ok(run("props:export", str(export)))
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    other = ("--propstore", f"file://{fresh}")
    ok(run(*other, "props:import", str(export)))
    assert [r["name"] for r in releases(run, app, *other)] == ["v2", "v1"]
    ok(run(*other, "releases:rollback", app))
    running = web(docker_client, app)
    assert running.attrs["Config"]["Image"] == greeting_image
    assert env_of(running)["GREETING"] == "old" and "ADDED" not in env_of(running)
    assert ok(run(*other, "config:get", app, "GREETING")).stdout.strip() == "old"
    rows = releases(run, app, *other)
    assert (rows[0]["name"], rows[0]["description"], rows[0]["current"]) == ("v3", "Rollback to v1", True)
    ok(run(*other, "apps:destroy", app, "--force"))


def test_a_deploy_whose_checks_fail_is_listed_failed_with_the_reason(
        run: Run, docker_client: Any, make_app: Callable[[str], str], greeting_image: str, tmp_path: Path) -> None:
    app = make_app("fail")
    ok(run("props:set", "proxy", app, "type", "null"))
    ok(run("deploy", app, "--image", greeting_image))
    before = web(docker_client, app).id
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: sh -c 'echo about to fail; exit 3'\n")
    failed = run("deploy", app, "--image", greeting_image, "--procfile", str(procfile))
    assert failed.exit_code != 0
    rows = releases(run, app)
    assert [(r["name"], r["status"], r["current"]) for r in rows] == [
        ("v2", "failed", False), ("v1", "succeeded", True)]
    info = json.loads(ok(run("--format", "json", "releases:info", app, "v2")).stdout)
    assert app in info["reason"] and "about to fail" in info["reason"], "the reason is the error the deploy gave"
    assert web(docker_client, app).id == before, "the old release kept serving"
    assert run("releases:rollback", app, "v2").exit_code != 0
    # the other changes that make a new running state, each with its description
    ok(run("config:set", app, "A=1", "B=2"))
    ok(run("config:unset", app, "A"))
    ok(run("ps:rebuild", app))
    assert [(r["name"], r["description"]) for r in releases(run, app)][:3] == [
        ("v5", "Rebuild"), ("v4", "Unset A"), ("v3", "Set A, B")]
