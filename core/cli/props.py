"""props:* commands: raw property access, and export, import, backup, restore and migrate.

``props:get|set|unset|list`` work on any ``(plugin, scope, key)``, as Dokku's ``prop`` tool
does. The other commands move whole stores in the JSON Lines format of
``dockyard.propstores.export``; values are never printed by them, since they hold secrets.
"""

from __future__ import annotations

from pathlib import Path

import click

from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import LockHeld, NotFound, ValidationError
from dockyard.core.names import GLOBAL_SCOPE, validate_component


def _coords(plugin: str, scope: str, key: str) -> tuple[str, str, str]:
    validate_component("plugin", plugin)
    validate_component("scope", scope)
    validate_component("key", key)
    return plugin, scope, key


def _split(args: tuple[str, ...], is_global: bool, fixed: int, usage: str) -> tuple[list[str], list[str]]:
    """(PLUGIN, SCOPE, KEY…) and the rest; ``--global`` is a flag to click, so it fills in SCOPE."""
    head = list(args[: fixed - 1]) if is_global else list(args[:fixed])
    if is_global:
        head[1:1] = [GLOBAL_SCOPE] if len(head) >= 1 else []
    if len(head) < fixed:
        raise click.UsageError(f"usage: {usage}")
    rest = list(args[fixed - 1:]) if is_global else list(args[fixed:])
    return head, rest


_GLOBAL = click.option("--global", "is_global", is_flag=True, help="The scope is --global (Dokku's global values).")


@click.command("props:get")
@click.argument("args", nargs=-1, metavar="PLUGIN SCOPE|--global KEY")
@click.option("--default", "default", metavar="TEXT", help="Print this instead of failing when unset.")
@_GLOBAL
@pass_cli
def get(c: CliContext, args: tuple[str, ...], default: str | None, is_global: bool) -> None:
    """Print PLUGIN/SCOPE/KEY (a list prints one item per line); exit 1 if unset."""
    (plugin, scope, key), rest = _split(args, is_global, 3, "props:get PLUGIN SCOPE|--global KEY")
    if rest:
        raise click.UsageError(f"unexpected extra argument {rest[0]!r}")
    _coords(plugin, scope, key)
    data = c.store.read(plugin, scope, key)
    if data is None:
        if default is None:
            raise NotFound(f"property {plugin}/{scope}/{key} is not set")
        data = default
    obj: dict[str, object] = {"plugin": plugin, "scope": scope, "key": key}
    if isinstance(data, list):
        obj["list"] = data
        c.emit(obj, "\n".join(data))
    else:
        obj["value"] = data
        c.emit(obj, data)


@click.command("props:set")
@click.argument("args", nargs=-1, metavar="PLUGIN SCOPE|--global KEY VALUE…")
@click.option("--list", "as_list", is_flag=True, help="Store VALUES as a list (one item each).")
@_GLOBAL
@pass_cli
def set_(c: CliContext, args: tuple[str, ...], as_list: bool, is_global: bool) -> None:
    """Set PLUGIN/SCOPE/KEY to VALUE, or to the list VALUES with --list. An empty value unsets."""
    (plugin, scope, key), values = _split(args, is_global, 3, "props:set PLUGIN SCOPE|--global KEY VALUE…")
    _coords(plugin, scope, key)
    if as_list:
        items = [v.strip() for v in values]
        if items:
            c.store.list_write(plugin, scope, key, items)
        else:
            c.store.delete(plugin, scope, key)
        c.emit({"set": f"{plugin}/{scope}/{key}", "items": len(items)},
               f"-----> Setting {plugin}/{scope}/{key} to a list of {len(items)} items" if items
               else f"-----> Unsetting {plugin}/{scope}/{key}")
        return
    if len(values) != 1:
        raise click.UsageError("give exactly one VALUE (or use --list for several)")
    value = values[0]
    if value:
        c.store.set(plugin, scope, key, value)
        c.emit({"set": f"{plugin}/{scope}/{key}"}, f"-----> Setting {plugin}/{scope}/{key}")
    else:
        c.store.delete(plugin, scope, key)
        c.emit({"unset": f"{plugin}/{scope}/{key}"}, f"-----> Unsetting {plugin}/{scope}/{key}")


@click.command("props:unset")
@click.argument("args", nargs=-1, metavar="PLUGIN SCOPE|--global KEY…")
@_GLOBAL
@pass_cli
def unset(c: CliContext, args: tuple[str, ...], is_global: bool) -> None:
    """Delete KEYS of PLUGIN/SCOPE (a key that is not set is not an error)."""
    (plugin, scope, first), more = _split(args, is_global, 3, "props:unset PLUGIN SCOPE|--global KEY…")
    keys = [first, *more]
    for key in keys:
        _coords(plugin, scope, key)
    from dockyard.propstores.base import Delete

    present = [k for k in keys if c.store.exists(plugin, scope, k)]
    c.store.apply([Delete(plugin, scope, k) for k in keys])
    c.emit({"unset": present}, "\n".join(f"-----> Unsetting {plugin}/{scope}/{k}" for k in present)
           or "-----> Nothing to unset")


