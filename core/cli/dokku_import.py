"""dokku:import: move a Dokku server's apps and settings into the configured store.

Reads ``--dokku-root`` (``/home/dokku``) and ``--dokku-lib`` (``/var/lib/dokku``), builds
the whole plan first (``dockyard.core.dokku.convert``), then writes each app in one store
batch. ``--dry-run`` prints the plan with secrets masked and writes nothing; a second
import of an unchanged server finds nothing to change.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import DockyardError

log = logging.getLogger("dockyard.dokku")


def _describe(value: object) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value) if len(value) < 8 else f"{len(value)} items"
    text = str(value)
    return text if len(text) <= 120 and "\n" not in text else f"{text[:60]!r}… ({len(text)} chars)"


def _refuse_own_tree(url: str, dokku_root: Path, dokku_lib: Path) -> None:
    """A file store rooted in Dokku's own tree would mix Dockyard's properties into Dokku's."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "file":
        return
    target = Path(parts.path).resolve()
    for source in (dokku_root, dokku_lib):
        if target == source.resolve() or source.resolve() in target.parents:
            raise DockyardError(f"the store ({url}) is inside Dokku's own tree {source}; import into another "
                                "store (--propstore file:///var/lib/dockyard, redis://…, etcd://…)")


@click.command("dokku:import")
@click.option("--dokku-root", default="/home/dokku", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Dokku's DOKKU_ROOT.")
@click.option("--dokku-lib", default="/var/lib/dokku", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Dokku's DOKKU_LIB_ROOT.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@click.option("--skip-images", is_flag=True,
              help="Do not look at the apps' images on the local docker engine (presence, nginx.conf.sigil).")
@click.argument("apps", nargs=-1)
@pass_cli
def import_(c: CliContext, dokku_root: Path, dokku_lib: Path, dry_run: bool, skip_images: bool,
            apps: tuple[str, ...]) -> None:
    """Import a Dokku server (every app, or only APPS) into the configured store."""
    from dockyard.core.dokku.convert import ScopePlan, plan_import, shown, template_todo
    from dockyard.core.dokku.tree import read_server

    start = time.perf_counter()
    _refuse_own_tree(c.store.url, dokku_root, dokku_lib)
    server = read_server(dokku_root, dokku_lib)
    missing = sorted(set(apps) - set(server.apps))
    if missing:
        raise DockyardError(f"no Dokku app {', '.join(missing)} under {dokku_root}")
    if not skip_images:
        from dockyard.core.dokku.images import check_images

        # the default scheduler reads the images (docker-local unless configured otherwise)
        problem = check_images((a for a in server.apps.values() if not apps or a.name in apps),
                               c.scheduler(c.settings.scheduler_default))
        if problem:
            log.warning("%s", problem)
    plans = plan_import(c.store, server, set(apps) if apps else None)
    written = 0
    done: list[ScopePlan] = []
    for plan in plans:
        label = "global settings" if plan.name == "--global" else plan.name
        if plan.error:
            click.echo(f" !     {label}: not imported: {plan.error}", err=True)
            continue
        verb = "would write" if dry_run else "writing"
        if not plan.changes:
            log.info("%s (%s layout): nothing to change", label, plan.layout)
        else:
            log.info("%s (%s layout): %s %d properties (%d unchanged)", label, plan.layout, verb,
                     len(plan.changes), plan.unchanged)
        for note in plan.notes:
            log.info("%s: %s", label, note)
        for warning in plan.warnings:
            log.warning("%s: %s", label, warning)
        for path in plan.templates:
            log.warning("%s: %s: %s", label, path, template_todo(plan.name, path))
        if plan.changes:
            if dry_run and not c.json:
                for op in plan.changes:
                    click.echo(f"       {op.plugin}/{op.scope}/{op.key} = {_describe(shown(op))}")
            if not dry_run:
                c.store.apply(plan.changes)  # one batch per app: never half an app
            written += len(plan.changes)
        done.append(plan)
    refused = [p for p in plans if p.error]
    elapsed = time.perf_counter() - start
    app_plans = [p for p in plans if p.name != "--global"]
    counts = {
        "apps": len(app_plans),
        "created": sum(1 for p in app_plans if p.status == "create"),
        "updated": sum(1 for p in app_plans if p.status == "update"),
        "unchanged": sum(1 for p in app_plans if p.status == "unchanged"),
        "refused": len(refused),
        "properties": written,
        "kept": sum(len(p.kept) for p in done),
        "templates": sum(len(p.templates) for p in done),
        "elapsed_seconds": round(elapsed, 3),
    }
    if c.json:
        c.emit({"dry_run": dry_run, "source": {"dokku_root": str(dokku_root), "dokku_lib": str(dokku_lib)},
                "summary": counts, "plan": [p.as_json() for p in plans],
                "orphans": server.orphans})
    else:
        if server.orphans:
            log.warning("%d properties belong to no app (left by a destroyed app) and were not imported",
                        len(server.orphans))
        what = "would write" if dry_run else "wrote"
        head = "nothing to change" if written == 0 else f"{what} {written} properties"
        click.echo(
            f"=====> dokku:import: {head}; {counts['apps']} apps: {counts['created']} new, "
            f"{counts['updated']} updated, {counts['unchanged']} unchanged, {counts['refused']} refused; "
            f"{counts['kept']} kept for plugins Dockyard does not use, {counts['templates']} templates to port "
            f"({elapsed:.2f}s)")
    if refused:
        names = ", ".join("global settings" if p.name == "--global" else p.name for p in refused)
        raise DockyardError(f"not imported: {names} (see the lines above)")
