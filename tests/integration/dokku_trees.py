"""Dokku servers written by hand, byte for byte as Dokku's code writes them.

``dokku_020`` is a Dokku 0.20 host: the environment in ``/home/dokku/APP/ENV`` (the
bash-era ``export KEY='value'`` shell quoting for one app, the Go plugin's
``godotenv.Marshal`` for another), settings as ``DOKKU_*`` variables, ``DOKKU_SCALE``,
``VHOST``, ``tls/`` and ``DOCKER_OPTIONS_DEPLOY``. ``dokku_current`` is a Dokku 0.38 host:
``/var/lib/dokku/config/APP/ENV`` plus ``config/<plugin>/<app>/<key>`` properties.
"""

from __future__ import annotations

from pathlib import Path

from dockyard.core.dokku.envfile import marshal
from tests.fixtures.nginx import make_cert

#: values that break naive quoting: both quotes, '$', backquotes, newlines, non-ASCII, empty
AWKWARD = {
    "SINGLE": "it's a 'test'",
    "DOUBLE": 'say "hi"',
    "DOLLAR": "$HOME costs $5 `date` !bang ${X}",
    "MULTI": "line one\nline two\n  indented",
    "UNICODE": "héllo wörld ✓ 日本",
    "EMPTY": "",
    "BACKSLASH": "C:\\path\\to\\",
    "NUMBER": "42",
    "SPACES": "  padded  ",
    "HASH": "a # not a comment",
    "SECRET_TOKEN": "s3cr3t-value-never-printed",
}


def shell_env(values: dict[str, str]) -> str:
    """The bash config plugin's format: ``export KEY='value'`` with ``'\\''`` for a quote."""
    return "".join(f"export {k}='" + v.replace("'", "'\\''") + "'\n" for k, v in values.items())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def prop(lib: Path, plugin: str, scope: str, key: str, value: str | list[str]) -> None:
    """A Dokku property: a value with no trailing newline, a list as lines."""
    text = "".join(f"{i}\n" for i in value) if isinstance(value, list) else value
    write(lib / "config" / plugin / scope / key, text)


def dokku_020(base: Path) -> tuple[Path, Path, dict[str, tuple[str, str]]]:
    """A Dokku 0.20 server; returns (DOKKU_ROOT, DOKKU_LIB_ROOT, {app: cert pair})."""
    root, lib = base / "home-dokku", base / "var-lib-dokku"
    write(root / "ENV", shell_env({"GLOBAL_ONE": "g'1", "DOKKU_SCHEDULER": "docker-local",
                                   "DOKKU_WAIT_TO_RETIRE": "120"}))
    write(root / "VHOST", "dokku.me\n")
    write(root / "HOSTNAME", "dokku.me\n")
    (root / ".ssh").mkdir(parents=True)
    (root / "tls").mkdir()
    certs = {"shop": make_cert(("www.shop.test",))}

    shop = root / "shop"
    env = dict(AWKWARD)
    env.update({"DOKKU_PROXY_PORT_MAP": "http:80:5000 https:443:5000", "DOKKU_APP_TYPE": "dockerfile",
                "DOKKU_CHECKS_DISABLED": "worker", "DOKKU_WAIT_TO_RETIRE": "30", "GIT_REV": "abc123",
                "DOKKU_APP_RESTORE": "0"})
    write(shop / "ENV", shell_env(env))
    write(shop / "VHOST", "shop.dokku.me\nwww.shop.test\n")
    write(shop / "DOKKU_SCALE", "web=2\nworker=1\n")
    write(shop / "DOKKU_PROCFILE", "web: gunicorn app:app --bind 0.0.0.0:5000\nworker: python worker.py\n")
    write(shop / "DOCKER_OPTIONS_DEPLOY", "--restart=on-failure:5\n")
    write(shop / "CONTAINER.web.1", "0123456789ab")
    write(shop / "tls" / "server.crt", certs["shop"][0])
    write(shop / "tls" / "server.key", certs["shop"][1])
    write(shop / "nginx.conf.sigil", "server { listen {{ .PROXY_PORT }}; }\n")
    write(shop / "refs" / "heads" / "master", "abc123\n")
    prop(lib, "nginx", "shop", "client-max-body-size", "20m")
    prop(lib, "nginx", "shop", "hsts", "false")
    prop(lib, "network", "shop", "attach-post-deploy", "backend")
    prop(lib, "network", "shop", "bind-all-interfaces", "false")

    blog = root / "blog"  # written by 0.20's Go config plugin, not yet deployed
    write(blog / "ENV", marshal({"BLOG_TITLE": "Tom's \"blog\" $$", "WORKERS": "3"}))
    write(blog / "VHOST", "blog.dokku.me\n")

    write(root / "bad_app" / "ENV", shell_env({"A": "1"}))  # Dokku lists it; no DNS name holds '_'
    return root, lib, certs


