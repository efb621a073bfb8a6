"""The ``dockyard`` command line.

Commands are written Dokku's way (``apps:create``) or as groups (``apps create``). Global
options are accepted before or after the command. Command modules are imported only when
their command runs, so ``--help`` and every other command stay fast.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Sequence
from typing import Any

import click

from dockyard.core.cli.context import GLOBAL_FLAGS, GLOBAL_OPTIONS, CliContext
from dockyard.core.cli.registry import COMMANDS, DEFAULT_SUBCOMMAND, OWN_FORMAT, PASSTHROUGH
from dockyard.core.errors import DockyardError, Interrupted


def _all_commands() -> dict[str, tuple[str, str]]:
    from dockyard.core.plugins import COMMANDS as GROUP
    from dockyard.core.plugins import entry_points

    table = dict(COMMANDS)
    for name, target in entry_points(GROUP).items():
        table.setdefault(name, (target, ""))  # help: the command's own, read when listed
    return table


def _help_line(target: str, help_: str) -> str:
    """A command's one-line help: the table's, or a plug-in command's own (its ``short_help``
    or docstring), which means importing it, so only listings ask."""
    if help_:
        return help_
    try:
        return _import(target).get_short_help_str(limit=80)
    except Exception as exc:  # a broken plug-in is listed with its reason, never hides the rest
        return f"(cannot load {target}: {exc})"


def _topic_description(topic: str, table: dict[str, tuple[str, str]]) -> str:
    """Dokku's description of a plugin, or a plug-in topic's ``TOPIC_HELP`` (set beside its
    commands, e.g. the nginx driver's ``Manage the nginx proxy``)."""
    if topic in TOPIC_HELP:
        return TOPIC_HELP[topic]
    for name, (target, _) in sorted(table.items()):
        if name.startswith(f"{topic}:") and name not in COMMANDS:
            try:
                text = getattr(importlib.import_module(target.partition(":")[0]), "TOPIC_HELP", None)
            except Exception:
                continue
            if isinstance(text, str) and text:
                return text
    return f"{topic} commands"


def _import(target: str) -> click.Command:
    module, _, attr = target.partition(":")
    cmd = getattr(importlib.import_module(module), attr)
    if not isinstance(cmd, click.Command):
        raise TypeError(f"{target} is not a click command")
    return cmd


class _Group(click.Group):
    """One topic (``apps``) whose subcommands come from the table."""

    def __init__(self, topic: str, table: dict[str, tuple[str, str]]) -> None:
        super().__init__(name=topic, help=f"{topic} commands (also written {topic}:COMMAND)")
        self._table = {k.split(":", 1)[1]: v for k, v in table.items() if k.startswith(f"{topic}:")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._table)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = self._table.get(name)
        return _import(entry[0]) if entry else None

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """A topic with a default (Dokku's bare ``config APP`` is ``config:show APP``) runs it
        when the first word is no subcommand of the topic."""
        default = DEFAULT_SUBCOMMAND.get(self.name or "")
        if default and args and args[0] not in self._table:
            return default, _import(self._table[default][0]), args
        if args and args[0] not in self._table and not args[0].startswith("-"):
            raise NotACommand([f"{self.name}:{args[0]}", *args[1:]])
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """A bare topic is Dokku's: ``apps`` lists the apps (``apps:list``), ``config APP``
        is ``config:show APP``, and any other topic prints its ``TOPIC:help``."""
        default = DEFAULT_SUBCOMMAND.get(self.name or "")
        if default and args and args[0].startswith("-") and args[0] not in ("-h", "--help"):
            args = [default, *args]  # Dokku's ``config --global``, ``config --merged APP``
        if not args:
            bare = BARE_TOPIC.get(self.name or "")
            if bare:
                args = [bare]
            else:
                _topic_help(self.name or "", _all_commands()).main(args=[], standalone_mode=False)
                ctx.exit(0)
        return super().parse_args(ctx, args)


class NotACommand(click.ClickException):
    """Dokku's answer to a command no plugin implements: two warnings, exit 1. Only the
    command word is named (Dokku repeats every argument; a mistyped ``config:sett APP
    KEY=secret`` would print the secret)."""

    exit_code = 1

    def __init__(self, words: Sequence[str]) -> None:
        super().__init__(words[0] if words else "")

    def show(self, file: Any = None) -> None:
        click.echo(f" !     `{self.message}` is not a dockyard command.", err=True)
        click.echo(" !     See `dockyard help` for a list of available commands.", err=True)


#: Dokku's bare topics that run a command rather than print the topic's help
BARE_TOPIC = {"apps": "list"}


#: the one-line descriptions Dokku's ``PLUGIN:help`` prints for the plugins Dockyard covers
TOPIC_HELP = {
    "apps": "Manage apps",
    "certs": "Manage SSL (TLS) certs",
    "checks": "Manage zero-downtime settings",
    "config": "Manage global and app-specific config vars",
    "dokku": "Import a Dokku server's apps and settings",
    "domains": "Manage domains used by the proxy",
    "events": "Follow scheduler events and keep routing right",
    "git": "Manage app deploys via git",
    "letsencrypt": "Automated installation of Let's Encrypt (ACME) TLS certificates",
    "network": "Manage network settings for an app",
    "ports": "Manage ports for an app",
    "proxy": "Manage the proxy integration for an app",
    "ps": "Manage app processes",
    "releases": "Manage an app's releases",
    "scheduler": "Manage scheduler settings for an app",
    "scheduler-docker-local": "Manage the docker-local scheduler integration for an app",
    "plugins": "List installed drivers",
    "props": "Manage the property store",
}


def _topic_help(topic: str, table: dict[str, tuple[str, str]]) -> click.Command:
    """Dokku's ``PLUGIN:help`` shape: usage, the plugin's description, its commands."""
    @click.command(f"{topic}:help")
    def show() -> None:
        rows = sorted((name, _help_line(target, help_)) for name, (target, help_) in table.items()
                      if name.startswith(f"{topic}:"))
        width = max(len(name) for name, _ in rows)
        click.echo(f"Usage: dockyard {topic}[:COMMAND]\n")
        click.echo(f"{_topic_description(topic, table)}\n")
        click.echo("Additional commands:")
        for name, help_ in rows:
            click.echo(f"    {name.ljust(width)}    {help_}")

    return show


def _topics(table: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """Dokku's ``help`` rows: each plugin (topic) with its description, and each command
    that has no topic (``cleanup``, ``url``…) with its own help line."""
    rows = {name.partition(":")[0]: "" for name in table if ":" in name}
    for name in rows:
        rows[name] = _topic_description(name, table)
    for name, (target, help_) in table.items():
        if ":" not in name:
            rows[name] = _help_line(target, help_)
    rows["help"] = "Print the list of commands"
    return sorted(rows.items())


@click.command("help")
@click.option("--all", "all_commands", is_flag=True, help="Every command, not only the topics.")
def help_command(all_commands: bool) -> None:
    """Dokku's ``help``: the topics (``help --all``: every command), each with one line."""
    table = _all_commands()
    if all_commands:
        rows = [(name, _help_line(target, help_)) for name, (target, help_) in sorted(table.items())]
        rows = sorted([*rows, ("help", "Print the list of commands")])
    else:
        rows = _topics(table)
    width = max(len(name) for name, _ in rows)
    click.echo("Usage: dockyard [--quiet|--force|--format json] COMMAND <app> [command-specific-options]\n")
    click.echo('Primary help options, type "dockyard COMMAND:help" for more details, '
               "or dockyard help --all to see all commands.\n")
    click.echo("Commands:\n")
    for name, line in rows:
        click.echo(f"    {name.ljust(width)}  {line}")


class DockyardCLI(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_all_commands())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:  # built-in: no need to read plugin metadata
            return _import(COMMANDS[name][0])
        if name == "help":
            return help_command
        table = _all_commands()
        if name in table:
            return _import(table[name][0])
        topic, _, sub = name.partition(":")
        if sub == "help" and any(k.startswith(f"{topic}:") for k in table):
            return _topic_help(topic, table)
        if any(k.startswith(f"{name}:") for k in table):
            return _Group(name, table)
        return None

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """An unknown command is answered as Dokku answers it (exit 1), not with click's usage;
        a bad option of a known command is still click's."""
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            raise NotACommand(args)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _help_line(target, help_)) for name, (target, help_) in sorted(_all_commands().items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version`` / ``-v`` print what ``version`` prints, as Dokku's ``dokku -v`` does."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version as dist_version

    click.echo(f"dockyard version {dist_version('dockyard')}")
    ctx.exit(0)


@click.command(cls=DockyardCLI, invoke_without_command=True,
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--propstore", metavar="URL", help="Property store URL (file://, redis://, etcd://).")
@click.option("--scheduler", metavar="NAME", help="Default scheduler for apps that have none selected.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("--quiet", is_flag=True, help="Only warnings and errors on stderr (Dokku's --quiet).")
@click.option("-v", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Print the version and exit (as `version`).")
@click.pass_context
def cli(ctx: click.Context, propstore: str | None, scheduler: str | None, fmt: str, force: bool,
        debug: bool, quiet: bool) -> None:
    """Dockyard: Dokku's workflow on pluggable property stores, schedulers and proxies."""
    ctx.obj = CliContext(propstore=propstore, scheduler=scheduler, fmt=fmt, force=force, debug=debug,
                         quiet=quiet)
    ctx.call_on_close(ctx.obj.close)
    if ctx.invoked_subcommand is None:  # bare ``dockyard`` is ``dockyard help``, as Dokku's
        ctx.invoke(help_command)


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """Move global options found after the command to the front, where click expects them.

    Stops at ``--`` and, for commands like ``run`` whose trailing words belong to the
    user's program, right after the command's own first argument.
    """
    front: list[str] = []
    rest: list[str] = []
    args = list(argv)
    i = 0
    command_seen = False
    positional_after_command = 0
    passthrough = False
    command = ""
    while i < len(args):
        tok = args[i]
        if tok == "--" or (passthrough and positional_after_command >= 1):
            rest.extend(args[i:])
            break
        name, eq, _ = tok.partition("=")
        if name == "--format" and command in OWN_FORMAT:  # config:export --format shell is its own
            rest.append(tok)
        elif name in GLOBAL_OPTIONS:
            if eq:
                front.append(tok)
            elif i + 1 < len(args):
                front.extend([tok, args[i + 1]])
                i += 1
            else:
                rest.append(tok)
        elif tok in GLOBAL_FLAGS:
            front.append(tok)
        else:
            if not tok.startswith("-"):
                if command_seen:
                    if ":" not in command and positional_after_command == 0:
                        command = f"{command}:{tok}"  # the group form: config export
                    positional_after_command += 1
                else:
                    command_seen = True
                    command = tok
                    passthrough = tok in PASSTHROUGH
            rest.append(tok)
        i += 1
    return front + rest


def apply_app_flag(argv: Sequence[str]) -> list[str]:
    """Dokku's ``--app APP`` (anywhere before ``--``): APP becomes the command's first argument.

    ``dokku --app shop config:set A=b`` is ``config:set shop A=b``; the command is the first
    word that is neither a global option nor its value.
    """
    args = list(argv)
    end = args.index("--") if "--" in args else len(args)
    app: str | None = None
    for i, tok in enumerate(args[:end]):
        if tok == "--app" and i + 1 < end:
            app = args[i + 1]
            del args[i:i + 2]
            break
        if tok.startswith("--app="):
            app = tok.split("=", 1)[1]
            del args[i]
            break
    if app is None:
        return args
    i = 0
    while i < len(args):
        tok = args[i]
        if tok.partition("=")[0] in GLOBAL_OPTIONS and "=" not in tok:
            i += 2
        elif tok.startswith("-"):
            i += 1
        else:
            args.insert(i + 1, app)
            return args
    raise click.UsageError("--app needs a command")


_OPTION_LIKE = re.compile(r"^--?[A-Za-z0-9][A-Za-z0-9_-]{0,40}$")


def _without_values(exc: click.ClickException) -> click.ClickException:
    """A value that begins with ``-`` (a PEM key, a negative number, ``-x`` in a command) is
    taken by the parser for an option; its usage error would print the value, which may be
    a secret. Name the problem instead, never the value."""
    if isinstance(exc, click.NoSuchOption) and not _OPTION_LIKE.match(exc.option_name):
        return click.UsageError("an argument that begins with '-' is not an option of this command "
                                "(its value is not shown); put the values after `--`", exc.ctx)
    return exc


def main(argv: Sequence[str] | None = None) -> None:
    try:
        args = hoist_global_options(apply_app_flag(sys.argv[1:] if argv is None else argv))
    except click.UsageError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    debug = "--debug" in args[: len(args)]
    try:
        rc = cli.main(args=args, prog_name="dockyard", standalone_mode=False)
        if isinstance(rc, int) and rc:  # a command's ctx.exit(code) is returned, not raised
            sys.exit(rc)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        shown = _without_values(exc)
        shown.show()
        sys.exit(shown.exit_code)
    except DockyardError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Interrupted as exc:  # a deploy that cleaned up after itself: 130 (SIGINT), 143 (SIGTERM)
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        needs = _missing_extra(exc)
        if needs is not None:  # a driver's optional library, imported when first used
            click.echo(f"error: {needs}", err=True)
            sys.exit(needs.exit_code)
        click.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(1)


def _missing_extra(exc: Exception) -> DockyardError | None:
    if not isinstance(exc, ImportError):
        return None
    from dockyard.core.plugins import missing_extra

    return missing_extra(exc)


def run_cli(argv: Sequence[str]) -> Any:
    """Entry for tests: same parsing and error handling as the console script."""
    return main(argv)
