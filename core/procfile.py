"""Procfile parsing, Dokku's way.

A command becomes argv by shell-like splitting (shlex), as Dokku does for Dockerfile apps;
a command that needs a shell says ``sh -c '…'``.
"""

from __future__ import annotations

import re
import shlex

from dockyard.core.errors import ValidationError

_TYPE_RE = re.compile(r"^[A-Za-z0-9_-]+$")

Processes = dict[str, tuple[str, ...] | None]

#: Dokku's ``ps procfile-path`` default: the Procfile in the image's working directory
DEFAULT_PROCFILE_PATH = "Procfile"


def validate_procfile_path(value: str) -> str:
    """A ``procfile-path`` value: one line naming a file (Dokku reads it relative to the base
    directory, never as an absolute path, so a leading ``/`` is allowed and ignored)."""
    if "\n" in value or "\r" in value or "\0" in value or not value.strip("/").strip():
        raise ValidationError(f"invalid procfile-path {value!r}: a file path relative to the image's WORKDIR")
    return value


def procfile_location(workdir: str, path: str = DEFAULT_PROCFILE_PATH) -> str:
    """Where ``procfile-path`` points inside an image: joined to ``workdir``, never absolute, as in Dokku."""
    import posixpath

    return posixpath.normpath(posixpath.join(workdir or "/", path.lstrip("/")))


def parse_procfile(text: str) -> Processes:
    processes: Processes = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        name = name.strip()
        if not sep or not _TYPE_RE.match(name):
            raise ValidationError(f"Procfile line {lineno}: expected 'type: command', got {raw!r}")
        try:
            argv = tuple(shlex.split(command.strip()))
        except ValueError as exc:
            raise ValidationError(f"Procfile line {lineno}: {exc}") from exc
        if not argv:
            raise ValidationError(f"Procfile line {lineno}: process type {name!r} has no command")
        if name in processes:
            raise ValidationError(f"Procfile line {lineno}: process type {name!r} is defined twice")
        processes[name.lower()] = argv
    return processes