@click.command("props:list")
@click.argument("plugin", required=False)
@click.argument("scope", required=False)
@click.option("--values", "with_values", is_flag=True, help="Show values too (they may be secrets).")
@_GLOBAL
@pass_cli
def list_props(c: CliContext, plugin: str | None, scope: str | None, with_values: bool, is_global: bool) -> None:
    """List properties as PLUGIN/SCOPE/KEY, optionally only those of PLUGIN (and SCOPE or --global)."""
    if is_global:
        if scope is not None:
            raise click.UsageError("give SCOPE or --global, not both")
        scope = GLOBAL_SCOPE
    if plugin is not None:
        validate_component("plugin", plugin)
    if scope is not None:
        validate_component("scope", scope)
    props = sorted(c.store.iter_properties(plugin, scope), key=lambda p: (p.plugin, p.scope, p.key))
    if c.json:
        rows = []
        for p in props:
            row: dict[str, object] = {"plugin": p.plugin, "scope": p.scope, "key": p.key}
            if with_values:
                row["list" if p.is_list else "value"] = p.data()
            rows.append(row)
        c.emit(rows)
        return
    lines = []
    for p in props:
        path = f"{p.plugin}/{p.scope}/{p.key}"
        if with_values:
            shown = " ".join(p.items or ()) if p.is_list else p.value
            lines.append(f"{path}: {shown}")
        else:
            lines.append(path)
    if lines:
        click.echo("\n".join(lines))


@click.command("props:export")
@click.argument("file", default="-", metavar="[FILE]")
@pass_cli
def export(c: CliContext, file: str) -> None:
    """Export every property as JSON Lines to FILE (gzip if it ends in .gz; '-' is stdout)."""
    from dockyard.propstores.export import export_store

    with c.progress("Exporting") as advance:
        result = export_store(c.store, file, advance)
    summary = {"count": result.count, "sha256": result.sha256, "path": result.path,
               "source": c.store.display_url}
    if file == "-":
        click.echo(f"-----> Exported {result.count} properties (sha256 {result.sha256})", err=True)
    else:
        c.emit(summary, f"-----> Exported {result.count} properties to {result.path} (sha256 {result.sha256})")


def _print_plan(c: CliContext, plan: object, dry_run: bool, name: str) -> None:
    from dockyard.propstores.export import ImportPlan

    assert isinstance(plan, ImportPlan)
    s = plan.summary()
    if c.json:
        data: dict[str, object] = dict(s, dry_run=dry_run, file=name)
        if dry_run:
            data["changes"] = {k: ["/".join(x) for x in getattr(plan, k)] for k in ("add", "change", "delete")}
        c.emit(data)
        return
    if dry_run:
        for mark, kind in (("+", "add"), ("~", "change"), ("-", "delete")):
            for coords in getattr(plan, kind):
                click.echo(f"{mark} {'/'.join(coords)}")
        click.echo(f"-----> Would add {s['add']}, change {s['change']}, delete {s['delete']}; "
                   f"{s['unchanged']} unchanged")
    else:
        click.echo(f"-----> Imported {name}: added {s['add']}, changed {s['change']}, deleted {s['delete']}; "
                   f"{s['unchanged']} unchanged")


def _do_import(c: CliContext, file: str, replace: bool, dry_run: bool) -> None:
    from dockyard.propstores.export import import_file, plan_import, read_export

    data = read_export(file)  # everything is checked before anything is written
    if dry_run:
        plan = plan_import(c.store, data, replace=replace)
    else:
        with c.progress("Importing", max(data.count, 1)) as advance:
            plan = import_file(c.store, data, replace=replace, progress=advance)
    _print_plan(c, plan, dry_run, data.name)


def _resume(c: CliContext) -> None:
    from dockyard.propstores.export import resume_import

    with c.progress("Resuming the import") as advance:
        applied = resume_import(c.store, advance)
    if applied is None:
        c.emit({"resumed": False}, "-----> There is no interrupted import to resume")
    else:
        c.emit({"resumed": True, "operations": applied},
               f"-----> Resumed the interrupted import: applied its remaining {applied} operation(s)")


@click.command("props:import")
@click.argument("file", metavar="FILE", required=False)
@click.option("--merge", "mode", flag_value="merge", default=True, help="Add and update; keep the rest (default).")
@click.option("--replace", "mode", flag_value="replace", help="Make the store equal to FILE (deletes the rest).")
@click.option("--dry-run", is_flag=True, help="Print what would change and change nothing.")
@click.option("--resume", is_flag=True, help="Finish an import that was interrupted part way (no FILE).")
@pass_cli
def import_(c: CliContext, file: str | None, mode: str, dry_run: bool, resume: bool) -> None:
    """Import FILE (an export; '-' is stdin). The whole file is validated before any write.

    The write is all or nothing where the store can; where it cannot (etcd, past one
    transaction) it is journaled, and --resume finishes an import that was cut off.
    """
    if resume:
        if file is not None or dry_run or mode == "replace":
            raise click.UsageError("--resume takes no FILE and no other option")
        _resume(c)
        return
    if file is None:
        raise click.UsageError("usage: props:import FILE [--merge|--replace] [--dry-run] | props:import --resume")
    _do_import(c, file, mode == "replace", dry_run)


