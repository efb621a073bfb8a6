"""config:* commands: the app's environment, kept under the plugin ``config``.

Each variable is one property (``config/<app>/<KEY>``), so the environment is exported,
backed up and migrated with everything else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import click

from dockyard.core.cli.context import CliContext, pass_cli, scope_of
from dockyard.core.errors import ValidationError
from dockyard.core.names import GLOBAL_SCOPE, validate_single_value
from dockyard.core.properties import require_app
from dockyard.propstores.base import Delete, Put

PLUGIN = "config"
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _key(key: str) -> str:
    if not _KEY_RE.match(key):
        raise ValidationError(f"invalid environment variable name {key!r}")
    return key


@click.command("config:set")
@click.option("--global", "is_global", is_flag=True, help="Set for every app.")
@click.option("--no-restart", is_flag=True, help="Do not redeploy the app with its new environment.")
@click.option("--encoded", is_flag=True, help="Values are base64-encoded (decoded before storing).")
@click.argument("args", nargs=-1, required=True)
@pass_cli
def set_(c: CliContext, is_global: bool, no_restart: bool, encoded: bool, args: tuple[str, ...]) -> None:
    """Set KEY=VALUE pairs on APP (or --global)."""
    app = None if is_global else args[0]
    pairs = args if is_global else args[1:]
    scope = scope_of(c, app, is_global)
    if not pairs:
        raise click.UsageError("give at least one KEY=VALUE")
    ops: list[Put | Delete] = []
    for pair in pairs:
        if "=" not in pair:
            raise ValidationError(f"expected KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        if encoded:
            value = _decode(key, value)
        validate_single_value(_key(key), value)
        ops.append(Put(PLUGIN, scope, _key(key), value) if value else Delete(PLUGIN, scope, _key(key)))
    c.store.apply(ops)
    c.emit({"set": [p.split("=", 1)[0] for p in pairs]},
           "-----> Setting config vars\n" + "\n".join(f"       {p.split('=', 1)[0]}" for p in pairs))
    if not no_restart:
        _apply_env(c, scope, _describe("Set", [p.split("=", 1)[0] for p in pairs]))


@click.command("config:get")
@click.option("--global", "is_global", is_flag=True)
@click.option("--quoted", is_flag=True, help="Print the value single-quoted for a shell.")
@click.argument("args", nargs=-1, required=True)
@pass_cli
def get(c: CliContext, is_global: bool, quoted: bool, args: tuple[str, ...]) -> None:
    """Print the value of KEY for APP (or --global); exit 1, silently, if unset (as Dokku)."""
    if is_global:
        scope, key = GLOBAL_SCOPE, args[0]
    elif len(args) == 2:
        scope, key = args[0], args[1]
    else:
        raise click.UsageError("usage: config:get APP KEY")
    if scope != GLOBAL_SCOPE:
        require_app(c.store, scope)
    value = c.store.get(PLUGIN, scope, _key(key))
    if value is None:  # Dokku exits 1 and prints nothing, so `$(config:get …)` stays empty
        raise click.exceptions.Exit(1)
    c.emit({key: value}, f"'{_sq(value)}'" if quoted else value)


@click.command("config:unset")
@click.option("--global", "is_global", is_flag=True)
@click.option("--no-restart", is_flag=True, help="Do not redeploy the app with its new environment.")
@click.argument("args", nargs=-1, required=True)
@pass_cli
def unset(c: CliContext, is_global: bool, no_restart: bool, args: tuple[str, ...]) -> None:
    """Unset KEYs on APP (or --global)."""
    app = None if is_global else args[0]
    keys = args if is_global else args[1:]
    scope = scope_of(c, app, is_global)
    c.store.apply([Delete(PLUGIN, scope, _key(k)) for k in keys])
    c.emit({"unset": list(keys)}, "-----> Unsetting " + ", ".join(keys))
    if not no_restart:
        _apply_env(c, scope, _describe("Unset", keys))


def _decode(key: str, value: str) -> str:
    import base64
    import binascii

    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValidationError(f"value of {key} is not base64-encoded UTF-8 text") from None


def _sq(value: str) -> str:
    """Dokku's single-quote escape: ``it's`` -> ``it'\\''s``."""
    return value.replace("'", "'\\''")


