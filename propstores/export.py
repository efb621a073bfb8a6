"""The export format (JSON Lines), and import, backup, restore and migrate built on it.

A file is a header line, then one line per property::

    {"format":"dockyard.properties","version":1,"source":URL,"exported_at":ISO,"count":N,"sha256":HEX}
    {"key":"map","list":["http:80:5000"],"plugin":"ports","scope":"web"}
    {"key":"hsts","plugin":"nginx","scope":"web","value":"true"}

Property lines are sorted by (plugin, scope, key), compared as Python strings (code points),
and written as canonical JSON: keys sorted, no spaces, non-ASCII as UTF-8. So two exports of
the same state have byte-identical property lines and the same ``sha256`` (the SHA-256 of
every property line's bytes, each with its ``\\n``), whichever store they came from. The file
is gzip-compressed when its name ends in ``.gz``; ``-`` means stdout or stdin.

Import reads and validates the whole file before it writes anything: header (each field's
type, no key twice), version, count, checksum, a truncated last line, every name (a scope is an
app name or ``--global``), every value (UTF-8 text a store can write, within the store's size
limit), no property and no JSON key twice. A rejected file changes nothing, and ``--dry-run``
refuses it with the same one line, which names the line number and never the value. The file
is streamed, gzip included, and reading stops at a cap on the decompressed size and on one
line's length (``import_limits``), so a small gzip bomb cannot take the memory.
The writes go to ``store.apply_batch`` as one batch: one MULTI/EXEC on redis, every temp file
before the first rename on file, one transaction or a journaled series on etcd (an interrupted
one is finished by ``props:import --resume``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import gzip
import hashlib
import io
import json
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, cast

from dockyard.core.errors import DockyardError, ValidationError
from dockyard.core.names import GLOBAL_SCOPE, validate_list_item, validate_scope, validate_value
from dockyard.propstores.base import (
    Delete,
    Op,
    Property,
    PropertyStore,
    Put,
    Value,
    check_coordinates,
    redact_url,
    size_problem,
)

FORMAT = "dockyard.properties"
VERSION = 1
BACKUP_RE = re.compile(r"^dockyard-(\d{8}T\d{6}Z)(?:-(\d+))?\.jsonl\.gz$")

Progress = Callable[[int], None]
Coords = tuple[str, str, str]


def _no_progress(n: int) -> None:
    return None


# ---- lines -------------------------------------------------------------------------------
#: json's own string encoder for ensure_ascii=False (the C one when available)
_encode_str: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def property_line(prop: Property) -> bytes:
    """The one canonical line (with its ``\\n``) for ``prop``.

    Byte for byte what ``canonical_json`` gives for the object (keys sorted: key, list,
    plugin, scope, value), built directly because export spends most of its time here.
    """
    e = _encode_str
    if prop.items is not None:
        items = ",".join([e(i) for i in prop.items])
        text = f'{{"key":{e(prop.key)},"list":[{items}],"plugin":{e(prop.plugin)},"scope":{e(prop.scope)}}}\n'
    else:
        value = e(prop.value or "")
        text = f'{{"key":{e(prop.key)},"plugin":{e(prop.plugin)},"scope":{e(prop.scope)},"value":{value}}}\n'
    return text.encode("utf-8")


def sort_key(prop: Property) -> Coords:
    return (prop.plugin, prop.scope, prop.key)


def property_lines(props: Iterable[Property], progress: Progress | None = None) -> list[bytes]:
    """Every property's canonical line, sorted by (plugin, scope, key)."""
    advance = progress or _no_progress
    collected: list[Property] = []
    for prop in props:
        collected.append(prop)
        if len(collected) % 1000 == 0:
            advance(1000)
    advance(len(collected) % 1000)
    collected.sort(key=sort_key)
    return [property_line(p) for p in collected]