@click.command("props:backup")
@click.argument("directory", type=click.Path(file_okay=False), metavar="DIR")
@click.option("--keep", type=click.IntRange(min=1), default=7, show_default=True, help="How many backups to keep.")
@pass_cli
def backup(c: CliContext, directory: str, keep: int) -> None:
    """Write DIR/dockyard-YYYYmmddTHHMMSSZ.jsonl.gz and delete all but the newest KEEP."""
    from dockyard.propstores.export import backup as do_backup

    with c.progress("Backing up") as advance:
        result = do_backup(c.store, Path(directory), keep, advance)
    c.emit({"path": result.export.path, "count": result.export.count, "sha256": result.export.sha256,
            "removed": result.removed},
           f"-----> Backed up {result.export.count} properties to {result.export.path}"
           + "".join(f"\n       removed old backup {r}" for r in result.removed))


@click.command("props:restore")
@click.argument("source", metavar="FILE|DIR")
@click.option("--dry-run", is_flag=True, help="Print what would change and change nothing.")
@pass_cli
def restore(c: CliContext, source: str, dry_run: bool) -> None:
    """Make the store equal to a backup (import --replace); a DIR means its newest backup."""
    from dockyard.propstores.export import resolve_restore_source

    path = resolve_restore_source(source)
    _do_import(c, str(path), True, dry_run)


@click.command("props:migrate")
@click.option("--to", "to", required=True, metavar="URL", help="The store to copy every property into.")
@click.option("--replace", is_flag=True, help="Allow a non-empty target and delete what the source lacks.")
@pass_cli
def migrate(c: CliContext, to: str, replace: bool) -> None:
    """Copy every property to the store at URL, then verify its count and digest there."""
    from dockyard.core import open_propstore
    from dockyard.propstores.base import redact_url
    from dockyard.propstores.export import migrate as do_migrate

    if to == c.settings.propstore:
        raise ValidationError("the target store is the source store")
    target = open_propstore(to)
    try:
        with c.progress(f"Migrating to {redact_url(to)}") as advance:
            result = do_migrate(c.store, target, replace=replace, progress=advance)
    finally:
        target.close()
    c.emit({"count": result.count, "sha256": result.sha256, "deleted": result.deleted,
            "source": c.store.display_url, "target": redact_url(to)},
           f"-----> Migrated {result.count} properties to {redact_url(to)}; verified count and sha256 "
           f"{result.sha256}" + (f"; deleted {result.deleted} extra" if result.deleted else ""))


#: a temp file younger than this may belong to a write in progress on another process
LEFTOVER_AGE = 60.0


@click.command("props:check")
@click.option("--repair", is_flag=True, help="Remove what is reported: leftover temp files and invalid names.")
@pass_cli
def check(c: CliContext, repair: bool) -> None:
    """Check the store (fsck): temp files left by interrupted writes, and properties whose
    names are not valid. Exit 1 when something is found and not repaired."""
    from dockyard.core.names import validate_scope

    leftovers = c.store.leftovers(LEFTOVER_AGE)
    invalid: list[tuple[str, str, str]] = []
    reasons: list[str] = []
    for prop in c.store.iter_properties():
        try:
            validate_component("plugin", prop.plugin)
            validate_scope(prop.scope)
            validate_component("key", prop.key)
        except ValidationError as exc:
            invalid.append((prop.plugin, prop.scope, prop.key))
            reasons.append(str(exc))
    busy = False
    if repair:
        try:
            removed = c.store.remove_leftovers(LEFTOVER_AGE)
        except LockHeld as exc:  # a live import's temp files are not leftovers
            c.warn(str(exc))
            removed, busy = 0, True
        c.store.remove_unchecked(invalid)
    found = bool(leftovers or invalid)
    if c.json:
        c.emit({"leftovers": leftovers, "invalid": [{"plugin": p, "scope": s, "key": k, "reason": r}
                                                    for (p, s, k), r in zip(invalid, reasons, strict=True)],
                "repaired": repair and found})
    else:
        lines = [f"leftover temp file: {path}" for path in leftovers]
        lines += [f"invalid name {p}/{s}/{k}: {r}" for (p, s, k), r in zip(invalid, reasons, strict=True)]
        if repair and found:
            lines.append(f"-----> Repaired: removed {removed} temp file(s) and {len(invalid)} invalid propert(ies)")
        elif not found:
            lines.append("-----> The store is clean")
        click.echo("\n".join(lines))
    if (found and not repair) or busy:
        raise SystemExit(1)
