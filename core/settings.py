"""Bootstrap settings: the only ones that live outside the property store.

Precedence for the store URL: ``--propstore``, ``DOCKYARD_PROPSTORE``, the config file,
then ``file://$DOCKYARD_ROOT``. Everything else (scheduler choice, driver settings) is a
property, so it is exported, backed up and shared between hosts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from dockyard.core.errors import DockyardError, ValidationError

SYSTEM_CONFIG = Path("/etc/dockyard/dockyard.toml")


def default_root() -> Path:
    env = os.environ.get("DOCKYARD_ROOT")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/dockyard")
    import platformdirs

    return Path(platformdirs.user_data_dir("dockyard"))


def config_file() -> Path | None:
    """The config file in force; a DOCKYARD_CONFIG that does not exist is an error."""
    named = os.environ.get("DOCKYARD_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise DockyardError(f"config file {named} (from DOCKYARD_CONFIG) does not exist")
        return path
    for candidate in (SYSTEM_CONFIG, Path.home() / ".config" / "dockyard" / "dockyard.toml"):
        if candidate.is_file():
            return candidate
    return None


def read_config(path: Path | None) -> dict[str, object]:
    if path is None:
        return {}
    try:
        text = path.read_text()
    except OSError as exc:
        raise DockyardError(f"cannot read config file {path}: {exc.strerror}") from exc
    if not text.strip():
        return {}
    import tomllib  # only when there is something to parse

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"config file {path} is not valid TOML: {exc}") from exc
    return data


class Settings(NamedTuple):
    propstore: str
    scheduler_default: str
    root: Path
    config_path: Path | None


def resolve(propstore: str | None = None, scheduler: str | None = None) -> Settings:
    root = default_root()
    cfg_path = config_file()
    cfg: dict[str, object] = {}
    url = propstore or os.environ.get("DOCKYARD_PROPSTORE")
    sched = scheduler or os.environ.get("DOCKYARD_SCHEDULER")
    if not url or not sched:
        cfg = read_config(cfg_path)
    if not url:
        value = cfg.get("propstore")
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"config file {cfg_path}: 'propstore' must be a string")
        url = value or f"file://{root}"
    if not sched:
        value = cfg.get("scheduler")
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"config file {cfg_path}: 'scheduler' must be a string")
        sched = value or "docker-local"
    return Settings(propstore=url, scheduler_default=sched, root=root, config_path=cfg_path)
