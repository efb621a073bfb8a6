"""The file store: Dokku's own on-disk layout, ``ROOT/config/<plugin>/<scope>/<key>``.

``file:///var/lib/dokku`` reads a real Dokku server's properties, and what this store writes
is byte for byte what Dokku writes: a value is the raw text with no trailing newline, a list
is one item per line, each ending in ``\\n``. The bytes decide the type on the way back.

Durability: every file is written to a temp file in its own directory (``.tmp-…``, a name no
property can have, so a crash leaves nothing that reads as a property), synced, then moved
into place with ``os.replace`` and the directory synced. A large batch writes all its temp
files first, syncs the filesystem once, renames, and syncs once more: the same guarantees at
a fraction of the cost of one fsync per file. A batch is not atomic as a whole (no
``ATOMIC_BATCH``), but each property is, and nothing is renamed until every temp file has
been written: an import (``apply_batch``, one ``_apply``) that fails while writing changes
nothing.

This module is on the path of every command that uses the default store, so it imports
nothing heavier than ``os`` and ``fcntl``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from dockyard.core.errors import LockHeld, ValidationError
from dockyard.core.names import validate_component
from dockyard.propstores.base import (
    Delete,
    Op,
    Property,
    PropertyStore,
    Put,
    StoreCapability,
    Value,
    decode_data,
    encode_data,
)

log = logging.getLogger("dockyard.propstores.file")

TMP_PREFIX = ".tmp-"
#: ROOT/locks/.batch-N: the renames of a batch being applied (see FileStore._write_journal)
JOURNAL_PREFIX = ".batch-"
#: stale temp files are swept at most this often (seconds), when they are this old
SWEEP_EVERY = 86400.0
SWEEP_AGE = 3600.0
#: a batch at least this large is synced with one syncfs() instead of one fsync() per file
BULK_SYNC_THRESHOLD = 32
#: a batch this many times 4 is written by WRITE_THREADS threads, PARALLEL_CHUNK files per task
PARALLEL_CHUNK = 500
WRITE_THREADS = 4
_DIR_MODE = 0o700
#: read-modify-write locks: ROOT/locks/.update-N.lock, N < UPDATE_STRIPES (outside config/)
UPDATE_LOCK_PREFIX = ".update-"
#: ROOT/locks/.writers.lock: every write holds it shared while its temp files exist, and
#: removing leftovers takes it exclusively, so no live write's temp file is ever taken
WRITERS_LOCK = ".writers"
UPDATE_STRIPES = 64
_FILE_MODE = 0o600


def _is_property_name(name: str) -> bool:
    # temp files, editor droppings and anything a dot-name: never a property (validate_component
    # rejects keys and plugins starting with "."), so a crashed write is never read back
    return not name.startswith(".")


class FileStore(PropertyStore):
    capabilities: ClassVar[frozenset[StoreCapability]] = frozenset({StoreCapability.DOKKU_LAYOUT})

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ValidationError(f"invalid file store URL {url!r}: use file:///absolute/path")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise ValidationError(f"invalid file store URL {url!r}: the path must be absolute")
        self.root = path.rstrip("/") or "/"
        self.config_dir = os.path.join(self.root, "config")
        self.locks_dir = os.path.join(self.root, "locks")
        self._finish_journals()
        self.sweep()

    # ---- the rename journal -------------------------------------------------------------
    def _write_journal(self, staged: list[tuple[str, str]], deletes: list[str]) -> tuple[int, str]:
        """Every rename and unlink of a batch, written and synced before the first of them:
        the batch's commit point. A process killed after it leaves a journal that the next
        open of the store finishes (every temp file is still there), so a batch is all or
        nothing even under kill -9. The writer holds the journal's flock until it is done, so
        no other process replays a journal that is still being carried out."""
        import json

        os.makedirs(self.locks_dir, mode=_DIR_MODE, exist_ok=True)
        path = f"{self.locks_dir}/{JOURNAL_PREFIX}{os.urandom(8).hex()}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, json.dumps({"renames": staged, "deletes": deletes}).encode())
        os.fsync(fd)
        _fsync_dir(self.locks_dir)
        return fd, path

    def _finish_journals(self) -> int:
        """Carry out what an interrupted batch journaled (renames whose temp file is still
        there, unlinks), then drop the journal; return how many journals were finished."""
        import json

        try:
            names = [e.name for e in os.scandir(self.locks_dir) if e.name.startswith(JOURNAL_PREFIX)]
        except FileNotFoundError:
            return 0
        finished = 0
        for name in names:
            path = f"{self.locks_dir}/{name}"
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is alive and carrying it out
                if not os.path.exists(path):
                    continue  # finished and removed between our scandir and our lock
                raw = _read_file(path)
                try:
                    entries = json.loads(raw or b"{}")
                except ValueError:
                    entries = {}  # never completely written: its batch never began renaming
                # a target written after the batch was cut off (by a process that had the store
                # open all along) is newer than the journal: that later write wins
                since = os.fstat(fd).st_mtime
                for tmp, target in entries.get("renames", []):
                    if _newer(target, since):
                        _unlink(tmp)
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(tmp, target)
                for target in entries.get("deletes", []):
                    if not _newer(target, since):
                        _unlink(target)
                _syncfs(self.config_dir)
                _unlink(path)
                finished += bool(entries)
            finally:
                os.close(fd)
        if finished:
            log.warning("finished %d interrupted batch write(s) in %s", finished, self.config_dir)
        return finished

    def resume_batch(self, progress: Callable[[int], None] | None = None) -> int | None:
        """An interrupted batch is finished when the store is opened; here too, on demand."""
        return self._finish_journals() or None

    # ---- housekeeping ----------------------------------------------------------------
    def leftovers(self, older_than: float = 0.0) -> list[str]:
        """Temp files of writes that never reached their rename (a kill -9 between the two)."""
        cutoff = time.time() - older_than
        found: list[str] = []
        for directory, _dirs, files in os.walk(self.config_dir):
            for name in files:
                if name.startswith(TMP_PREFIX):
                    path = os.path.join(directory, name)
                    with contextlib.suppress(FileNotFoundError):
                        if os.lstat(path).st_mtime <= cutoff:
                            found.append(path)
        return sorted(found)

    def remove_leftovers(self, older_than: float = 0.0) -> int:
        """Remove leftover temp files, only while no write is in progress (a long import's
        temp files can be minutes old before their renames): with one running, nothing is
        removed and LockHeld says so."""
        fd = self._lock_fd(WRITERS_LOCK)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockHeld("a write to the store is in progress (an import?): its temp files were left "
                               "alone; run props:check --repair again once it is done") from None
            removed = 0
            for path in self.leftovers(older_than):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    removed += 1
            return removed
        finally:
            os.close(fd)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the writers lock shared while this write's temp files exist."""
        fd = self._lock_fd(WRITERS_LOCK)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def sweep(self, every: float = SWEEP_EVERY, older_than: float = SWEEP_AGE) -> int:
        """Remove temp files older than an hour (no live write takes that long), at most once
        a day per store: the mark is the mtime of ``locks/.swept``, so opening the store costs
        one stat in between."""
        mark = os.path.join(self.locks_dir, ".swept")
        try:
            if time.time() - os.stat(mark).st_mtime < every:
                return 0
        except FileNotFoundError:
            if not os.path.isdir(self.config_dir):
                return 0
        try:
            os.makedirs(self.locks_dir, mode=_DIR_MODE, exist_ok=True)
            with open(mark, "a"):
                os.utime(mark)
        except OSError:  # a read-only root: nothing to sweep with
            return 0
        try:
            return self.remove_leftovers(older_than)
        except LockHeld:  # a write is in progress: sweep another time
            return 0

    # ---- paths -----------------------------------------------------------------------
    def _path(self, plugin: str, scope: str, key: str) -> str:
        return f"{self.config_dir}/{plugin}/{scope}/{key}"

    def _listdir(self, path: str) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
        except (FileNotFoundError, NotADirectoryError):
            return []

    # ---- primitives ------------------------------------------------------------------
    def read(self, plugin: str, scope: str, key: str) -> Value | None:
        try:
            raw = _read_file(self._path(plugin, scope, key))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return self._decode(raw, plugin, scope, key)

    def _decode(self, raw: bytes, plugin: str, scope: str, key: str) -> Value:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"property {plugin}/{scope}/{key} in {self.config_dir} is not UTF-8 text ({exc.reason})"
            ) from None
        return decode_data(text)

    def iter_properties(self, plugin: str | None = None, scope: str | None = None) -> Iterator[Property]:
        if plugin is not None:
            validate_component("plugin", plugin)
        if scope is not None:
            validate_component("scope", scope)
        plugins = [plugin] if plugin is not None else self._plugin_dirs()
        for p in plugins:
            scopes = [scope] if scope is not None else self._listdir(f"{self.config_dir}/{p}")
            for s in scopes:
                yield from self._iter_scope(p, s)

    def _plugin_dirs(self) -> list[str]:
        return [p for p in self._listdir(self.config_dir) if _is_property_name(p)]

    def _iter_scope(self, plugin: str, scope: str) -> Iterator[Property]:
        directory = f"{self.config_dir}/{plugin}/{scope}"
        try:
            entries = sorted(
                e.name for e in os.scandir(directory)
                if _is_property_name(e.name) and e.is_file(follow_symlinks=False)
            )
        except (FileNotFoundError, NotADirectoryError):
            return
        for key in entries:
            try:
                raw = _read_file(f"{directory}/{key}")
            except FileNotFoundError:  # deleted while we iterate
                continue
            data = self._decode(raw, plugin, scope, key)
            if isinstance(data, list):
                yield Property(plugin, scope, key, items=tuple(data))
            else:
                yield Property(plugin, scope, key, value=data)

    def _has_property(self, directory: str) -> bool:
        try:
            with os.scandir(directory) as it:
                return any(_is_property_name(e.name) and e.is_file(follow_symlinks=False) for e in it)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def plugins(self) -> list[str]:
        return [p for p in self._plugin_dirs() if self.scopes(p)]

    def scopes(self, plugin: str | None = None) -> list[str]:
        plugins = [validate_component("plugin", plugin)] if plugin is not None else self._plugin_dirs()
        found: set[str] = set()
        for p in plugins:
            base = f"{self.config_dir}/{p}"
            found.update(s for s in self._listdir(base) if s not in found and self._has_property(f"{base}/{s}"))
        return sorted(found)

    def _apply(self, ops: Sequence[Op]) -> None:
        with self._writing():
            self._apply_locked(ops)

    def _apply_locked(self, ops: Sequence[Op]) -> None:
        # the last operation on a key wins, as if applied in order
        final: dict[tuple[str, str, str], Op] = {}
        for op in ops:
            final[(op.plugin, op.scope, op.key)] = op
        bulk = len(final) >= BULK_SYNC_THRESHOLD
        puts: list[tuple[str, str, bytes]] = []  # (directory, final path, bytes)
        deletes: list[str] = []
        for (plugin, scope, key), op in final.items():
            directory = f"{self.config_dir}/{plugin}/{scope}"
            if isinstance(op, Delete):
                deletes.append(f"{directory}/{key}")
            else:
                puts.append((directory, f"{directory}/{key}", encode_data(op.data).encode("utf-8")))
        try:
            staged = self._stage(puts, bulk)  # (temp path, final path); nothing renamed yet
        except BaseException:
            for directory in {directory for directory, _, _ in puts}:
                self._prune(directory)  # only directories left empty go: nothing was renamed
            raise
        dirs = {directory for directory, _, _ in puts}
        if bulk and staged:
            _syncfs(self.config_dir)
        # several files change: a journal makes the renames one step (see _finish_journals)
        journal = self._write_journal(staged, deletes) if len(staged) + len(deletes) > 1 else None
        try:
            for tmp, path in staged:
                os.replace(tmp, path)
            for path in deletes:
                if _unlink(path):
                    dirs.add(os.path.dirname(path))
            if bulk:
                _syncfs(self.config_dir)
            else:
                for directory in dirs:
                    _fsync_dir(directory)
        finally:
            if journal is not None:
                _close_journal(*journal)
        for path in deletes:
            self._prune(os.path.dirname(path))

    def _apply_batch(self, batch: list[Op], progress: Callable[[int], None]) -> None:
        """One ``_apply`` for the whole batch: every new value is written to a temp file before
        the first rename, so a failure while writing (a full disk, an encoding error) leaves
        no property changed. Only the renames and unlinks themselves come after that point."""
        self._apply(batch)
        progress(len(batch))

    def _stage(self, puts: list[tuple[str, str, bytes]], bulk: bool) -> list[tuple[str, str]]:
        """Write every temp file; on any failure remove them all and re-raise.

        A large batch is written by a few threads: file creation is syscall-bound and the
        GIL is released around each syscall.
        """
        results: list[tuple[list[tuple[str, str]], BaseException | None]] = []

        def work(part: list[tuple[str, str, bytes]]) -> tuple[list[tuple[str, str]], BaseException | None]:
            done: list[tuple[str, str]] = []
            try:
                for directory, path, payload in part:
                    done.append((self._write_temp(directory, payload, sync=not bulk), path))
            except BaseException as exc:
                return done, exc
            return done, None

        if len(puts) >= 4 * PARALLEL_CHUNK:
            from concurrent.futures import ThreadPoolExecutor

            parts = [puts[i:i + PARALLEL_CHUNK] for i in range(0, len(puts), PARALLEL_CHUNK)]
            with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
                results = list(pool.map(work, parts))
        else:
            results = [work(puts)]
        staged = [item for done, _ in results for item in done]
        errors = [exc for _, exc in results if exc is not None]
        if errors:
            for tmp, _ in staged:
                _unlink(tmp)
            raise errors[0]
        return staged

    def _write_temp(self, directory: str, payload: bytes, sync: bool) -> str:
        for attempt in range(3):
            tmp = f"{directory}/{TMP_PREFIX}{os.urandom(8).hex()}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
            except FileNotFoundError:
                # the directory is new, or a concurrent delete pruned it: (re)create it
                if attempt == 2:
                    raise
                self._makedirs(directory, sync=sync)
                continue
            try:
                view = memoryview(payload)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if sync:
                    os.fsync(fd)
            except BaseException:
                os.close(fd)
                _unlink(tmp)
                raise
            os.close(fd)
            return tmp
        raise AssertionError("unreachable")

    def _makedirs(self, directory: str, sync: bool = True) -> None:
        created: list[str] = []
        path = directory
        while not os.path.isdir(path):
            created.append(path)
            path = os.path.dirname(path)
        for new in reversed(created):
            try:
                os.mkdir(new, _DIR_MODE)
            except FileExistsError:
                continue
            os.chmod(new, _DIR_MODE)  # whatever the umask says, as Dokku's files are private
            if sync:  # a bulk batch syncs the whole filesystem once instead
                _fsync_dir(os.path.dirname(new))

    def _prune(self, scope_dir: str) -> None:
        """Drop a scope (and plugin) directory that no longer holds any file."""
        for directory in (scope_dir, os.path.dirname(scope_dir)):
            if directory == self.config_dir:
                return
            try:
                os.rmdir(directory)
            except OSError:
                return

    def _update(self, plugin: str, scope: str, key: str,
                fn: Callable[[Value | None], Value | None]) -> Value | None:
        """Read-modify-replace under ``flock`` on one of a few striped lock files.

        Every updater of a property takes the same stripe (chosen by a hash of its path), so
        two updates of one list never interleave; updates of unrelated properties rarely wait.
        """
        import zlib

        stripe = zlib.crc32(f"{plugin}/{scope}/{key}".encode()) % UPDATE_STRIPES
        fd = self._lock_fd(f"{UPDATE_LOCK_PREFIX}{stripe}")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            current = self.read(plugin, scope, key)
            new = fn(current)
            if new != current:
                self._apply([Delete(plugin, scope, key) if new is None else Put(plugin, scope, key, new)])
            return new
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _lock_fd(self, name: str) -> int:
        try:
            return os.open(f"{self.locks_dir}/{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
        except FileNotFoundError:
            self._makedirs(self.locks_dir, sync=False)
            return os.open(f"{self.locks_dir}/{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)

    @contextmanager
    def lock(self, name: str, timeout: float = 0.0) -> Iterator[None]:
        """``flock`` on ``ROOT/locks/NAME.lock``: outside ``config/``, so never a property."""
        validate_component("lock name", name)
        self._makedirs(self.locks_dir, sync=False)
        path = f"{self.locks_dir}/{name}.lock"
        deadline = time.monotonic() + timeout
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                if time.monotonic() >= deadline:
                    raise LockHeld(f"lock {name!r} is held by another process") from None
                time.sleep(0.02)
                continue
            if _same_file(fd, path):
                break
            os.close(fd)  # remove_lock unlinked it while we waited: lock the file now there
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def remove_lock(self, name: str) -> bool:
        """Delete ``ROOT/locks/NAME.lock`` unless someone holds it (an app's locks, when the
        app is destroyed). It is unlinked while we hold it, and ``lock`` checks that the file
        it locked is still the one at the path, so no two holders can ever result."""
        validate_component("lock name", name)
        path = f"{self.locks_dir}/{name}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        try:
            if _same_file(fd, path):
                _unlink(path)
                return True
            return False
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _read_file(path: str) -> bytes:
    # os.read on a raw fd: no buffered file object, which costs more than the read itself
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, 65536)
        if len(data) < 65536:
            return data
        chunks = [data]
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)


def _newer(path: str, than: float) -> bool:
    try:
        return os.stat(path).st_mtime > than
    except FileNotFoundError:
        return False


def _close_journal(fd: int, path: str) -> None:
    """The batch is done: drop its journal, then release it."""
    _unlink(path)
    os.close(fd)


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _syncfs(path: str) -> None:
    """Flush the filesystem holding ``path`` (Linux syncfs); ``os.sync`` elsewhere."""
    global _SYNCFS
    if _SYNCFS is None:
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            _SYNCFS = libc.syncfs
        except (OSError, AttributeError):
            _SYNCFS = False
    if _SYNCFS is False:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _SYNCFS(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


_SYNCFS: Any = None