def _values(c: CliContext, scope: str) -> dict[str, str]:
    return {k: v for k, v in sorted(c.store.get_all(PLUGIN, scope).items()) if isinstance(v, str)}


def _describe(verb: str, keys: Iterable[str]) -> str:
    """A config change's release description: ``Set KEY1, KEY2`` (names only, never values)."""
    return f"{verb} {', '.join(dict.fromkeys(keys))}"


def _apply_env(c: CliContext, scope: str, description: str) -> None:
    """As Dokku does, a deployed app is redeployed (zero downtime) so its containers get the
    new environment; the redeploy is a new release, recorded with ``description``. Global
    config reaches each app at its next deploy or ps:restart."""
    if scope == GLOBAL_SCOPE:
        return
    from dockyard.core.plan import is_deployed

    if not is_deployed(c.store, scope):
        return
    from dockyard.core.apps import rebuild_app
    from dockyard.core.interrupts import interruptible

    with interruptible(), c.timed(f"Redeployed {scope} with its new environment"):
        rebuild_app(c.store, c.scheduler_for(scope), scope, description=description)


def _merged(c: CliContext, scope: str, merged: bool) -> dict[str, str]:
    """The scope's variables; with ``--merged``, over the global ones (Dokku's ``--merged``)."""
    values = _values(c, scope)
    if merged and scope != GLOBAL_SCOPE:
        values = dict(sorted({**_values(c, GLOBAL_SCOPE), **values}.items()))
    return values


@click.command("config:show")
@click.option("--global", "is_global", is_flag=True)
@click.option("--merged", is_flag=True, help="The app's variables over the global ones.")
@click.option("--shell", is_flag=True, help="Print as shell-quoted KEY=VALUE (Dokku: deprecated).")
@click.option("--export", "exports", is_flag=True, help="Print as eval-able exports (Dokku: deprecated).")
@click.argument("app", required=False)
@pass_cli
def show(c: CliContext, is_global: bool, merged: bool, shell: bool, exports: bool, app: str | None) -> None:
    """Show APP's (or the global) environment."""
    scope = scope_of(c, app, is_global)
    values = _merged(c, scope, merged)
    if exports or shell:  # Dokku's deprecated forms, with its warnings
        if exports and shell:
            raise ValidationError("Only one of --shell and --export can be given")
        c.warn(f"Deprecated: Use 'config:export --format {'exports' if exports else 'shell'}' instead")
        c.emit(values, _formatted(values, "exports" if exports else "shell"))
        return
    header = "" if c.quiet else f"=====> {scope} env vars\n"
    c.emit(values, header + _pretty(values))  # Dokku's columns: KEY: padded, two spaces, value


@click.command("config:keys")
@click.option("--global", "is_global", is_flag=True)
@click.option("--merged", is_flag=True, help="The app's names and the global ones.")
@click.argument("app", required=False)
@pass_cli
def keys(c: CliContext, is_global: bool, merged: bool, app: str | None) -> None:
    """Print APP's (or the global) variable names, one a line."""
    names = list(_merged(c, scope_of(c, app, is_global), merged))
    c.emit(names, "\n".join(names))


EXPORT_FORMATS = ("exports", "envfile", "docker-args", "docker-args-keys", "shell", "pretty", "json", "json-list")


@click.command("config:export")
@click.option("--global", "is_global", is_flag=True)
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="exports",
              help="Dokku's export formats (default: exports).")
@click.option("--merged", is_flag=True, help="The app's variables over the global ones.")
@click.argument("app", required=False)
@pass_cli
def export(c: CliContext, is_global: bool, fmt: str, merged: bool, app: str | None) -> None:
    """Print the environment in one of Dokku's formats, ready for a shell or another tool."""
    text = _formatted(_merged(c, scope_of(c, app, is_global), merged), fmt)
    if text:
        click.echo(text)


