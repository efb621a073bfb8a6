"""deploy, git:from-image, run and logs: the commands that put an app's code to work."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import click

from dockyard.core.cli.context import CliContext, pass_cli
from dockyard.core.errors import ValidationError
from dockyard.core.models import Instance

log = logging.getLogger("dockyard.deploy")


def progress_logger(c: CliContext) -> Callable[[str, int, int], None]:
    """Deploy progress as Dokku-style lines on stderr (build output indented)."""

    def report(message: str, done: int, total: int) -> None:
        if c.json:
            return
        if total:
            log.info("%s (%d/%d)", message, done, total)
        elif done:
            click.echo(f"       {message}", err=True)
        else:
            log.info("%s", message)

    return report


def _summary(instances: list[Instance]) -> list[dict[str, object]]:
    return [{"name": i.name, "process_type": i.process_type, "index": i.index, "id": i.id[:12],
             "state": i.state, "release": i.release, "addresses": i.addresses} for i in instances]


def _deploy(c: CliContext, app: str, image: str | None, build_dir: str | None, procfile: str | None) -> None:
    from dockyard.core.apps import deploy_app
    from dockyard.core.interrupts import interruptible

    scheduler = c.scheduler_for(app)
    # SIGINT/SIGTERM raise Interrupted, which the rollout's failure path cleans up after
    with interruptible(), c.timed(f"Deployed {app} on {scheduler.name}"):
        instances = deploy_app(c.store, scheduler, app, image=image, build_dir=build_dir, procfile=procfile,
                               progress=progress_logger(c))
    c.emit(_summary(instances), lambda rows: "\n".join(
        f"       {r['name']:<30} {r['state']:<10} {r['id']} {' '.join(f'{k}={v}' for k, v in r['addresses'].items())}"
        for r in rows))


@click.command("deploy")
@click.argument("app")
@click.option("--image", metavar="IMAGE", help="Deploy an existing image.")
@click.option("--build", "build_dir", metavar="DIR", help="Build DIR's Dockerfile and deploy the result.")
@click.option("--procfile", metavar="PATH", help="Use this Procfile instead of the image's.")
@pass_cli
def deploy(c: CliContext, app: str, image: str | None, build_dir: str | None, procfile: str | None) -> None:
    """Deploy APP from --image IMAGE or --build DIR."""
    if (image is None) == (build_dir is None):
        raise click.UsageError("pass exactly one of --image IMAGE or --build DIR")
    _deploy(c, app, image, build_dir, procfile)


@click.command("git:from-image")
@click.argument("app")
@click.argument("image")
@click.option("--procfile", metavar="PATH", help="Use this Procfile instead of the image's.")
@pass_cli
def from_image(c: CliContext, app: str, image: str, procfile: str | None) -> None:
    """Deploy APP from an existing IMAGE (Dokku's git:from-image)."""
    _deploy(c, app, image, None, procfile)


@click.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE", help="Extra environment (before APP).")
@click.argument("app")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_cli
def run(c: CliContext, env: tuple[str, ...], app: str, command: tuple[str, ...]) -> None:
    """Run COMMAND in a one-off container of APP; its exit code is ours."""
    from dockyard.core.apps import run_app

    extra: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"invalid --env {item!r}: expected KEY=VALUE")
        extra[key] = value
    # a terminal on both ends gets a tty in the container, as `dokku run` does
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    code = run_app(c.store, c.scheduler_for(app), app, list(command), env=extra, tty=tty)
    if code:
        # SystemExit, not click's Exit: in non-standalone mode click returns Exit's code
        # instead of raising it, and the exit code must reach the shell
        sys.exit(code)


@click.command("logs")
@click.argument("app")
@click.option("-p", "--ps", "process_type", metavar="PROC", help="Only this process type.")
@click.option("-t", "--tail", "follow", is_flag=True, help="Follow the logs.")
@click.option("-n", "--num", "num", type=int, default=100, show_default=True, help="Lines per container.")
@pass_cli
def logs(c: CliContext, app: str, process_type: str | None, follow: bool, num: int) -> None:
    """Show APP's logs, prefixed APP[PROC.N]."""
    from dockyard.core.properties import require_app

    require_app(c.store, app)
    if num < 0:
        raise ValidationError("--num must not be negative")
    for line in c.scheduler_for(app).logs(app, process_type=process_type, follow=follow, tail=num or None):
        click.echo(line)
