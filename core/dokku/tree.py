"""Read a Dokku server's state from disk into plain records.

Two roots, as on a Dokku host: ``DOKKU_ROOT`` (``/home/dokku``: one directory per app, with
``ENV``, ``VHOST``, ``DOKKU_SCALE``, ``tls/``, and the global ``ENV`` and ``VHOST``) and
``DOKKU_LIB_ROOT`` (``/var/lib/dokku``: ``config/<plugin>/<app>/<property>`` properties,
and from 0.38 the environment in ``config/<app>/ENV``). Which files exist decides the
layout of each app, so a server half-way through an upgrade reads correctly:

- environment: ``config/<app>/ENV`` (current) merged under ``/home/dokku/<app>/ENV``
  (0.20), the legacy file winning as Dokku's own migration does; a legacy file left behind
  after Dokku recorded the migration (``config/config/<app>/env-migrated``) is stale and
  ignored, as Dokku ignores it;
- scale: the ``ps`` ``scale`` property, else ``DOKKU_SCALE``;
- Procfile: ``data/ps/<app>/Procfile``, else 0.20's ``DOKKU_PROCFILE``.

Nothing here writes or validates for Dockyard; ``convert`` does that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.core.dokku.envfile import parse_env
from dockyard.core.errors import DockyardError, ValidationError
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.propstores.base import Value, decode_data

#: what Dokku 0.20 lists as apps: directories of DOKKU_ROOT, except these and dot-names
_NOT_APPS = {"tls"}
#: plugins that keep properties only from Dokku 0.31+ (0.20 kept these settings in ENV files)
_CURRENT_ONLY = {"ps", "ports", "apps", "proxy", "scheduler", "checks", "builder", "common"}


@dataclass
class DokkuScope:
    """One app of a Dokku server (or its global settings, ``name == "--global"``)."""

    name: str
    layout: str = "0.20"
    env: dict[str, str] = field(default_factory=dict)
    vhosts: list[str] | None = None
    scale: list[str] | None = None
    cert: tuple[str, str] | None = None
    #: (plugin, key) -> value, from ``config/<plugin>/<name>/<key>``
    properties: dict[tuple[str, str], Value] = field(default_factory=dict)
    procfile: str | None = None
    docker_options_deploy: str | None = None
    deployed: bool = False
    created_at: str | None = None
    templates: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: a problem that stops this app from being imported at all
    error: str | None = None

    @property
    def builder(self) -> str:
        """How Dokku built the image: ``herokuish``, ``dockerfile``, … (``builder detected`` or 0.20's variable)."""
        detected = self.properties.get(("builder", "detected"))
        return detected if isinstance(detected, str) and detected else self.env.get("DOKKU_APP_TYPE", "")


@dataclass
class DokkuServer:
    root: Path
    lib: Path
    apps: dict[str, DokkuScope]
    globals: DokkuScope
    #: properties whose scope is neither an app nor --global (left behind by apps:destroy)
    orphans: list[str] = field(default_factory=list)


def _read_text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path} is not UTF-8 text (byte {exc.start})") from exc