def _formatted(values: dict[str, str], fmt: str) -> str:
    """``values`` in one of Dokku's ``EXPORT_FORMATS``."""
    import json

    if fmt == "json":
        return json.dumps(values)
    if fmt == "json-list":
        return json.dumps([{"name": k, "value": v} for k, v in values.items()])
    if fmt == "exports":
        return "\n".join(f"export {k}='{_sq(v)}'" for k, v in values.items())
    if fmt == "envfile":
        from dockyard.core.dokku.envfile import marshal

        return marshal(values).rstrip("\n")  # Dokku's own envfile writer (godotenv.Marshal)
    if fmt == "docker-args":
        return " ".join(f"--env={k}='{_sq(v)}'" for k, v in values.items())
    if fmt == "docker-args-keys":
        return " ".join(f"--env={k}" for k in values)
    if fmt == "shell":
        return " ".join(f"{k}='{_sq(v)}'" for k, v in values.items())
    return _pretty(values)


def _pretty(values: dict[str, str]) -> str:
    width = max((len(k) for k in values), default=0)
    return "\n".join(f"{k + ':':<{width + 1}}  {v}" for k, v in values.items())


@click.command("config:clear")
@click.option("--global", "is_global", is_flag=True)
@click.option("--no-restart", is_flag=True, help="Do not redeploy the app with its new environment.")
@click.argument("app", required=False)
@pass_cli
def clear(c: CliContext, is_global: bool, no_restart: bool, app: str | None) -> None:
    """Unset every variable of APP (or --global)."""
    scope = scope_of(c, app, is_global)
    names = list(_values(c, scope))
    c.store.apply([Delete(PLUGIN, scope, k) for k in names])
    c.info("Unsetting config vars")
    if not no_restart and names:
        _apply_env(c, scope, _describe("Unset", names))


@click.command("config:bundle")
@click.option("--global", "is_global", is_flag=True)
@click.option("--merged", is_flag=True, help="The app's variables over the global ones.")
@click.argument("app", required=False)
@pass_cli
def bundle(c: CliContext, is_global: bool, merged: bool, app: str | None) -> None:
    """Write a tar of the environment to stdout: one file per variable, holding its value."""
    import io
    import sys
    import tarfile

    scope = scope_of(c, app, is_global)
    values = _merged(c, scope, merged)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for key, value in values.items():
            data = value.encode()
            info = tarfile.TarInfo(key)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    sys.stdout.buffer.write(buf.getvalue())
    sys.stdout.flush()


@click.command("config:import")
@click.option("--global", "is_global", is_flag=True)
@click.option("--format", "fmt", type=click.Choice(("envfile", "json")), default="envfile")
@click.option("--replace", is_flag=True, help="Unset every variable the input does not set.")
@click.option("--no-restart", is_flag=True, help="Do not redeploy the app with its new environment.")
@click.argument("args", nargs=-1)
@pass_cli
def import_(c: CliContext, is_global: bool, fmt: str, replace: bool, no_restart: bool,
            args: tuple[str, ...]) -> None:
    """Set variables from FILE (or stdin): an envfile (``KEY=value`` lines, ``export`` and
    quotes allowed) or, with --format json, an object of strings. One batch: all or nothing."""
    import json
    import sys

    app = None if is_global else (args[0] if args else None)
    rest = args if is_global else args[1:]
    scope = scope_of(c, app, is_global)
    if len(rest) > 1:
        raise click.UsageError("usage: config:import APP [FILE]")
    text = sys.stdin.read() if not rest or rest[0] == "-" else _read(rest[0])
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"input is not JSON: {exc}") from None
        except RecursionError:
            raise ValidationError("input is not JSON: nested too deeply") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValidationError("JSON input must be an object of string values")
        values = {_key(str(k)): v for k, v in data.items()}
    else:
        from dockyard.core.dokku.envfile import parse_env

        parsed = parse_env(text, "input")
        for warning in parsed.warnings:
            c.warn(warning)
        values = {_key(k): v for k, v in parsed.values.items()}
    for k, v in values.items():
        validate_single_value(k, v)
    ops: list[Put | Delete] = [Put(PLUGIN, scope, k, v) if v else Delete(PLUGIN, scope, k)
                               for k, v in values.items()]
    if replace:
        ops += [Delete(PLUGIN, scope, k) for k in _values(c, scope) if k not in values]
    c.store.apply(ops)
    c.info("Setting config vars")
    for k in values:
        click.echo(f"       {k}")
    if not no_restart:
        _apply_env(c, scope, _describe("Set", values))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None
