"""The PropertyStore contract.

A property is ``(plugin, scope, key)`` holding either a text value or an ordered list of
text items, as in Dokku. Drivers implement a handful of primitives (read one, apply a
batch, iterate, lock); every public operation Dokku's ``prop`` library offers is built
here on top of them, so list semantics and scope clone/rename behave the same on every
backend and no driver repeats them.
"""

# No ``from __future__ import annotations`` here: NamedTuple would compile every string
# annotation at import time, which every CLI command would pay for.
import abc
import enum
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import ClassVar, NamedTuple, Self

from dockyard.core.errors import LockLost, NotSupported, ValidationError
from dockyard.core.names import GLOBAL_SCOPE, validate_component, validate_list_item, validate_value

Value = str | list[str]
#: operations per ``_apply`` call in the default (non-atomic) ``_apply_batch``
BATCH_CHUNK = 5000


class StoreCapability(enum.StrEnum):
    WATCH = "watch"
    ATOMIC_BATCH = "atomic-batch"
    CROSS_HOST_LOCK = "cross-host-lock"
    DOKKU_LAYOUT = "dokku-layout"


class Property(NamedTuple):
    """One stored property; exactly one of ``value`` and ``items`` is set.

    The four record types here are NamedTuples rather than dataclasses: they are immutable
    and ordered all the same, and they cost a fraction of a dataclass's import time, which
    every CLI command pays.
    """

    plugin: str
    scope: str
    key: str
    value: str | None = None
    items: tuple[str, ...] | None = None

    @property
    def is_list(self) -> bool:
        return self.items is not None

    def data(self) -> Value:
        return list(self.items) if self.items is not None else (self.value or "")


class Put(NamedTuple):
    plugin: str
    scope: str
    key: str
    data: Value


class Delete(NamedTuple):
    plugin: str
    scope: str
    key: str


Op = Put | Delete


class WatchEvent(NamedTuple):
    """A change seen by ``watch``; ``data`` is None for a delete."""

    plugin: str
    scope: str
    key: str
    data: Value | None


