"""releases:* commands: an app's numbered releases, what changed between two, and rollback.

The records themselves are ``dockyard.core.releases``'s; a rollback is a release like a
deploy, through ``dockyard.core.apps.rollback_app``. Environment values are masked in
every output unless ``--show-values``: these commands' output is what gets pasted into a
ticket when something went wrong.
"""

from __future__ import annotations

from typing import Any

import click

from dockyard.core import releases as R
from dockyard.core.cli._props import global_triplet_rows, report_command, set_command, set_property, triplet_rows
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.properties import require_app

DEFAULTS = {R.RETENTION: str(R.DEFAULT_RETENTION)}

_show_values = click.option("--show-values", is_flag=True, help="Print environment values instead of masking them.")


def _masked(env: dict[str, str], show_values: bool) -> dict[str, str]:
    return env if show_values else {k: R.MASK for k in env}


def _procs(release: R.Release) -> str:
    return " ".join(f"{k}={release.scale.get(k, 0)}" for k in sorted(release.processes))


@click.command("releases:list")
@click.argument("app")
@pass_cli
def list_cmd(c: CliContext, app: str) -> None:
    """List APP's releases, newest first; the one that serves is marked ``*``."""
    require_app(c.store, app)
    found = R.list_releases(c.store, app)
    current = R.current_number(c.store, app)
    if c.json:
        c.emit([r.as_dict(current) for r in found])
        return
    if not c.quiet:
        click.echo(f"=====> {app} releases")
    width = max((len(r.name) for r in found), default=2)
    for r in found:
        mark = "*" if r.number == current else " "
        click.echo(f"{mark} {r.name:<{width}}  {r.status:<10}  {r.created_at}  {r.user}@{r.host}  {r.description}")


@click.command("releases:info")
@click.argument("app")
@click.argument("release")
@_show_values
@pass_cli
def info(c: CliContext, app: str, release: str, show_values: bool) -> None:
    """Show one release of APP (vN): image, processes, scale, environment, who, when, status."""
    require_app(c.store, app)
    record = R.get_release(c.store, app, R.parse_name(release))
    current = R.current_number(c.store, app)
    if c.json:
        c.emit(record.as_dict(current, show_values))
        return
    env = _masked(record.env, show_values)
    rows: dict[str, Any] = {
        "release": record.name + (" (current)" if record.number == current else ""),
        "status": record.status + (f": {record.reason}" if record.reason else ""),
        "description": record.description,
        "image": record.image,
        "processes": _procs(record),
        "created-at": record.created_at,
        "by": f"{record.user}@{record.host}",
        "release-id": record.release_id,
        "env": " ".join(f"{k}={v}" for k, v in env.items()),
    }
    c.report(f"{app} {record.name}", rows)
    for name, command in sorted(record.processes.items()):
        click.echo(f"       {name}: {' '.join(command) if command else '(image CMD)'}")


@click.command("releases:diff")
@click.argument("app")
@click.argument("old")
@click.argument("new", required=False)
@_show_values
@pass_cli
def diff(c: CliContext, app: str, old: str, new: str | None, show_values: bool) -> None:
    """What changed from release OLD to NEW (default: the current one): image, processes,
    scale, and environment keys added, removed or changed (values masked unless --show-values)."""
    require_app(c.store, app)
    a = R.get_release(c.store, app, R.parse_name(old))
    if new is None:
        current = R.current_number(c.store, app)
        if current is None:
            raise click.UsageError(f"{app} has no current release: give both releases")
        b = R.get_release(c.store, app, current)
    else:
        b = R.get_release(c.store, app, R.parse_name(new))
    c.emit(R.diff(a, b, show_values), _diff_text)


def _diff_text(d: dict[str, Any]) -> str:
    lines = [f"=====> {d['from']} -> {d['to']}"]
    if d["image"]:
        lines.append(f"image: {d['image']['from']} -> {d['image']['to']}")
    for what in ("processes", "scale"):
        for key, change in d[what].items():
            lines.append(f"{what} {key}: {change['from']} -> {change['to']}")
    env = d["env"]
    lines += [f"+ {k}={v}" for k, v in env["added"].items()]
    lines += [f"- {k}={v}" for k, v in env["removed"].items()]
    lines += [f"~ {k}: {ch['from']} -> {ch['to']}" for k, ch in env["changed"].items()]
    if len(lines) == 1:
        lines.append("no changes")
    return "\n".join(lines)


@click.command("releases:rollback")
@click.argument("app")
@click.argument("release", required=False)
@pass_cli
def rollback(c: CliContext, app: str, release: str | None) -> None:
    """Roll APP back to RELEASE (default: the last one that served before the current):
    its image, processes and environment, in a zero-downtime rollout; a new release."""
    from dockyard.core.apps import rollback_app
    from dockyard.core.cli.deploy import progress_logger
    from dockyard.core.interrupts import interruptible

    require_app(c.store, app)
    number = R.parse_name(release) if release is not None else None
    scheduler = c.scheduler_for(app)
    # a rollout like deploy's: SIGINT/SIGTERM go down its failure path, nothing changes
    with interruptible(), c.timed(f"Rolled back {app} on {scheduler.name}"):
        target, _instances = rollback_app(c.store, scheduler, app, number, progress=progress_logger(c))
    now = R.current_number(c.store, app)
    c.emit({"app": app, "rolled_back_to": target.name, "release": f"v{now}", "image": target.image},
           f"-----> Rolled back {app} to {target.name} ({target.image}): now v{now}")


@set_command("releases:set")
def set_(c: CliContext, app: str | None, prop: str | None, value: str | None, is_global: bool) -> None:
    """Set a releases property of APP (or --global): retention (releases kept, default 20)."""
    set_property(c, R.PLUGIN, R.PROPERTIES, app, prop, value, is_global, R.validate_retention)


def _global_rows(c: CliContext) -> dict[str, str]:
    rows = global_triplet_rows(c, R.PLUGIN, DEFAULTS)
    rows[f"releases-computed-{R.RETENTION}"] = rows[f"releases-global-{R.RETENTION}"] or DEFAULTS[R.RETENTION]
    return rows


@report_command("releases:report", global_rows=_global_rows)
def report(c: CliContext, name: str) -> dict[str, str]:
    """Report APP's (or every app's, or --global) release settings and history."""
    current = R.current_number(c.store, name)
    found = R.list_releases(c.store, name)
    rows = {
        "releases-current": f"v{current}" if current is not None else "",
        "releases-count": str(len(found)),
        "releases-last-number": c.store.get(R.PLUGIN, name, R.COUNTER) or "0",
    }
    rows.update(triplet_rows(c, R.PLUGIN, name, DEFAULTS))
    return rows
