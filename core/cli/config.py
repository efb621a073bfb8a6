"""config:* commands: the app's environment, kept under the plugin ``config``.

Each variable is one property (``config/<app>/<KEY>``), so the environment is exported,
backed up and migrated with everything else.
"""

from __future__ import annotations

import re

import click
from dockyard.core.cli.context import CliContext
from dockyard.core.errors import ValidationError
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.core.properties import require_app

PLUGIN = "config"
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _scope(c: CliContext, app: str | None, is_global: bool) -> str:
    if is_global:
        return GLOBAL_SCOPE
    if not app:
        raise click.UsageError("specify APP or --global")
    return require_app(c.store, app)


def _key(key: str) -> str:
    if not _KEY_RE.match(key):
        raise ValidationError(f"invalid environment variable name {key!r}")
    return key