_SECRET_OPTION = re.compile(r"pass|pwd|token|secret|credential|auth|api_?key", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The URL with every secret masked: THE one redaction for output, logs and export headers.

    Works on the text, never on a parse, so a mistyped URL (``redis//:pw@host``,
    ``file://u:pw@host/x``) is masked too: the password in the user info, and the value
    of every query option whose name says secret (password, token, secret, passphrase...).
    Over-masking a harmless value is cheaper than printing one password.
    """
    head, sep, query = url.partition("?")
    if sep:
        options = []
        for option in re.split(r"([&;])", query):
            name, eq, _value = option.partition("=")
            options.append(f"{name}=***" if eq and _SECRET_OPTION.search(name) else option)
        query = "".join(options)
    head, hash_, fragment = head.partition("#")
    start = head.find("//")
    start = 0 if start < 0 else start + 2
    at = head.rfind("@")
    if at >= start:
        user, colon, _password = head[start:at].partition(":")
        if colon:
            head = f"{head[:start]}{user}:***{head[at:]}"
    return f"{head}{hash_}{fragment}{sep}{query}"


@functools.lru_cache(maxsize=8192)
def _checked_component(kind: str, value: str) -> None:
    validate_component(kind, value)


def _check_component(kind: str, value: str) -> None:
    # names repeat a lot in a batch (one plugin, a few scopes), so remember the good ones
    if type(value) is str:
        _checked_component(kind, value)
    else:
        validate_component(kind, value)


def check_coordinates(plugin: str, scope: str, key: str) -> None:
    _check_component("plugin", plugin)
    _check_component("scope", scope)
    validate_component("key", key)  # keys rarely repeat: a cache would only churn


def encode_data(data: Value) -> str:
    """Dokku's bytes for a property: a value as is, a list as lines each ending in ``\\n``.

    Every store keeps this one encoding, so the type travels with the text: whatever ends in
    a newline is a list and anything else is a single value (see ``decode_data``).
    """
    if isinstance(data, list):
        return "".join(f"{item}\n" for item in data)
    return data


def decode_data(text: str) -> Value:
    """The inverse of ``encode_data``: the bytes decide the type, as in Dokku's files."""
    if text.endswith("\n"):
        return text[:-1].split("\n")
    return text


def canonical_op(op: Op) -> Op:
    """Give ``op`` the form every store reads back, so stores and exports agree.

    A value that ends in a newline would be read back from Dokku's layout as a list, so it
    becomes that list here on every store; an empty list is never stored (Dokku deletes a
    list that becomes empty).
    """
    if not isinstance(op, Put):
        return op
    if isinstance(op.data, list):
        return op if op.data else Delete(op.plugin, op.scope, op.key)
    if isinstance(op.data, str) and op.data.endswith("\n"):
        return Put(op.plugin, op.scope, op.key, decode_data(op.data))
    return op


def watch_filter(prefix: str) -> tuple[str, ...]:
    """Split a watch prefix ``plugin[/scope[/key]]`` into the components it pins down."""
    parts = tuple(p for p in prefix.strip("/").split("/") if p) if prefix else ()
    if len(parts) > 3:
        raise ValidationError(f"invalid watch prefix {prefix!r}: expected plugin[/scope[/key]]")
    for kind, part in zip(("plugin", "scope", "key"), parts, strict=False):
        validate_component(kind, part)
    return parts


def watch_matches(parts: tuple[str, ...], plugin: str, scope: str, key: str) -> bool:
    """Whether a change to ``plugin/scope/key`` is under the components from ``watch_filter``."""
    return (plugin, scope, key)[: len(parts)] == parts


def check_op(op: Op) -> None:
    check_coordinates(op.plugin, op.scope, op.key)
    if isinstance(op, Put):
        if isinstance(op.data, list):
            for item in op.data:
                validate_list_item(item)
        else:
            validate_value(op.data)


def value_size(data: Value) -> int:
    """Bytes the store writes for ``data``: Dokku's encoding (``encode_data``) in UTF-8."""
    text = encode_data(data)
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def size_problem(data: Value, limit: int | None) -> str | None:
    """Why ``data`` does not fit a store whose values hold at most ``limit`` bytes, or None.

    Says only the sizes, never the value (values can be secrets).
    """
    if limit is None:
        return None
    chars = len(data) if isinstance(data, str) else sum(len(i) + 1 for i in data)
    if chars * 4 <= limit:  # UTF-8 needs at most 4 bytes a character: surely fits, no copy made
        return None
    size = value_size(data)
    if size <= limit:
        return None
    return f"the value is {size} bytes, over this store's limit of {limit} bytes per value"


def lock_ttl(default: float) -> float:
    """Seconds an expiring lock lives without a keepalive: ``DOCKYARD_LOCK_TTL`` or ``default``.

    Configurable so a fault test (a holder stopped past its TTL) takes seconds, not half a minute.
    """
    import os

    text = os.environ.get("DOCKYARD_LOCK_TTL", "")
    try:
        value = float(text) if text else default
    except ValueError:
        raise ValidationError(f"invalid DOCKYARD_LOCK_TTL {text!r}: expected seconds") from None
    if not 0.5 <= value <= 3600:
        raise ValidationError(f"invalid DOCKYARD_LOCK_TTL {text!r}: expected 0.5 to 3600 seconds")
    return value


class Fence:
    """The state of one held expiring lock, checked before every write made under it.

    The holder may have been stopped (SIGSTOP, a long GC pause, a partition) past the TTL,
    and another process may hold the lock now; so a write goes ahead only if the last
    keepalive succeeded less than 0.9 TTL ago and none has reported the lock gone.
    """

    __slots__ = ("lost", "name", "ok_at", "ttl")

    def __init__(self, name: str, ttl: float) -> None:
        self.name, self.ttl, self.ok_at, self.lost = name, ttl, time.monotonic(), False

    def check(self) -> None:
        if self.lost or time.monotonic() - self.ok_at > self.ttl * 0.9:
            self.lost = True
            raise LockLost(f"lost the lock {self.name!r} (not renewed within {self.ttl:g}s); "
                           "another process may hold it, so nothing more is written")


@contextmanager
def kept_alive(refresh: Callable[[], object], ttl: float, name: str,
               fence: Fence | None = None) -> Iterator[None]:
    """Call ``refresh`` every ``ttl / 3`` seconds from a daemon thread while the block runs.

    For leases and expiring locks: a holder that crashes stops refreshing, so the backend
    frees the lock after ``ttl``. A failed refresh is retried on the next tick rather than
    ending the thread; if the backend stays away the lock simply expires. The thread is
    stopped and joined before the block's exit goes on, so a release never races a refresh.
    """
    import threading  # only stores with expiring locks need it; the file store does not

    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(ttl / 3):
            try:
                ok = refresh()
            except Exception:  # retried on the next tick; the fence stops writes once it is stale
                continue
            if fence is not None:
                if ok is False or ok == 0:  # the backend says the lock is no longer ours
                    fence.lost = True
                else:
                    fence.ok_at = time.monotonic()

    thread = threading.Thread(target=loop, name=f"dockyard-lock-{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _as_items(data: Value | None) -> list[str]:
    if data is None:
        return []
    if isinstance(data, list):
        return list(data)
    return [data] if data else []


def _update_op(plugin: str, scope: str, key: str, new: Value | None) -> Op:
    return Delete(plugin, scope, key) if new is None else Put(plugin, scope, key, new)


class PropertyStore(abc.ABC):
    """Abstract store. Subclasses set ``scheme``/``capabilities`` and the primitives."""

    capabilities: ClassVar[frozenset[StoreCapability]] = frozenset()
    #: the extra that installs this driver's dependencies, named in import errors
    extra: ClassVar[str | None] = None
    #: the largest value (bytes, as ``value_size`` counts them) one write can carry, or None for
    #: no limit; checked before the first write of a batch or an import (etcd: its request limit)
    max_value_bytes: int | None = None

    def __init__(self, url: str) -> None:
        self.url = url
        #: fences of the expiring locks this handle holds; every write checks them first
        self._fences: list[Fence] = []

    @contextmanager
    def _fenced(self, name: str, ttl: float) -> Iterator[Fence]:
        fence = Fence(name, ttl)
        self._fences.append(fence)
        try:
            yield fence
        finally:
            self._fences.remove(fence)

    def check_fences(self) -> None:
        """Raise LockLost if a lock this handle holds may have passed to another process."""
        for fence in self._fences:
            fence.check()

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    # ---- primitives every driver implements -------------------------------------
    @abc.abstractmethod
    def read(self, plugin: str, scope: str, key: str) -> Value | None:
        """The stored value or list, or None if the property does not exist."""

    @abc.abstractmethod
    def _apply(self, ops: Sequence[Op]) -> None:
        """Apply validated operations, atomically where the backend can."""

    @abc.abstractmethod
    def iter_properties(self, plugin: str | None = None, scope: str | None = None) -> Iterator[Property]:
        """Stream properties, optionally restricted to one plugin and/or scope."""

    @abc.abstractmethod
    def plugins(self) -> list[str]:
        """Sorted plugin names that hold at least one property."""

    @abc.abstractmethod
    def scopes(self, plugin: str | None = None) -> list[str]:
        """Sorted scopes holding at least one property (in ``plugin`` if given)."""

    @abc.abstractmethod
    def lock(self, name: str, timeout: float = 0.0) -> AbstractContextManager[None]:
        """A named exclusive lock; raises LockHeld after ``timeout`` seconds."""

    def _update(self, plugin: str, scope: str, key: str,
                fn: Callable[[Value | None], Value | None]) -> Value | None:
        """Atomically replace one property with ``fn(current)`` (None deletes it); return the result.

        The one primitive every read-modify-write is built on (lists, claims, domains), so no
        concurrent update is ever lost. A driver overrides it with its backend's own
        compare-and-set (file: flock; redis: a compare-and-set script; etcd: a txn on mod_revision) and must
        call ``fn`` again when a concurrent change wins. This default serialises every update
        through the store's own lock, which is correct wherever that lock is.
        """
        with self.lock("property-update", timeout=30):
            new = fn(self.read(plugin, scope, key))
            self._apply([_update_op(plugin, scope, key, new)])
            return new

    def watch(self, prefix: str = "") -> Iterator[WatchEvent]:
        """Changes under ``plugin[/scope[/key]]`` prefix, as they happen."""
        raise NotSupported(f"the {type(self).__name__} store cannot watch for changes")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    # ---- housekeeping (props:check) ----------------------------------------------
    def leftovers(self, older_than: float = 0.0) -> list[str]:
        """Debris a killed writer can leave that is not a property (the file store's temp
        files), at least ``older_than`` seconds old, as paths an operator recognises. A
        backend whose writes are transactions leaves none."""
        return []

    def remove_leftovers(self, older_than: float = 0.0) -> int:
        """Remove what ``leftovers(older_than)`` lists; return how many were removed. A store
        whose live writes leave the same debris raises LockHeld while one is in progress."""
        return 0

    def remove_lock(self, name: str) -> bool:
        """Forget lock ``name`` if nobody holds it (an app's locks, when it is destroyed).
        Locks that are keys with a TTL (redis, etcd) are gone once released: nothing to do."""
        return False

    def remove_unchecked(self, coords: Sequence[tuple[str, str, str]]) -> None:
        """Delete properties whose names today's checks refuse (written by an older version
        or by hand), which the normal ``delete`` cannot name. Only ``props:check --repair``
        calls this, after listing them."""
        if coords:
            self._apply([Delete(p, s, k) for p, s, k in coords])

    # ---- batches -----------------------------------------------------------------
    def checked_ops(self, ops: Iterable[Op]) -> list[Op]:
        """``ops`` in canonical form, every one validated (names, text, this store's size limit).

        Raises one ValidationError naming the first bad operation, before anything is written.
        """
        batch = [canonical_op(op) for op in ops]
        limit = self.max_value_bytes
        for op in batch:
            check_op(op)
            if limit is not None and isinstance(op, Put):
                problem = size_problem(op.data, limit)
                if problem:
                    raise ValidationError(f"invalid value for {op.plugin}/{op.scope}/{op.key}: {problem}")
        return batch

    def apply(self, ops: Iterable[Op]) -> None:
        """Validate every operation, then apply them all (atomically where supported)."""
        batch = self.checked_ops(ops)
        if self._fences:
            self.check_fences()
        if batch:
            self._apply(batch)

    def apply_batch(self, ops: Iterable[Op], progress: Callable[[int], None] | None = None) -> None:
        """Apply a whole import's operations: all of them or, where the store can, none.

        Everything is validated first, so a bad operation anywhere writes nothing on any store.
        Drivers override ``_apply_batch`` to commit the batch as one unit (redis: one MULTI/EXEC;
        file: every temp file written before the first rename; etcd: one transaction, or a
        journal that ``resume_batch`` finishes). ``progress`` is called with counts of ops done.
        """
        batch = self.checked_ops(ops)
        self.check_batch_ready()
        if self._fences:
            self.check_fences()
        if batch:
            self._apply_batch(batch, progress or (lambda n: None))

    def check_batch_ready(self) -> None:  # noqa: B027 - optional hook
        """Raise if ``apply_batch`` cannot start now (etcd: an interrupted import is pending).

        Called by ``apply_batch`` and by the import's planning, so ``--dry-run`` says it too.
        """

    def _apply_batch(self, batch: list[Op], progress: Callable[[int], None]) -> None:
        """The default: ``_apply`` in chunks of ``BATCH_CHUNK``. Not atomic as a whole; a store
        that can do better overrides it."""
        for i in range(0, len(batch), BATCH_CHUNK):
            if self._fences:
                self.check_fences()
            chunk = batch[i:i + BATCH_CHUNK]
            self._apply(chunk)
            progress(len(chunk))

    def resume_batch(self, progress: Callable[[int], None] | None = None) -> int | None:
        """Finish a batch that ``apply_batch`` left interrupted; the ops applied, or None if none is.

        Only a store that journals its batches (etcd, beyond one transaction) can leave one.
        """
        return None

    # ---- atomic read-modify-write and claims -----------------------------------------
    def update(self, plugin: str, scope: str, key: str,
               fn: Callable[[Value | None], Value | None]) -> Value | None:
        """Replace ``plugin/scope/key`` with ``fn(current)`` atomically (None deletes it).

        ``fn`` may run more than once (when another writer got there first) and must have
        no side effects; what it returns is validated before anything is written.
        """
        check_coordinates(plugin, scope, key)

        def checked(current: Value | None) -> Value | None:
            new = fn(current)
            if self._fences:
                self.check_fences()
            if new is not None:
                op = canonical_op(Put(plugin, scope, key, new))
                if isinstance(op, Delete):
                    return None
                check_op(op)
                return op.data
            return None

        return self._update(plugin, scope, key, checked)

    def claim(self, plugin: str, key: str, owner: str) -> str:
        """Take ``plugin/--global/key`` for ``owner`` unless someone holds it; return the holder.

        Create-if-absent on top of ``update``: of any number of concurrent claimers exactly
        one sees its own name back. Claiming again as the holder is a no-op.
        """
        held = self.update(plugin, GLOBAL_SCOPE, key, lambda cur: cur if isinstance(cur, str) and cur else owner)
        return held if isinstance(held, str) else owner

    def _check_claim(self, plugin: str, key: str, owner: str) -> None:
        """What ``update`` checks before a write, for a driver whose ``claim`` writes directly."""
        check_op(canonical_op(Put(plugin, GLOBAL_SCOPE, key, owner)))
        if self._fences:
            self.check_fences()

    def release(self, plugin: str, key: str, owner: str) -> bool:
        """Give up ``owner``'s claim on ``plugin/--global/key``; False if someone else holds it."""
        released = False

        def drop(cur: Value | None) -> Value | None:
            nonlocal released
            released = cur == owner or cur is None
            return None if released else cur

        self.update(plugin, GLOBAL_SCOPE, key, drop)
        return released

    # ---- single values -----------------------------------------------------------
    def get(self, plugin: str, scope: str, key: str, default: str | None = None) -> str | None:
        check_coordinates(plugin, scope, key)
        data = self.read(plugin, scope, key)
        if data is None:
            return default
        return "".join(f"{i}\n" for i in data) if isinstance(data, list) else data

    def set(self, plugin: str, scope: str, key: str, value: str) -> None:
        self.apply([Put(plugin, scope, key, value)])

    def delete(self, plugin: str, scope: str, key: str) -> bool:
        check_coordinates(plugin, scope, key)
        if self.read(plugin, scope, key) is None:
            return False
        self.apply([Delete(plugin, scope, key)])
        return True

    def exists(self, plugin: str, scope: str, key: str) -> bool:
        check_coordinates(plugin, scope, key)
        return self.read(plugin, scope, key) is not None

    def get_all(self, plugin: str, scope: str) -> dict[str, Value]:
        validate_component("plugin", plugin)
        validate_component("scope", scope)
        return {p.key: p.data() for p in self.iter_properties(plugin, scope)}

    # ---- lists (Dokku's semantics) -----------------------------------------------
    def list_get(self, plugin: str, scope: str, key: str) -> list[str]:
        check_coordinates(plugin, scope, key)
        data = self.read(plugin, scope, key)
        if data is None:
            return []
        if isinstance(data, list):
            return data
        return [data] if data else []

    def list_write(self, plugin: str, scope: str, key: str, items: Sequence[str]) -> None:
        self.apply([Put(plugin, scope, key, list(items))])

    def list_update(self, plugin: str, scope: str, key: str,
                    fn: Callable[[list[str]], list[str]]) -> list[str]:
        """Atomically replace a list with ``fn(items)``; an empty result deletes it (as Dokku)."""
        result: list[str] = []

        def step(current: Value | None) -> Value | None:
            nonlocal result
            result = fn(_as_items(current))
            return list(result) if result else None

        self.update(plugin, scope, key, step)
        return result

    def list_add(self, plugin: str, scope: str, key: str, item: str, index: int = 0) -> None:
        """Dokku's PropertyListAdd: index 0 (or past the end) appends; otherwise 1-based insert."""
        item = item.strip()

        def add(items: list[str]) -> list[str]:
            if index <= 0 or index > len(items):
                items.append(item)
            else:
                items.insert(index - 1, item)
            return items

        self.list_update(plugin, scope, key, add)

    def list_set(self, plugin: str, scope: str, key: str, index: int, item: str) -> None:
        """Dokku's PropertyListSet: 0-based replace; an index past the end appends."""
        item = item.strip()

        def put(items: list[str]) -> list[str]:
            if 0 <= index < len(items):
                items[index] = item
            else:
                items.append(item)
            return items

        self.list_update(plugin, scope, key, put)

    def list_remove(self, plugin: str, scope: str, key: str, item: str) -> int:
        removed = 0

        def drop(items: list[str]) -> list[str]:
            nonlocal removed
            kept = [i for i in items if i != item]
            removed = len(items) - len(kept)
            return kept

        self.list_update(plugin, scope, key, drop)
        return removed

    def list_remove_prefix(self, plugin: str, scope: str, key: str, prefix: str) -> int:
        removed = 0

        def drop(items: list[str]) -> list[str]:
            nonlocal removed
            kept = [i for i in items if not i.startswith(prefix)]
            removed = len(items) - len(kept)
            return kept

        self.list_update(plugin, scope, key, drop)
        return removed

    def list_length(self, plugin: str, scope: str, key: str) -> int:
        return len(self.list_get(plugin, scope, key))

    # ---- scopes ------------------------------------------------------------------
    def iter_all(self) -> Iterator[Property]:
        return self.iter_properties()

    def count(self) -> int:
        return sum(1 for _ in self.iter_properties())

    def destroy_scope(self, scope: str) -> int:
        """Delete every property of ``scope`` in every plugin (apps:destroy)."""
        validate_component("scope", scope)
        ops: list[Op] = [Delete(p.plugin, p.scope, p.key) for p in self.iter_properties(scope=scope)]
        self.apply(ops)
        return len(ops)

    def clone_scope(self, src: str, dst: str) -> int:
        """Copy every property of ``src`` to ``dst`` (apps:clone)."""
        validate_component("scope", src)
        validate_component("scope", dst)
        if src == dst:
            raise ValidationError("cannot clone a scope onto itself")
        ops: list[Op] = [Put(p.plugin, dst, p.key, p.data()) for p in self.iter_properties(scope=src)]
        self.apply(ops)
        return len(ops)

    def rename_scope(self, src: str, dst: str) -> int:
        """Move every property of ``src`` to ``dst`` in one batch (apps:rename)."""
        validate_component("scope", src)
        validate_component("scope", dst)
        if src == dst:
            raise ValidationError("cannot rename a scope onto itself")
        props = list(self.iter_properties(scope=src))
        ops: list[Op] = [Put(p.plugin, dst, p.key, p.data()) for p in props]
        ops += [Delete(p.plugin, p.scope, p.key) for p in props]
        self.apply(ops)
        return len(props)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
