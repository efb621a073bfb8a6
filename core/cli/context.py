"""What every command shares: settings, the store (opened lazily), output and prompts."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from dockyard.core.errors import DockyardError

if TYPE_CHECKING:
    from dockyard.core.models import DeployPlan
    from dockyard.core.settings import Settings
    from dockyard.propstores.base import PropertyStore
    from dockyard.proxy.base import Proxy
    from dockyard.schedulers.base import Scheduler

GLOBAL_OPTIONS = {"--propstore", "--scheduler", "--format"}
GLOBAL_FLAGS = {"--force", "--debug", "--quiet"}

log = logging.getLogger("dockyard")


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = {"WARNING": " !     ", "ERROR": " !     "}.get(record.levelname, "-----> ")
        return prefix + record.getMessage()


class CliContext:
    def __init__(self, propstore: str | None, scheduler: str | None, fmt: str, force: bool,
                 debug: bool, quiet: bool = False) -> None:
        self.propstore_flag = propstore
        self.scheduler_flag = scheduler
        self.fmt = fmt
        self.force = force
        self.debug = debug
        self.quiet = quiet
        self._settings: Settings | None = None
        self._store: PropertyStore | None = None
        self._schedulers: dict[str, Scheduler] = {}
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Formatter())
        root = logging.getLogger("dockyard")
        root.handlers[:] = [handler]
        root.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
        root.propagate = False

    # ---- backends ----------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from dockyard.core.settings import resolve

            self._settings = resolve(self.propstore_flag, self.scheduler_flag)
        return self._settings

    @property
    def store(self) -> PropertyStore:
        if self._store is None:
            from dockyard.core import open_propstore

            self._store = open_propstore(self.settings.propstore)
        return self._store

    def scheduler_name(self, app: str | None) -> str:
        from dockyard.core.properties import selected_scheduler

        return selected_scheduler(self.store, app, self.settings.scheduler_default)

    def scheduler_for(self, app: str | None) -> Scheduler:
        """The scheduler selected for ``app`` (app, then global, then the flag/env default)."""
        return self.scheduler(self.scheduler_name(app))

    def scheduler(self, name: str) -> Scheduler:
        if name not in self._schedulers:
            from dockyard.core import load_scheduler

            self._schedulers[name] = load_scheduler(name, self.store)
        return self._schedulers[name]

    # ---- for command plug-ins ------------------------------------------------------
    # A driver's commands (``dockyard.commands`` entry points) may import nothing of core's
    # orchestration but this module (an import rule CI checks), so the few core services
    # they need are methods here: the driver keeps its commands, core keeps the steps.
    def require_app(self, app: str) -> str:
        """``app``, or NotFound (Dokku's ``App APP does not exist``)."""
        from dockyard.core.properties import require_app

        return require_app(self.store, app)

    def proxy_type(self, app: str, configured: bool = False) -> str:
        """The proxy that routes ``app`` (``null`` while ``proxy:disable``d), or with
        ``configured`` the type set for it whether or not it is disabled."""
        from dockyard.core.routing import configured_type, proxy_type

        return (configured_type if configured else proxy_type)(self.store, app)

    def render_plan(self, app: str, image: str | None, scheduler: Scheduler) -> DeployPlan:
        """The plan a deploy of ``app`` would use (with ``image``, read through ``scheduler``;
        default the current release), for a driver's render command."""
        from dockyard.core.deploy import plan_for_render

        return plan_for_render(self.store, app, image, scheduler)

    def load_proxy(self, name: str, store: PropertyStore | None = None) -> Proxy:
        """The proxy driver ``name`` on ``store`` (default: the command's store)."""
        from dockyard.core import load_proxy

        return load_proxy(name, store if store is not None else self.store)

    def routed(self, scope: str, change: Callable[[PropertyStore], Any]) -> Any:
        """Validate, then store: ``change`` runs on a view of the store, the proxy config of
        ``scope`` (every deployed app for ``--global``) is built from that view and applied,
        and only then is the change kept; a config the proxy rejects keeps nothing."""
        from dockyard.core.routing import apply_routed

        return apply_routed(self.store, self.scheduler_for, scope, change)

    def rebuild_routed_by(self, proxy: str) -> list[str]:
        """Rebuild the config of every deployed app that ``proxy`` routes (one validation,
        one reload); the apps whose config it rejected."""
        from dockyard.core.plan import is_deployed
        from dockyard.core.properties import list_apps
        from dockyard.core.routing import proxy_type, rebuild_many

        apps = [a for a in list_apps(self.store) if is_deployed(self.store, a) and proxy_type(self.store, a) == proxy]
        results = rebuild_many(self.store, apps, self.scheduler_for, force=False) if apps else []
        return [r.app for r in results if not r.ok]

    def show_report(self, topic: str, args: tuple[str, ...], rows_for: Callable[[str], Mapping[str, Any]],
                    global_rows: Callable[[], Mapping[str, Any]] | None = None) -> None:
        """A plug-in's ``TOPIC:report [APP] [--global] [--INFO-FLAG]`` (``args`` as given),
        behaving as every core report does: an info flag prints one bare value, no APP
        reports every app, JSON carries the prefixed and the stripped keys."""
        from dockyard.core.cli._props import parse_report_args, show_report

        app, is_global, flag = parse_report_args(args)
        show_report(self, topic, topic, app, is_global, flag, rows_for, global_rows)

    def close(self) -> None:
        for sched in self._schedulers.values():
            sched.close()
        if self._store is not None:
            self._store.close()

    # ---- output ------------------------------------------------------------------
    @property
    def json(self) -> bool:
        return self.fmt == "json"

    def emit(self, data: Any, text: Callable[[Any], str] | str | None = None) -> None:
        """Print ``data`` as JSON under --format json, else as ``text`` (or a default rendering)."""
        if self.json:
            import json

            click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
            return
        if callable(text):
            out = text(data)
        elif text is not None:
            out = text
        else:
            out = render_text(data)
        if out:
            click.echo(out)

    def report(self, title: str, rows: Mapping[str, Any]) -> None:
        """Dokku-style report: a header and aligned ``key: value`` rows."""
        if self.json:
            self.emit(dict(rows))
            return
        width = max((len(k) for k in rows), default=0)
        if not self.quiet:  # Dokku's --quiet drops the header and keeps the rows
            click.echo(f"=====> {title}")
        for key, value in rows.items():
            click.echo(f"       {key + ':':<{width + 1}} {value}")

    def info(self, message: str) -> None:
        """A Dokku ``-----> `` line on stdout, which ``--quiet`` silences as Dokku's does."""
        if not self.quiet:
            click.echo(f"-----> {message}")

    def info2(self, message: str) -> None:
        """A Dokku ``=====> `` line (its ``LogInfo2Quiet``) on stdout, silenced by ``--quiet``."""
        if not self.quiet:
            click.echo(f"=====> {message}")

    def warn(self, message: str) -> None:
        """A `` !     `` warning on stderr (kept under --quiet)."""
        log.warning("%s", message)

    def confirm(self, what: str, name: str) -> None:
        """Ask on a terminal; without one, require --force. Never block on a prompt."""
        if self.force:
            return
        if not sys.stdin.isatty():
            raise DockyardError(f"refusing to {what} without a terminal: pass --force")
        answer = click.prompt(f" !     This will {what}. To proceed, type \"{name}\"", default="",
                              show_default=False)
        if answer.strip() != name:
            raise DockyardError("confirmation did not match; nothing was changed")

    @contextmanager
    def progress(self, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """A progress bar on a terminal; silent otherwise. Yields an ``advance(n)`` callable."""
        if sys.stderr.isatty() and not self.json:
            with click.progressbar(length=total or 0, label=label, file=sys.stderr) as bar:
                yield bar.update
        else:
            yield lambda n: None

    @contextmanager
    def timed(self, what: str) -> Iterator[None]:
        """Log what happened and how long it took."""
        start = time.perf_counter()
        yield
        log.info("%s (%.2fs)", what, time.perf_counter() - start)


def render_text(data: Any) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, Mapping):
        return "\n".join(f"{k}: {v}" for k, v in data.items())
    if isinstance(data, Iterable):
        return "\n".join(str(x) for x in data)
    return str(data)


def split_global(is_global: bool, app: str | None, args: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """``CMD --global X Y`` parses X as the APP argument: with ``--global`` it is the first
    of the arguments instead (Dokku's ``APP|--global`` commands)."""
    if is_global and app is not None:
        return None, (app, *args)
    return app, args


def scope_of(c: CliContext, app: str | None, is_global: bool) -> str:
    """The scope an ``APP|--global`` command acts on; the app must exist."""
    from dockyard.core.names import GLOBAL_SCOPE
    from dockyard.core.properties import require_app

    if is_global:
        return GLOBAL_SCOPE
    if not app:
        raise click.UsageError("specify APP or --global")
    return require_app(c.store, app)


pass_cli = click.make_pass_decorator(CliContext)
