"""dokku:import as a user runs it: a Dokku server's tree in, Dockyard's commands read it back.

Both layouts (Dokku 0.20 and 0.38) are written by hand in ``dokku_trees``, imported into a
file, redis and etcd store, and then checked with the commands a user would run
(config:get, domains:report, ports:report, certs:report, ps:scale, props:get).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockyard.core import open_propstore
from tests.integration.dokku_trees import AWKWARD, dokku_020, dokku_current

Run = Callable[..., Any]


def _snapshot(url: str) -> list[str]:
    with open_propstore(url) as s:
        return sorted(json.dumps([p.plugin, p.scope, p.key, p.value, p.items]) for p in s.iter_all())


def _report(run: Run, url: str, *args: str) -> Any:
    r = run("--propstore", url, *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    data: Any = json.loads(r.stdout)
    return data


def _import(run: Run, url: str, root: Path, lib: Path, *extra: str) -> Any:
    return run("--propstore", url, "dokku:import", "--dokku-root", str(root), "--dokku-lib", str(lib), *extra)


def _check_env(run: Run, url: str, app: str) -> None:
    """Each awkward value reads back byte for byte, in the store and through config:get."""
    for key, value in AWKWARD.items():
        r = run("--propstore", url, "config:get", app, key)
        assert r.exit_code == 0, (key, r.stderr)
        assert r.stdout in (value + "\n", value), key  # config:get prints an empty value as nothing
    with open_propstore(url) as s:
        assert {k: s.get("config", app, k) for k in AWKWARD} == AWKWARD


@pytest.mark.parametrize("kind", ["file", "redis", "etcd"])
def test_import_current_layout(kind: str, run: Run, store_url_factory: Any, tmp_path: Path) -> None:
    url = store_url_factory(kind)
    root, lib, certs = dokku_current(tmp_path)

    dry = _import(run, url, root, lib, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert _snapshot(url) == [], "--dry-run wrote something"
    assert "config/api/SECRET_TOKEN = *** (" in dry.stdout
    for secret in (AWKWARD["SECRET_TOKEN"], AWKWARD["UNICODE"], certs["api"][1].splitlines()[1]):
        assert secret not in dry.stdout + dry.stderr
    assert "would write" in dry.stdout

    r = _import(run, url, root, lib)
    assert r.exit_code == 0, r.stderr
    assert "2 apps: 2 new" in r.stdout and "0 refused" in r.stdout
    assert "nginx.conf.sigil" in r.stderr and "template-path" in r.stderr  # the template, with what to do
    _check_env(run, url, "api")
    assert run("--propstore", url, "config:get", "api", "STALE").exit_code == 1  # stale legacy ENV ignored
    assert run("--propstore", url, "config:get", "--global", "GLOBAL_ONE").stdout == 'g"1\n'
    assert run("--propstore", url, "config:get", "api", "env-migrated").exit_code != 0

    domains = _report(run, url, "domains:report", "api")
    assert domains["domains-app-vhosts"] == "api.dokku.me api.example.test"
    assert domains["domains-global-vhosts"] == "dokku.me"
    ports = _report(run, url, "ports:report", "api")
    assert ports["ports-map"] == "http:80:5000 https:443:5000 tcp:7000:7000:worker"
    ssl = _report(run, url, "certs:report", "api")
    assert ssl["ssl-enabled"] == "true" and ssl["ssl-hostnames"] == "api.example.test"
    with open_propstore(url) as s:
        assert s.get("certs", "api", "key") == certs["api"][1]
        assert s.list_get("ps", "api", "scale") == ["web=3", "worker=2"]
        assert s.get("ps", "api", "restart-policy") == "always"
        assert s.get("checks", "api", "disabled") == "worker"
        assert s.get("checks", "api", "skipped") == "release"  # kept: Dockyard has no checks:skip yet
        assert s.get("nginx", "api", "client-max-body-size") == "5m"
        assert s.get("nginx", "api", "proxy-keepalive") == "32"  # kept verbatim
        assert s.get("nginx", "--global", "hsts-max-age") == "600"
        assert s.get("letsencrypt", "api", "email") == "ops@example.com"
        assert s.get("apps", "api", "created-at") == "1700000000"
        assert s.get("release", "api", "image") == "dokku/api:latest"
        assert json.loads(s.get("release", "api", "processes") or "") == {
            "web": ["/start", "web"], "worker": ["/start", "worker"]}  # herokuish runs /start TYPE
        assert not s.exists("ps", "api", "scale.old") and not s.exists("ports", "api", "map-detected")
        assert not s.exists("nginx", "gone", "hsts")  # an orphan of a destroyed app
        assert s.exists("apps", "docs", "created-at") and not s.exists("release", "docs", "current")
    scale = _report(run, url, "ps:scale", "api")
    assert scale == [{"process_type": "web", "quantity": 3}, {"process_type": "worker", "quantity": 2}]
    apps = run("--propstore", url, "apps:list", "--format", "json")
    assert json.loads(apps.stdout) == ["api", "docs"]

    before = _snapshot(url)
    again = _import(run, url, root, lib)
    assert again.exit_code == 0, again.stderr
    assert "nothing to change" in again.stdout and "2 unchanged" in again.stdout
    assert _snapshot(url) == before


@pytest.mark.parametrize("kind", ["file", "redis", "etcd"])
def test_import_020_layout(kind: str, run: Run, store_url_factory: Any, tmp_path: Path) -> None:
    url = store_url_factory(kind)
    root, lib, certs = dokku_020(tmp_path)

    r = _import(run, url, root, lib)
    assert r.exit_code == 1  # bad_app is refused; the others are imported
    refusals = [line for line in r.stderr.splitlines() if "not imported" in line]
    assert len(refusals) == 2 and "bad_app: not imported: invalid app name" in refusals[0]
    assert refusals[1].startswith("error: not imported: bad_app")
    assert "2 new" in r.stdout and "1 refused" in r.stdout
    _check_env(run, url, "shop")
    for var in ("DOKKU_PROXY_PORT_MAP", "DOKKU_CHECKS_DISABLED", "DOKKU_WAIT_TO_RETIRE", "DOKKU_APP_RESTORE"):
        assert run("--propstore", url, "config:get", "shop", var).exit_code == 1  # became properties
    assert run("--propstore", url, "config:get", "shop", "GIT_REV").stdout == "abc123\n"
    assert run("--propstore", url, "config:get", "blog", "BLOG_TITLE").stdout == 'Tom\'s "blog" $$\n'
    assert run("--propstore", url, "config:get", "--global", "GLOBAL_ONE").stdout == "g'1\n"

    assert _report(run, url, "domains:report", "shop")["domains-app-vhosts"] == "shop.dokku.me www.shop.test"
    assert _report(run, url, "ports:report", "shop")["ports-map"] == "http:80:5000 https:443:5000"
    assert _report(run, url, "ports:report", "blog")["ports-map-is-default"] == "true"
    assert _report(run, url, "certs:report", "shop")["ssl-hostnames"] == "www.shop.test"
    assert _report(run, url, "ps:scale", "shop") == [
        {"process_type": "web", "quantity": 2},
        {"process_type": "worker", "quantity": 1},
    ]
    with open_propstore(url) as s:
        assert s.get("certs", "shop", "crt") == certs["shop"][0]
        assert s.get("certs", "shop", "key") == certs["shop"][1]
        assert s.get("checks", "shop", "disabled") == "worker"
        assert s.get("checks", "shop", "wait-to-retire") == "30"
        assert s.get("ps", "shop", "restart-policy") == "on-failure:5"
        assert s.get("ps", "shop", "restore") == "false"  # 0.20's DOKKU_APP_RESTORE=0: ps:restore skips it
        assert s.get("scheduler", "--global", "selected") == "docker-local"
        assert s.get("checks", "--global", "wait-to-retire") == "120"
        assert not s.exists("config", "--global", "DOKKU_WAIT_TO_RETIRE")
        assert s.get("nginx", "shop", "client-max-body-size") == "20m"
        assert s.get("network", "shop", "attach-post-deploy") == "backend"
        assert s.get("release", "shop", "image") == "dokku/shop:latest"
        assert json.loads(s.get("release", "shop", "processes") or "") == {
            "web": ["gunicorn", "app:app", "--bind", "0.0.0.0:5000"], "worker": ["python", "worker.py"]}
        assert not s.exists("release", "blog", "current")  # never deployed on Dokku
        assert s.list_get("domains", "--global", "vhosts") == ["dokku.me"]
        assert list(s.iter_properties(scope="bad_app")) == []
    assert "shop/nginx.conf.sigil" in r.stderr

    before = _snapshot(url)
    dry = _import(run, url, root, lib, "--dry-run")
    assert "nothing to change" in dry.stdout
    again = _import(run, url, root, lib)
    assert "nothing to change" in again.stdout and "2 unchanged" in again.stdout
    assert _snapshot(url) == before


def test_import_json_plan_and_changes(run: Run, store_url_factory: Any, tmp_path: Path) -> None:
    """--format json prints the plan; a value changed on Dokku is the only change of a rerun."""
    url = store_url_factory("file")
    root, lib, _ = dokku_current(tmp_path)
    r = _import(run, url, root, lib, "--dry-run", "--format", "json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["dry_run"] is True and plan["summary"]["created"] == 2
    api = next(p for p in plan["plan"] if p["app"] == "api")
    assert api["layout"] == "current" and api["status"] == "create"
    assert "letsencrypt/api/email" in api["kept"]
    assert any(t["path"].endswith("app-api/nginx.conf.sigil") for t in api["templates"])
    assert AWKWARD["SECRET_TOKEN"] not in r.stdout
    assert "nginx/gone/hsts" in plan["orphans"]

    assert _import(run, url, root, lib).exit_code == 0
    (lib / "config" / "ps" / "api" / "scale").write_text("web=1\nworker=2\n")
    r = _import(run, url, root, lib, "--format", "json")
    plan = json.loads(r.stdout)
    api = next(p for p in plan["plan"] if p["app"] == "api")
    assert [(c["plugin"], c["key"], c["value"]) for c in api["changes"]] == [("ps", "scale", ["web=1", "worker=2"])]
    assert plan["summary"]["properties"] == 1


def test_import_never_half_writes_an_app(run: Run, store_url_factory: Any, tmp_path: Path) -> None:
    """A value Dockyard refuses (a domain that is no DNS name) refuses the whole app, nothing of it written."""
    url = store_url_factory("file")
    root, lib, _ = dokku_current(tmp_path)
    (root / "api" / "VHOST").write_text("api.dokku.me\nnot_a_domain!\n")
    r = _import(run, url, root, lib)
    assert r.exit_code == 1
    assert "api: not imported: invalid domain 'not_a_domain!'" in r.stderr
    with open_propstore(url) as s:
        assert list(s.iter_properties(scope="api")) == []
        assert s.exists("apps", "docs", "created-at")  # the others went on


def test_import_looks_into_images(run: Run, store_url_factory: Any, tmp_path: Path, docker_client: Any,
                                  build_image: Callable[..., str]) -> None:
    """0.20 keeps an app's nginx.conf.sigil only in its image: the import finds it there, and
    names a deployed app whose image is not on this engine."""
    import uuid

    from tests.integration.dokku_trees import shell_env, write

    url = store_url_factory("file")
    with_sigil, missing = f"imp{uuid.uuid4().hex[:8]}", f"imp{uuid.uuid4().hex[:8]}"
    root, lib = tmp_path / "home-dokku", tmp_path / "var-lib-dokku"
    for app in (with_sigil, missing):
        write(root / app / "ENV", shell_env({"DOKKU_APP_TYPE": "dockerfile"}))
        write(root / app / "CONTAINER.web.1", "0123")
    built = build_image("WORKDIR /srv\nCOPY nginx.conf.sigil /srv/nginx.conf.sigil\n",
                        {"nginx.conf.sigil": "server { listen 80; }\n"})
    image = f"dokku/{with_sigil}"
    docker_client.images.get(built).tag(image, "latest")
    try:
        r = _import(run, url, root, lib)
        assert r.exit_code == 0, r.stderr
        assert f"{image}:latest:/srv/nginx.conf.sigil" in r.stderr
        assert f"image dokku/{missing}:latest is not on this docker engine" in r.stderr
        assert "1 templates to port" in r.stdout
        skipped = _import(run, url, root, lib, "--skip-images")
        assert "nginx.conf.sigil" not in skipped.stderr and "nothing to change" in skipped.stdout
    finally:
        docker_client.images.remove(f"{image}:latest")


def test_unreadable_env_refuses_only_that_app(run: Run, store_url_factory: Any, tmp_path: Path) -> None:
    """An ENV file Dokku could not have written (bad bytes, an open quote) refuses its app alone."""
    from tests.integration.dokku_trees import shell_env, write

    url = store_url_factory("file")
    root, lib = tmp_path / "home-dokku", tmp_path / "var-lib-dokku"
    (root / "latin").mkdir(parents=True)
    (root / "latin" / "ENV").write_bytes(b"export NAME='caf\xe9'\n")
    write(root / "open" / "ENV", "export A='never closed\n")
    write(root / "good" / "ENV", shell_env({"DOKKU_START_CMD": "bin/serve --port 5000",
                                            "PEM": "-----BEGIN-----\nabc\n"}))
    write(root / "good" / "CONTAINER.web.1", "0123")
    r = _import(run, url, root, lib, "--skip-images")
    assert r.exit_code == 1
    assert "latin: not imported:" in r.stderr and "not UTF-8" in r.stderr
    assert "open: not imported:" in r.stderr and "unterminated single-quoted value" in r.stderr
    assert "PEM ends with a newline" in r.stderr
    with open_propstore(url) as s:
        assert s.scopes("apps") == ["good"]
        assert s.get("config", "good", "PEM") == "-----BEGIN-----\nabc\n"
        assert json.loads(s.get("release", "good", "processes") or "") == {"web": ["bin/serve", "--port", "5000"]}


def test_port_conflict_between_imported_apps(run: Run, store_url_factory: Any, tmp_path: Path) -> None:
    """Two Dokku apps on one tcp port: the second is refused (checked against the first, already planned)."""
    from tests.integration.dokku_trees import prop, write

    url = store_url_factory("redis")
    root, lib = tmp_path / "home-dokku", tmp_path / "var-lib-dokku"
    for app in ("alpha", "beta"):
        write(root / app / "VHOST", f"{app}.dokku.me\n")
        prop(lib, "ports", app, "map", ["http:80:5000", "tcp:9000:9000"])
    r = _import(run, url, root, lib, "--skip-images")
    assert r.exit_code == 1
    assert "beta: not imported: host port 9000 (tcp) conflicts with app alpha's tcp:9000:9000" in r.stderr
    with open_propstore(url) as s:
        assert s.scopes("apps") == ["alpha"]
        assert s.list_get("ports", "alpha", "map") == ["http:80:5000", "tcp:9000:9000"]


def test_refuses_to_import_into_dokkus_own_tree(run: Run, tmp_path: Path) -> None:
    root, lib, _ = dokku_current(tmp_path)
    r = _import(run, f"file://{lib}", root, lib)
    assert r.exit_code == 1 and "inside Dokku's own tree" in r.stderr
    assert not (lib / "config" / "config" / "api" / "SECRET_TOKEN").exists()


@pytest.mark.docker
def test_imported_app_runs_under_dockyard(run: Run, docker_client: Any, web_image: str,
                                          app_names: Callable[[str], str], tmp_path: Path) -> None:
    """The whole move: import a 0.20 app, then ps:rebuild runs Dokku's image with its environment."""
    from tests.fixtures.docker import http_get
    from tests.integration.dokku_trees import shell_env, write

    app = app_names("dki")
    root, lib = tmp_path / "home-dokku", tmp_path / "var-lib-dokku"
    greeting = "it's \"here\" for $5 ✓"
    write(root / app / "ENV", shell_env({
        "GREETING": greeting, "DOKKU_APP_TYPE": "dockerfile", "DOKKU_APP_PROXY_TYPE": "null",
        "DOKKU_CHECKS_WAIT": "0", "DOKKU_WAIT_TO_RETIRE": "0"}))
    write(root / app / "DOKKU_SCALE", "web=1\nworker=0\n")
    write(root / app / "DOKKU_PROCFILE",
          "web: sh -c 'echo web starting on $PORT; exec httpd -f -v -p $PORT -h /www'\n"
          "worker: sh -c 'exec sleep 3600'\n")
    write(root / app / "CONTAINER.web.1", "0123")
    docker_client.images.get(web_image).tag(f"dokku/{app}", "latest")
    try:
        r = _import(run, "file://" + str(tmp_path / "store"), root, lib)
        assert r.exit_code == 0, r.stderr
        assert "not on this docker engine" not in r.stderr
        r = run("--propstore", "file://" + str(tmp_path / "store"), "ps:rebuild", app)
        assert r.exit_code == 0, r.stderr
        web = docker_client.containers.get(f"{app}.web.1")
        assert web.attrs["Config"]["Image"] == f"dokku/{app}:latest"
        assert f"GREETING={greeting}" in web.attrs["Config"]["Env"]
        ip = web.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        assert http_get(f"http://{ip}:5000/") == (200, "hello from dockyard\n")
        assert not docker_client.containers.list(all=True, filters={"name": f"{app}.worker"})
    finally:
        docker_client.images.remove(f"dokku/{app}:latest")