def digest(lines: Iterable[bytes]) -> tuple[int, str]:
    """(count, hex SHA-256) of property lines."""
    h = hashlib.sha256()
    n = 0
    for line in lines:
        h.update(line)
        n += 1
    return n, h.hexdigest()


def header_line(source: str, count: int, sha256: str, exported_at: str | None = None) -> bytes:
    head = {
        "format": FORMAT,
        "version": VERSION,
        "source": redact_url(source),
        "exported_at": exported_at or _now(),
        "count": count,
        "sha256": sha256,
    }
    return (json.dumps(head, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- export --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportResult:
    count: int
    sha256: str
    path: str


def export_store(store: PropertyStore, dest: str | Path | IO[bytes], progress: Progress | None = None) -> ExportResult:
    """Write every property of ``store`` to ``dest`` (a path, ``-`` for stdout, or a binary file).

    A path is written to a temp file beside it and renamed into place, so a failed export never
    leaves a truncated file under the name asked for. Files are 0600: they hold secrets.
    """
    lines = property_lines(store.iter_properties(), progress)
    count, sha = digest(lines)
    head = header_line(store.url, count, sha)
    if not isinstance(dest, (str, Path)):
        _write_lines(dest, head, lines)
        return ExportResult(count, sha, getattr(dest, "name", "<stream>"))
    if str(dest) == "-":
        out = sys.stdout.buffer
        _write_lines(out, head, lines)
        out.flush()
        return ExportResult(count, sha, "-")
    path = Path(dest)
    _atomic_write(path, head, lines)
    return ExportResult(count, sha, str(path))


class _Writer(Protocol):
    def write(self, data: bytes, /) -> int: ...


def _write_lines(out: _Writer, head: bytes, lines: list[bytes]) -> None:
    out.write(head)
    out.write(b"".join(lines))


def _atomic_write(path: Path, head: bytes, lines: list[bytes]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        raise DockyardError(f"cannot write {path}: directory {path.parent} does not exist") from None
    try:
        with os.fdopen(fd, "wb") as raw:
            if path.name.endswith(".gz"):
                with gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
                    _write_lines(gz, head, lines)
            else:
                _write_lines(raw, head, lines)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ---- reading and validation ------------------------------------------------------------------
@dataclass
class ExportFile:
    """A validated export: its header and its properties, in file order."""

    name: str
    header: dict[str, Any]
    properties: list[Property]
    sha256: str

    @property
    def count(self) -> int:
        return len(self.properties)


#: caps on what an import reads, in bytes: the whole decompressed file and one line of it
MAX_BYTES_ENV = "DOCKYARD_IMPORT_MAX_BYTES"
MAX_LINE_BYTES_ENV = "DOCKYARD_IMPORT_MAX_LINE_BYTES"
DEFAULT_MAX_BYTES = 1 << 30
DEFAULT_MAX_LINE_BYTES = 16 << 20
_HEADER_FIELDS = frozenset({"format", "version", "source", "exported_at", "count", "sha256"})
_LINE_FIELDS = frozenset({"plugin", "scope", "key", "value", "list"})


def import_limits() -> tuple[int, int]:
    """(bytes of decompressed text, bytes of one line) an import reads at most.

    A small gzip file can inflate a thousandfold (1 MiB of zeros is 1 GiB), so reading stops at
    these caps: 1 GiB and 16 MiB unless ``DOCKYARD_IMPORT_MAX_BYTES`` /
    ``DOCKYARD_IMPORT_MAX_LINE_BYTES`` say otherwise.
    """
    return (_limit(MAX_BYTES_ENV, DEFAULT_MAX_BYTES), _limit(MAX_LINE_BYTES_ENV, DEFAULT_MAX_LINE_BYTES))


def _limit(env: str, default: int) -> int:
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValidationError(f"invalid {env} {text!r}: expected a positive number of bytes")
    return value


class _Prefixed(io.RawIOBase):
    """``head`` then the rest of ``rest``: lets the gzip magic be sniffed from any stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[:len(data)] = data
        return len(data)


@contextmanager
def _open_text(src: str | Path | IO[bytes]) -> Iterator[tuple[str, IO[bytes]]]:
    """(name, a stream of the export's decompressed bytes), read as it goes, never whole."""
    owned: IO[bytes] | None = None
    if not isinstance(src, (str, Path)):
        name, raw = getattr(src, "name", "<stream>"), src
    elif str(src) == "-":
        name, raw = "<stdin>", sys.stdin.buffer
    else:
        name = str(src)
        try:
            owned = raw = open(name, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise ValidationError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise ValidationError(f"{name}: is a directory, not an export file") from None
        except OSError as exc:
            raise ValidationError(f"{name}: cannot read: {exc.strerror}") from None
    try:
        head = raw.read(2)
        stream: IO[bytes] = io.BufferedReader(_Prefixed(head, raw), buffer_size=1 << 16)
        if head == b"\x1f\x8b":
            stream = cast(IO[bytes], gzip.GzipFile(filename=name, mode="rb", fileobj=stream))
        elif name.endswith(".gz"):
            raise ValidationError(f"{name}: not a gzip file")
        yield name, stream
    finally:
        if owned is not None:
            owned.close()


def _lines(name: str, stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, line with its ``\\n``) from ``stream``, within ``import_limits()``.

    The last line may lack its ``\\n`` (a truncated file): the caller says so. Past a cap, one
    error line naming the cap and the variable that raises it; nothing has been written then.
    """
    max_bytes, max_line = import_limits()
    total = 0
    number = 0
    while True:
        try:
            raw = stream.readline(max_line + 1)
        except EOFError:
            raise ValidationError(f"{name}: truncated (the gzip stream ends early)") from None
        except (OSError, ValueError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise ValidationError(f"{name}: corrupt gzip data ({exc})") from None
        if not raw:
            return
        number += 1
        total += len(raw)
        if len(raw) > max_line and not raw.endswith(b"\n"):
            raise ValidationError(
                f"{name} line {number}: longer than {max_line} bytes (the limit; set {MAX_LINE_BYTES_ENV} to raise it)"
            )
        if total > max_bytes:
            raise ValidationError(
                f"{name} line {number}: the file passes {max_bytes} bytes once decompressed "
                f"(the limit; set {MAX_BYTES_ENV} to raise it)"
            )
        yield number, raw


def read_export(src: str | Path | IO[bytes]) -> ExportFile:
    """Read and fully validate an export; raise one ValidationError naming the first problem.

    The file is streamed (bounded, see ``import_limits``) and checked in this order: the
    header, a truncated last line, the count, the checksum, then the first bad property line;
    so a corrupt or cut file is reported as such rather than by whatever line broke.
    """
    with _open_text(src) as (name, stream):
        lines = _lines(name, stream)
        first = next(lines, None)
        if first is None:
            raise ValidationError(f"{name}: empty file (no header)")
        if not first[1].endswith(b"\n"):
            raise ValidationError(f"{name}: truncated (the header line has no end)")
        header = _parse_header(name, first[1][:-1])
        h = hashlib.sha256()
        props: list[Property] = []
        seen: set[Coords] = set()
        problem: ValidationError | None = None
        count = 0
        for number, raw in lines:
            if not raw.endswith(b"\n"):
                raise ValidationError(f"{name}: truncated (the last line has no end)")
            h.update(raw)
            count += 1
            if problem is not None:
                continue
            try:
                prop = _parse_line(raw[:-1])
                coords = (prop.plugin, prop.scope, prop.key)
                if coords in seen:
                    raise ValidationError(f"duplicate property {'/'.join(coords)}")
            except ValidationError as exc:
                # reported after the checksum; free the rest
                problem, props, seen = ValidationError(f"{name} line {number}: {exc}"), [], set()
                continue
            seen.add(coords)
            props.append(prop)
    expected, sha = header["count"], header["sha256"]
    if count != expected:
        raise ValidationError(
            f"{name}: truncated or altered: the header says {expected} properties, the file has {count}"
        )
    actual = h.hexdigest()
    if actual != sha:
        raise ValidationError(f"{name}: checksum mismatch: the header says sha256 {sha}, the lines hash to {actual}")
    if problem is not None:
        raise problem
    return ExportFile(name, header, props, sha)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's ``object_pairs_hook``: an object naming a key twice is refused (json keeps the last)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


#: one decoder for every line (``json.loads`` with a hook would build a new one each call)
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def _duplicate(exc: _DuplicateKey, known: frozenset[str]) -> str:
    # a field name is printed; any other key may be part of a value, so it is not
    return f"duplicate JSON key {exc.key!r}" if exc.key in known else "duplicate JSON key in an object"


def _parse_header(name: str, raw: bytes) -> dict[str, Any]:
    try:
        header = _DECODER.decode(raw.decode("utf-8"))
    except _DuplicateKey as exc:
        raise ValidationError(f"{name} line 1: the header has a {_duplicate(exc, _HEADER_FIELDS)}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValidationError(f"{name} line 1: not a JSON header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValidationError(f"{name} line 1: not a Dockyard export (format is not {FORMAT!r})")
    version = header.get("version")
    if type(version) is not int or version != VERSION:  # true == 1 in Python: refuse it
        shown = repr(version) if len(repr(version)) <= 40 else f"{repr(version)[:37]}..."
        raise ValidationError(
            f"{name} line 1: unsupported export version {shown} (this Dockyard reads version {VERSION})"
        )
    count = header.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValidationError(f"{name} line 1: the header's count is not a non-negative integer")
    sha = header.get("sha256")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValidationError(f"{name} line 1: the header's sha256 is not a hex SHA-256 digest")
    for text_field in ("source", "exported_at"):
        if not isinstance(header.get(text_field), str):
            raise ValidationError(f"{name} line 1: the header's {text_field} is not text")
    return header


def parse_property_line(raw: bytes, where: str) -> Property:
    """One validated property from one line (without its ``\\n``); errors start with ``where``.

    Checks everything that can be checked without the store: the fields (each once), UTF-8
    text that a store can write (JSON's ``\\ud800`` escapes decode to lone surrogates), names
    (the scope an app name or ``--global``) and values.
    """
    try:
        return _parse_line(raw)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}") from None


def _parse_line(raw: bytes) -> Property:
    """``parse_property_line`` without the location, which the caller adds only to an error
    (building ``"FILE line N"`` for each of 100,000 good lines cost more than the checks)."""
    try:
        obj = _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValidationError("not UTF-8 text") from None
    except _DuplicateKey as exc:
        raise ValidationError(_duplicate(exc, _LINE_FIELDS)) from None
    except ValueError:
        raise ValidationError("not valid JSON") from None
    except RecursionError:
        raise ValidationError("JSON nested too deeply") from None
    if type(obj) is not dict:
        raise ValidationError("expected a JSON object")
    if len(obj) != 4 or not ("value" in obj or "list" in obj) or not ("plugin" in obj and "scope" in obj
                                                                        and "key" in obj):
        raise ValidationError(
            f"expected the fields plugin, scope, key and one of value or list; got {', '.join(sorted(obj))}"
        )
    plugin, scope, key = obj["plugin"], obj["scope"], obj["key"]
    check_coordinates(plugin, scope, key)
    _check_scope(scope)
    if "list" in obj:
        items = obj["list"]
        if not isinstance(items, list) or not items:
            raise ValidationError("invalid list: expected a non-empty JSON array of text")
        for item in items:
            validate_list_item(item)
        return Property(plugin, scope, key, items=tuple(items))
    value = validate_value(obj["value"])
    if value.endswith("\n"):
        raise ValidationError("invalid value: ends with a newline (that is a list: write it as one)")
    return Property(plugin, scope, key, value=value)


@functools.lru_cache(maxsize=4096)
def _check_scope(scope: str) -> None:
    """A scope is ``--global`` or an app name (``dockyard.core.names``), as every command writes.

    Cached: a file names few scopes many times (only good ones are remembered).
    """
    try:
        validate_scope(scope)
    except ValidationError:
        raise ValidationError(
            f"invalid scope {scope!r}: expected {GLOBAL_SCOPE} or an app name (lowercase letters, digits, "
            "'-' and '.', starting and ending with a letter or digit, at most 63 characters)"
        ) from None


def check_fits(store: PropertyStore, export: ExportFile) -> None:
    """Refuse, naming the line, a value over ``store.max_value_bytes``: before any write."""
    limit = store.max_value_bytes
    if limit is None:
        return
    for number, prop in enumerate(export.properties, start=2):
        problem = size_problem(prop.data(), limit)
        if problem:
            raise ValidationError(f"{export.name} line {number}: {problem} ({store.display_url})")


# ---- import ----------------------------------------------------------------------------------
@dataclass
class ImportPlan:
    """What an import changes: coordinates to add, change and delete, and the operations."""

    add: list[Coords] = field(default_factory=list)
    change: list[Coords] = field(default_factory=list)
    delete: list[Coords] = field(default_factory=list)
    unchanged: int = 0
    ops: list[Op] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.ops)

    def summary(self) -> dict[str, Any]:
        return {"add": len(self.add), "change": len(self.change), "delete": len(self.delete),
                "unchanged": self.unchanged}


def current_state(store: PropertyStore) -> dict[Coords, Value]:
    return {(p.plugin, p.scope, p.key): p.data() for p in store.iter_properties()}


def plan_import(store: PropertyStore, export: ExportFile, replace: bool = False) -> ImportPlan:
    """Compare the file with the store: merge adds and changes; replace also deletes the rest.

    Refuses first what the file holds but this store cannot (``check_fits``), so ``--dry-run``
    reports every error the import itself would.
    """
    check_fits(store, export)
    store.check_batch_ready()
    current = current_state(store)
    plan = ImportPlan()
    for prop in export.properties:
        coords = (prop.plugin, prop.scope, prop.key)
        data = prop.data()
        old = current.pop(coords, None)
        if old is None:
            plan.add.append(coords)
        elif old != data:
            plan.change.append(coords)
        else:
            plan.unchanged += 1
            continue
        plan.ops.append(Put(prop.plugin, prop.scope, prop.key, data))
    if replace:
        for coords in sorted(current):
            plan.delete.append(coords)
            plan.ops.append(Delete(*coords))
    return plan


def apply_ops(store: PropertyStore, ops: list[Op], progress: Progress | None = None) -> None:
    """Write ``ops`` as one batch: all or nothing where the store can (``apply_batch``)."""
    if ops:
        store.apply_batch(ops, progress)


def import_file(store: PropertyStore, src: str | Path | IO[bytes] | ExportFile, *, replace: bool = False,
                dry_run: bool = False, progress: Progress | None = None) -> ImportPlan:
    """Validate ``src`` completely, then make ``store`` hold it (merge, or replace with ``replace``)."""
    export = src if isinstance(src, ExportFile) else read_export(src)
    with store.lock("props-import"):
        plan = plan_import(store, export, replace=replace)
        if not dry_run:
            apply_ops(store, plan.ops, progress)
    return plan


def resume_import(store: PropertyStore, progress: Progress | None = None) -> int | None:
    """Finish an import that was interrupted part way (``props:import --resume``).

    Returns the operations applied, or None when no import is pending (a store whose batches
    are one unit never leaves one).
    """
    with store.lock("props-import"):
        return store.resume_batch(progress)


# ---- backup and restore ----------------------------------------------------------------------
def backup_name(now: _dt.datetime | None = None) -> str:
    stamp = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"dockyard-{stamp}.jsonl.gz"


def list_backups(directory: Path) -> list[Path]:
    """Backups in ``directory``, oldest first; only names this module writes count."""
    found: list[tuple[str, int, Path]] = []
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        m = BACKUP_RE.match(entry.name)
        if m and entry.is_file():
            found.append((m.group(1), int(m.group(2) or 0), entry))
    return [p for _, _, p in sorted(found)]


@dataclass(frozen=True)
class BackupResult:
    export: ExportResult
    removed: list[str]


def backup(store: PropertyStore, directory: str | Path, keep: int, progress: Progress | None = None,
           now: _dt.datetime | None = None) -> BackupResult:
    """Write ``DIR/dockyard-YYYYmmddTHHMMSSZ.jsonl.gz`` and delete all but the newest ``keep``."""
    if keep < 1:
        raise ValidationError("--keep must be at least 1")
    target = Path(directory)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = backup_name(now)
    path = target / name
    n = 0
    while path.exists():
        n += 1
        path = target / name.replace(".jsonl.gz", f"-{n}.jsonl.gz")
    result = export_store(store, path, progress)
    backups = list_backups(target)
    removed = []
    for old in backups[:-keep]:
        old.unlink()
        removed.append(str(old))
    return BackupResult(result, removed)


def resolve_restore_source(src: str | Path) -> Path | str:
    """A file as given; a directory means its newest backup."""
    if str(src) != "-" and Path(src).is_dir():
        backups = list_backups(Path(src))
        if not backups:
            raise ValidationError(f"{src}: no dockyard-*.jsonl.gz backups in this directory")
        return backups[-1]
    return src


# ---- migrate -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MigrateResult:
    count: int
    sha256: str
    deleted: int


def store_digest(store: PropertyStore, progress: Progress | None = None) -> tuple[int, str]:
    """(count, sha256) of ``store`` as its export would state them."""
    return digest(property_lines(store.iter_properties(), progress))


def migrate(source: PropertyStore, target: PropertyStore, *, replace: bool = False,
            progress: Progress | None = None) -> MigrateResult:
    """Stream every property of ``source`` into ``target`` in batches, then verify the target.

    The target must be empty unless ``replace`` is given, in which case what the source does
    not have is deleted from it. Afterwards the target is read back: its count and digest must
    equal the source's, or the migration is reported as failed.
    """
    advance = progress or _no_progress
    with target.lock("props-import"):
        existing = {(p.plugin, p.scope, p.key) for p in target.iter_properties()}
        if existing and not replace:
            raise ValidationError(
                f"the target store {target.display_url} already holds {len(existing)} properties; "
                "pass --replace to make it an exact copy of the source"
            )
        lines: list[tuple[Coords, bytes]] = []
        batch: list[Op] = []
        for prop in source.iter_properties():
            coords = (prop.plugin, prop.scope, prop.key)
            lines.append((coords, property_line(prop)))
            existing.discard(coords)
            batch.append(Put(prop.plugin, prop.scope, prop.key, prop.data()))
        deletes: list[Op] = [Delete(*coords) for coords in sorted(existing)]
        apply_ops(target, batch + deletes, advance)  # one unit where the target can
        lines.sort(key=lambda item: item[0])
        count, sha = digest(line for _, line in lines)
        got_count, got_sha = store_digest(target)
    if (got_count, got_sha) != (count, sha):
        raise DockyardError(
            f"migration verification failed: the source has {count} properties (sha256 {sha}), "
            f"the target {target.display_url} has {got_count} (sha256 {got_sha})"
        )
    return MigrateResult(count, sha, len(deletes))


def iter_export_lines(path: str | Path) -> Iterator[bytes]:
    """The raw lines of an export (header first), decompressed; for tools and tests."""
    with _open_text(path) as (name, stream):
        for _, raw in _lines(name, stream):
            yield raw