def dokku_current(base: Path) -> tuple[Path, Path, dict[str, tuple[str, str]]]:
    """A Dokku 0.38 server (environment and settings as properties)."""
    root, lib = base / "home-dokku", base / "var-lib-dokku"
    write(root / "VHOST", "dokku.me\n")
    write(lib / "config" / "--global" / "ENV", marshal({"GLOBAL_ONE": "g\"1"}))
    prop(lib, "config", "--global", "env-migrated", "true")
    prop(lib, "nginx", "--global", "hsts-max-age", "600")
    prop(lib, "scheduler", "--global", "selected", "docker-local")
    certs = {"api": make_cert(("api.example.test",))}

    api = root / "api"
    write(api / "VHOST", "api.dokku.me\napi.example.test\n")
    write(api / "ENV", "export STALE='left behind by 0.38.0'\n")  # Dokku no longer reads it
    write(api / "tls" / "server.crt", certs["api"][0])
    write(api / "tls" / "server.key", certs["api"][1])
    write(lib / "config" / "api" / "ENV", marshal(AWKWARD))
    prop(lib, "config", "api", "env-migrated", "true")
    prop(lib, "apps", "api", "created-at", "1700000000")
    prop(lib, "common", "api", "deployed", "true")
    prop(lib, "builder", "api", "detected", "herokuish")
    prop(lib, "ps", "api", "scale", ["web=3", "worker=2"])
    prop(lib, "ps", "api", "scale.old", ["web=1"])
    prop(lib, "ps", "api", "restart-policy", "always")
    prop(lib, "ports", "api", "map", ["http:80:5000", "https:443:5000", "tcp:7000:7000:worker"])
    prop(lib, "ports", "api", "map-detected", ["http:80:5000"])
    prop(lib, "proxy", "api", "type", "nginx")
    prop(lib, "checks", "api", "disabled", "worker")
    prop(lib, "checks", "api", "skipped", "release")
    prop(lib, "nginx", "api", "client-max-body-size", "5m")
    prop(lib, "nginx", "api", "proxy-keepalive", "32")
    prop(lib, "letsencrypt", "api", "email", "ops@example.com")
    write(lib / "data" / "ps" / "api" / "Procfile", "web: bin/web\nworker: bin/worker --queue default\n")
    write(lib / "data" / "nginx-vhosts" / "app-api" / "nginx.conf.sigil", "server {}\n")
    write(lib / "data" / "nginx-vhosts" / "app-api" / "nginx.conf.sigil.123.missing", "")

    (root / "docs").mkdir()  # a fresh app: only the property layout's bookkeeping
    prop(lib, "apps", "docs", "created-at", "1700000001")
    write(lib / "config" / "docs" / "ENV", "")
    prop(lib, "config", "docs", "env-migrated", "true")
    prop(lib, "nginx", "gone", "hsts", "false")  # left behind by a destroyed app
    return root, lib, certs
