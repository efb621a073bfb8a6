"""ports:* commands: the app's port map, ``scheme:host-port:container-port[:process-type]``.

For a deployed app a new map is stored only once the config built from it is live: a port
nginx cannot bind (another process holds it) fails the command and leaves the map as it was.
"""

from __future__ import annotations

import logging

import click

from dockyard.core.cli._props import report_command
from dockyard.core.cli._routing import routed
from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import ValidationError
from dockyard.core.models import PortMapping
from dockyard.core.ports import KEY, PLUGIN, PORTS_LOCK, parse_mapping, read_port_map, write_port_map
from dockyard.core.properties import require_app
from dockyard.propstores.base import PropertyStore

log = logging.getLogger("dockyard.ports")


def _check_process_types(c: CliContext, app: str, entries: list[PortMapping]) -> str:
    """An entry for a process type the release lacks routes nothing (issue 10).

    Once the app is deployed such an entry is refused; before, there is no release to check
    against, so an entry for a type other than web gets a warning, returned to be printed
    once the map is stored (a refused command prints its one error line only).
    """
    from dockyard.core.plan import current_release

    wanted = sorted({e.process_type for e in entries})
    release = current_release(c.store, app)
    if release is None:
        others = [p for p in wanted if p != "web"]
        if not others:
            return ""
        return (f"{app} is not deployed yet: make sure its release has process type {', '.join(others)}, "
                f"or {'that entry' if len(others) == 1 else 'those entries'} will route nothing")
    missing = [p for p in wanted if p not in release[2]]
    if missing:
        raise ValidationError(f"the deployed release of {app} has no process type {', '.join(missing)} "
                              f"(it has {', '.join(sorted(release[2])) or 'none'})")
    return ""


def _show(c: CliContext, app: str) -> None:
    entries = [str(p) for p in read_port_map(c.store, app)]
    c.emit(entries, lambda e: "\n".join(e))


@click.command("ports:add")
@click.argument("app")
@click.argument("entries", nargs=-1, required=True)
@pass_cli
def add(c: CliContext, app: str, entries: tuple[str, ...]) -> None:
    """Add SCHEME:HOST-PORT:CONTAINER-PORT[:PROCESS-TYPE] entries."""
    require_app(c.store, app)
    new = [parse_mapping(e) for e in entries]
    warning = _check_process_types(c, app, new)
    with c.store.lock(PORTS_LOCK, timeout=30):
        routed(c, app, lambda s: write_port_map(s, app, read_port_map(s, app) + new), held=(PORTS_LOCK,))
    if warning:
        log.warning("%s", warning)
    _show(c, app)


@click.command("ports:set")
@click.argument("app")
@click.argument("entries", nargs=-1, required=True)
@pass_cli
def set_(c: CliContext, app: str, entries: tuple[str, ...]) -> None:
    """Replace the port map."""
    require_app(c.store, app)
    new = [parse_mapping(e) for e in entries]
    warning = _check_process_types(c, app, new)
    with c.store.lock(PORTS_LOCK, timeout=30):
        routed(c, app, lambda s: write_port_map(s, app, new), held=(PORTS_LOCK,))
    if warning:
        log.warning("%s", warning)
    _show(c, app)


@click.command("ports:remove")
@click.argument("app")
@click.argument("entries", nargs=-1, required=True)
@pass_cli
def remove(c: CliContext, app: str, entries: tuple[str, ...]) -> None:
    """Remove entries, given whole or as a bare host port (every entry on that port)."""
    require_app(c.store, app)

    def drop(store: PropertyStore) -> None:
        kept = list(read_port_map(store, app))
        for entry in entries:
            if (entry.isascii() and entry.isdigit()):
                port = int(entry)
                match = [p for p in kept if p.host_port == port]
            else:
                wanted = parse_mapping(entry)
                match = [p for p in kept if p == wanted]
            if not match:
                raise ValidationError(f"app {app} has no port mapping {entry!r}")
            kept = [p for p in kept if p not in match]
        if kept:
            write_port_map(store, app, kept)
        else:
            store.delete(PLUGIN, app, KEY)

    with c.store.lock(PORTS_LOCK, timeout=30):
        routed(c, app, drop, held=(PORTS_LOCK,))
    _show(c, app)


@click.command("ports:clear")
@click.argument("app")
@pass_cli
def clear(c: CliContext, app: str) -> None:
    """Forget the stored map; the default (http:80:PORT for web) applies again."""
    require_app(c.store, app)
    with c.store.lock(PORTS_LOCK, timeout=30):
        routed(c, app, lambda s: s.delete(PLUGIN, app, KEY), held=(PORTS_LOCK,))
    _show(c, app)


def _as_json(entries: list[PortMapping]) -> str:
    """Dokku's JSON of a port map (Go's ``json.Marshal``: compact, its field order); an entry
    for another process type than web also carries ``process_type`` (Dockyard's fourth field)."""
    import json

    rows: list[dict[str, object]] = []
    for p in entries:
        row: dict[str, object] = {"container_port": p.container_port, "host_port": p.host_port, "scheme": p.scheme}
        if p.process_type != "web":
            row["process_type"] = p.process_type
        rows.append(row)
    return json.dumps(rows, separators=(",", ":"))


def _stored(c: CliContext, app: str) -> list[PortMapping]:
    from dockyard.core.ports import stored_port_map

    return stored_port_map(c.store, app)


def _detected(c: CliContext, app: str) -> list[PortMapping]:
    from dockyard.core.ports import detected_port_map

    return detected_port_map(c.store, app)


@click.command("ports:list")
@click.argument("app")
@pass_cli
def list_cmd(c: CliContext, app: str) -> None:
    """List APP's stored port mappings as Dokku's table (none stored: exit 1, as Dokku)."""
    from dockyard.core.errors import DockyardError

    require_app(c.store, app)
    entries = _stored(c, app)
    if c.json:
        click.echo(_as_json(entries))
        return
    if not entries:
        raise DockyardError("No port mappings configured for app")
    rows = sorted([*([] if c.quiet else [("-----> scheme", "host port", "container port")]),
                   *((p.scheme, str(p.host_port), str(p.container_port)
                      + ("" if p.process_type == "web" else f" ({p.process_type})")) for p in entries)],
                  key=":".join)  # Dokku sorts the joined lines
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    c.info(f"Port mappings for {app}")
    for r in rows:  # Dokku's columnize: four spaces in front, two between columns
        click.echo(f"    {r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2]}")


@report_command("ports:report")
def report(c: CliContext, app: str) -> dict[str, str]:
    """Report the port map as Dokku does: ``ports-map`` is the stored map (empty when none is
    stored), ``ports-map-detected`` what applies then; ``APP --ports-map`` prints one value."""
    stored = _stored(c, app)
    detected = _detected(c, app)
    return {
        "ports-map": " ".join(str(p) for p in stored),
        "ports-map-json": _as_json(stored),
        "ports-map-detected": " ".join(str(p) for p in detected),
        "ports-map-detected-json": _as_json(detected),
        "ports-map-is-default": str(not stored).lower(),
    }
