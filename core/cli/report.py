"""``dockyard report [APP]``: Dokku's core ``report``, every plugin's report in one go.

Each ``PLUGIN:report`` command is run as the user would run it, in name order, so the
sections and their keys are exactly those of the plugin commands; a plugin installed as a
package (a ``dockyard.commands`` entry point named ``X:report``) is included the same way.
With ``--format json`` the sections come back as one object keyed by plugin (for every
app: keyed by app, then plugin).
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import click

from dockyard.core.cli.context import CliContext, pass_cli


@click.command("report")
@click.argument("app", required=False)
@pass_cli
def report(c: CliContext, app: str | None) -> None:
    """Every plugin's report for APP (every app when APP is left out)."""
    from dockyard.core.properties import list_apps

    ctx = click.get_current_context()
    root = ctx.find_root()
    group: Any = root.command
    names = sorted(n for n in group.list_commands(root) if n.endswith(":report"))
    apps = [app] if app else list_apps(c.store)
    merged: dict[str, dict[str, Any]] = {}
    for each in apps:
        sections = merged.setdefault(each, {})
        for name in names:
            cmd = group.get_command(root, name)
            if cmd is None:
                continue
            kwargs: dict[str, Any] = ({"args": (each,)} if any(p.name == "args" for p in cmd.params)
                                      else {"app": each})
            if not c.json:
                ctx.invoke(cmd, **kwargs)
                continue
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                ctx.invoke(cmd, **kwargs)
            text = out.getvalue().strip()
            sections[name.split(":", 1)[0]] = json.loads(text) if text else {}
    if c.json:
        c.emit(merged[app] if app else merged)
