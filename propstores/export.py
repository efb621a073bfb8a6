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

Import reads and validates the whole file before it writes anything: header, version, count,
checksum, a truncated last line, every name and every value. A rejected file changes nothing.
Writes go to ``store.apply`` in large batches, which every store turns into few round trips.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from dockyard.core.errors import DockyardError, ValidationError
from dockyard.core.names import validate_list_item, validate_value
from dockyard.propstores.base import (
    Delete,
    Op,
    Property,
    PropertyStore,
    Put,
    Value,
    check_coordinates,
    redact_url,
)

FORMAT = "dockyard.properties"
VERSION = 1
#: operations per ``store.apply`` call during import and migrate
IMPORT_BATCH = 5000
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


def _read_bytes(src: str | Path | IO[bytes]) -> tuple[str, bytes]:
    if not isinstance(src, (str, Path)):
        return getattr(src, "name", "<stream>"), src.read()
    name = str(src)
    if name == "-":
        return "<stdin>", sys.stdin.buffer.read()
    try:
        with open(name, "rb") as fh:
            return name, fh.read()
    except FileNotFoundError:
        raise ValidationError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ValidationError(f"{name}: is a directory, not an export file") from None
    except OSError as exc:
        raise ValidationError(f"{name}: cannot read: {exc.strerror}") from None


def _decompress(name: str, data: bytes) -> bytes:
    if not data.startswith(b"\x1f\x8b"):
        if name.endswith(".gz"):
            raise ValidationError(f"{name}: not a gzip file")
        return data
    try:
        return gzip.decompress(data)
    except EOFError:
        raise ValidationError(f"{name}: truncated (the gzip stream ends early)") from None
    except (OSError, gzip.BadGzipFile, ValueError) as exc:
        raise ValidationError(f"{name}: corrupt gzip data ({exc})") from None


def read_export(src: str | Path | IO[bytes]) -> ExportFile:
    """Read and fully validate an export; raise one ValidationError naming the first problem."""
    name, data = _read_bytes(src)
    data = _decompress(name, data)
    if not data:
        raise ValidationError(f"{name}: empty file (no header)")
    first_end = data.find(b"\n")
    if first_end < 0:
        raise ValidationError(f"{name}: truncated (the header line has no end)")
    header = _parse_header(name, data[:first_end])
    body = data[first_end + 1:]
    if body and not body.endswith(b"\n"):
        raise ValidationError(f"{name}: truncated (the last line has no end)")
    lines = body.split(b"\n")[:-1] if body else []
    count, sha = header["count"], header["sha256"]
    if len(lines) != count:
        raise ValidationError(
            f"{name}: truncated or altered: the header says {count} properties, the file has {len(lines)}"
        )
    actual = hashlib.sha256(body).hexdigest()
    if actual != sha:
        raise ValidationError(f"{name}: checksum mismatch: the header says sha256 {sha}, the lines hash to {actual}")
    props: list[Property] = []
    seen: set[Coords] = set()
    for number, raw in enumerate(lines, start=2):
        prop = parse_property_line(raw, f"{name} line {number}")
        coords = (prop.plugin, prop.scope, prop.key)
        if coords in seen:
            raise ValidationError(f"{name} line {number}: duplicate property {'/'.join(coords)}")
        seen.add(coords)
        props.append(prop)
    return ExportFile(name, header, props, sha)


def _parse_header(name: str, raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValidationError(f"{name}: the first line is not a JSON header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValidationError(f"{name}: not a Dockyard export (format is not {FORMAT!r})")
    version = header.get("version")
    if type(version) is not int or version != VERSION:  # true == 1 in Python: refuse it
        raise ValidationError(f"{name}: unsupported export version {version!r} (this Dockyard reads version {VERSION})")
    count = header.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValidationError(f"{name}: the header's count is not a non-negative integer")
    sha = header.get("sha256")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValidationError(f"{name}: the header's sha256 is not a hex SHA-256 digest")
    return header


def parse_property_line(raw: bytes, where: str) -> Property:
    """One validated property from one line (without its ``\\n``)."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValidationError(f"{where}: not UTF-8 text") from None
    except ValueError:
        raise ValidationError(f"{where}: not valid JSON") from None
    except RecursionError:
        raise ValidationError(f"{where}: JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise ValidationError(f"{where}: expected a JSON object")
    keys = set(obj)
    if keys not in ({"plugin", "scope", "key", "value"}, {"plugin", "scope", "key", "list"}):
        raise ValidationError(
            f"{where}: expected the fields plugin, scope, key and one of value or list; got {', '.join(sorted(keys))}"
        )
    try:
        check_coordinates(obj["plugin"], obj["scope"], obj["key"])
        if "list" in obj:
            items = obj["list"]
            if not isinstance(items, list) or not items:
                raise ValidationError("invalid list: expected a non-empty JSON array of text")
            for item in items:
                validate_list_item(item)
            return Property(obj["plugin"], obj["scope"], obj["key"], items=tuple(items))
        value = validate_value(obj["value"])
        if value.endswith("\n"):
            raise ValidationError("invalid value: ends with a newline (that is a list: write it as one)")
        return Property(obj["plugin"], obj["scope"], obj["key"], value=value)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}") from None


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
    """Compare the file with the store: merge adds and changes; replace also deletes the rest."""
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


def apply_ops(store: PropertyStore, ops: list[Op], progress: Progress | None = None,
              batch: int = IMPORT_BATCH) -> None:
    advance = progress or _no_progress
    for i in range(0, len(ops), batch):
        chunk = ops[i:i + batch]
        store.apply(chunk)
        advance(len(chunk))


def import_file(store: PropertyStore, src: str | Path | IO[bytes] | ExportFile, *, replace: bool = False,
                dry_run: bool = False, progress: Progress | None = None) -> ImportPlan:
    """Validate ``src`` completely, then make ``store`` hold it (merge, or replace with ``replace``)."""
    export = src if isinstance(src, ExportFile) else read_export(src)
    with store.lock("props-import"):
        plan = plan_import(store, export, replace=replace)
        if not dry_run:
            apply_ops(store, plan.ops, progress)
    return plan


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
            if len(batch) >= IMPORT_BATCH:
                target.apply(batch)
                advance(len(batch))
                batch = []
        if batch:
            target.apply(batch)
            advance(len(batch))
        deletes: list[Op] = [Delete(*coords) for coords in sorted(existing)]
        apply_ops(target, deletes)
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
    name, data = _read_bytes(path)
    yield from io.BytesIO(_decompress(name, data))