def _lines(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _list_apps(root: Path) -> list[str]:
    """Dokku's rule: every directory of DOKKU_ROOT not starting with '.' or an upper-case letter."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError as exc:
        raise ValidationError(f"no Dokku root at {root}") from exc
    return [e.name for e in entries
            if e.is_dir() and not e.name.startswith(".") and not e.name[:1].isupper() and e.name not in _NOT_APPS]


def _read_properties(lib: Path) -> dict[str, dict[tuple[str, str], Value]]:
    """``config/<plugin>/<scope>/<key>`` -> {scope: {(plugin, key): value}}.

    A directory of ``config/`` may also be an app's environment directory (``config/<app>/ENV``);
    files directly under a plugin directory are never properties, so they are not read here.
    """
    out: dict[str, dict[tuple[str, str], Value]] = {}
    config = lib / "config"
    if not config.is_dir():
        return out
    for plugin_dir in sorted(config.iterdir()):
        if not plugin_dir.is_dir():
            continue
        for scope_dir in sorted(plugin_dir.iterdir()):
            if not scope_dir.is_dir():
                continue
            for prop in sorted(scope_dir.iterdir()):
                if not prop.is_file():
                    continue
                try:
                    text = prop.read_bytes().decode("utf-8")
                except UnicodeDecodeError:
                    out.setdefault(scope_dir.name, {})[(plugin_dir.name, prop.name)] = "\x00"  # refused later
                    continue
                out.setdefault(scope_dir.name, {})[(plugin_dir.name, prop.name)] = decode_data(text)
    return out


def _read_env(scope: DokkuScope, legacy: Path, current: Path) -> None:
    migrated = scope.properties.get(("config", "env-migrated")) == "true"
    env: dict[str, str] = {}
    for path, is_legacy in ((current, False), (legacy, True)):
        text = _read_text(path)
        if text is None:
            continue
        if is_legacy and migrated:
            scope.warnings.append(f"ignored {path}: Dokku already moved it to {current} and no longer reads it")
            continue
        try:
            parsed = parse_env(text, str(path))
        except ValidationError as exc:
            scope.error = str(exc)
            return
        scope.warnings.extend(parsed.warnings)
        env.update(parsed.values)  # the legacy file wins, as in Dokku's migration
    scope.env = env
    scope.layout = "current" if current.is_file() or migrated or any(
        plugin in _CURRENT_ONLY for plugin, _ in scope.properties) else "0.20"


def _find_templates(scope: DokkuScope, root: Path, lib: Path) -> None:
    app_dir = root / scope.name
    candidates = [app_dir / "nginx.conf.sigil"]
    data = lib / "data" / "nginx-vhosts" / f"app-{scope.name}"
    if data.is_dir():
        candidates += sorted(p for p in data.iterdir()
                             if p.name.startswith("nginx.conf.sigil") and not p.name.endswith(".missing"))
    scope.templates += [str(p) for p in candidates if p.is_file()]
    includes = app_dir / "nginx.conf.d"
    if includes.is_dir():
        scope.templates += [str(p) for p in sorted(includes.glob("*.conf")) if p.name != "hsts.conf"]


def _read_app(name: str, root: Path, lib: Path, props: dict[tuple[str, str], Value]) -> DokkuScope:
    app = DokkuScope(name, properties=dict(props))
    app_dir = root / name
    _read_env(app, app_dir / "ENV", lib / "config" / name / "ENV")
    app.vhosts = _lines(_read_text(app_dir / "VHOST"))
    prop_scale = props.get(("ps", "scale"))
    if prop_scale is not None:
        app.scale = [prop_scale] if isinstance(prop_scale, str) else list(prop_scale)
        app.scale = [s for s in app.scale if s.strip()]
    else:
        app.scale = _lines(_read_text(app_dir / "DOKKU_SCALE"))
    crt, key = _read_text(app_dir / "tls" / "server.crt"), _read_text(app_dir / "tls" / "server.key")
    if crt is not None and key is not None:
        app.cert = (crt, key)
    elif crt is not None or key is not None:
        app.warnings.append(f"{app_dir / 'tls'} holds only one of server.crt and server.key; not imported")
    app.procfile = _read_text(lib / "data" / "ps" / name / "Procfile")
    if app.procfile is None:
        app.procfile = _read_text(app_dir / "DOKKU_PROCFILE")
    app.docker_options_deploy = _read_text(app_dir / "DOCKER_OPTIONS_DEPLOY")
    app.deployed = props.get(("common", "deployed")) == "true" or any(
        p.name.startswith("CONTAINER") for p in app_dir.iterdir())
    created = props.get(("apps", "created-at"))
    app.created_at = created if isinstance(created, str) and created.isdigit() else str(int(app_dir.stat().st_mtime))
    _find_templates(app, root, lib)
    return app


def read_server(root: Path, lib: Path) -> DokkuServer:
    """Everything ``dokku:import`` needs from a Dokku host, read once.

    A file the user may not read stops the whole import with one line: Dokku keeps its
    properties 0600 for the dokku user, so the cure (run as root or dokku) is the same for all.
    """
    try:
        return _read_server(root, lib)
    except PermissionError as exc:
        raise DockyardError(f"cannot read {exc.filename}: permission denied; run dokku:import as root "
                            "or as the dokku user") from exc


def _read_server(root: Path, lib: Path) -> DokkuServer:
    props = _read_properties(lib)
    names = _list_apps(root)
    apps = {}
    for name in names:
        try:
            apps[name] = _read_app(name, root, lib, props.get(name, {}))
        except ValidationError as exc:
            apps[name] = DokkuScope(name, error=str(exc))
    glob = DokkuScope(GLOBAL_SCOPE, properties=dict(props.get(GLOBAL_SCOPE, {})))
    _read_env(glob, root / "ENV", lib / "config" / GLOBAL_SCOPE / "ENV")
    glob.vhosts = _lines(_read_text(root / "VHOST"))
    orphans = sorted(f"{plugin}/{scope}/{key}" for scope, found in props.items()
                     if scope not in apps and scope != GLOBAL_SCOPE for plugin, key in found)
    return DokkuServer(root, lib, apps, glob, orphans)
