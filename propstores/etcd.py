"""The etcd store: ``etcd://host:port?prefix=…`` and ``etcds://`` (TLS, auth), on ``etcd3``.

Keys are ``{prefix}prop/{plugin}/{scope}/{key}`` (default prefix ``/dockyard/``); property
coordinates never contain ``/``, so no escaping is needed. A value holds Dokku's bytes for the
property (a value as is, a list as lines each ending in ``\\n``), decoded as the file store does.

Batches: etcd refuses a transaction with more than 128 operations (``--max-txn-ops``) or a
request over 1.5 MiB (``--max-request-bytes``) by default, so a batch is split into
transactions of at most ``TXN_OPS`` (100) operations and ``MAX_REQUEST_BYTES``, applied in
order. Each transaction is atomic; ``apply`` is atomic per chunk only. A value too large for
one request (``max_value_bytes``) is refused before anything is written.

Imports (``apply_batch``): one transaction when the whole batch fits one; beyond that, a
journal under ``{prefix}journal/import/`` (outside ``prop/``, so never exported) holds every
transaction before the first runs, each transaction also advances a marker in the journal,
and an interruption is finished by ``resume_batch`` (``props:import --resume``). The journal
briefly doubles the space the import takes in etcd.

Reads over many keys are paged (``limit`` + the next key) at one revision, so an export sees
one consistent snapshot and never asks for a reply larger than gRPC's message limit.

Lock: a lease with a TTL, and a key created in a transaction only if it does not exist,
bound to that lease; the lease is refreshed while held and revoked on release, so a crashed
holder frees the lock when the lease runs out.

Watch: etcd's own watch on the key prefix, which sees every writer, not only Dockyard.

``etcds://host:port?ca_cert=PATH[&cert_key=PATH&cert_cert=PATH]`` turns on TLS;
``user:password@`` or ``?user=&password=`` turn on etcd authentication.

protobuf: etcd3 0.12's generated code only loads under the pure-Python protobuf
implementation when protobuf 4 or later is installed, so this module selects it before
protobuf is first imported. If something imported protobuf earlier with another
implementation, the import fails with an error that says so.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from dockyard.core.errors import DockyardError, LockHeld, PluginError, ValidationError
from dockyard.core.names import GLOBAL_SCOPE, validate_component
from dockyard.propstores.base import (
    Delete,
    Op,
    Property,
    PropertyStore,
    StoreCapability,
    Value,
    WatchEvent,
    decode_data,
    encode_data,
    kept_alive,
    lock_ttl,
    watch_filter,
    watch_matches,
)


def _import_etcd3() -> Any:
    if "google.protobuf" not in sys.modules:
        os.environ["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
    import warnings

    try:
        with warnings.catch_warnings():
            # etcd3's generated code uses protobuf's deprecated descriptor API; that is known
            warnings.simplefilter("ignore", DeprecationWarning)
            import etcd3
    except ImportError:
        raise  # a missing package: the plugin loader names the extra to install
    except Exception as exc:
        from google.protobuf.internal import api_implementation

        raise PluginError(
            f"etcd3 could not load its protobuf code ({exc}); protobuf was already imported with the "
            f"{api_implementation.Type()!r} implementation. Set PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python "
            "before starting Python, or open the etcd store before anything imports protobuf"
        ) from exc
    return etcd3


etcd3 = _import_etcd3()
from etcd3 import etcdrpc  # noqa: E402  (needs the implementation chosen above)

DEFAULT_PREFIX = "/dockyard/"
#: operations per transaction: below etcd's default --max-txn-ops of 128
TXN_OPS = 100
#: operations one transaction may hold: etcd's default --max-txn-ops
MAX_TXN_OPS = 128
#: a journaled transaction leaves this much of a request for the journal's key and marker
JOURNAL_ROOM = 4096
#: etcd's default --max-request-bytes (1.5 MiB): the server refuses any larger request
MAX_REQUEST_BYTES = 1_572_864
#: room left in a request for protobuf framing, per operation and per request
OP_OVERHEAD = 32
REQUEST_OVERHEAD = 1024
#: keys per range request when paging
PAGE = 1000
LOCK_TTL = 30

T = TypeVar("T")


def _next_key(key: bytes) -> bytes:
    return key + b"\x00"


def _prefix_end(prefix: bytes) -> bytes:
    return etcd3.utils.increment_last_byte(prefix)  # type: ignore[no-any-return]


def client_options(url: str) -> tuple[dict[str, Any], str]:
    """(keyword arguments for ``etcd3.client``, key prefix) from an etcd/etcds URL."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    prefix = query.pop("prefix", DEFAULT_PREFIX)
    try:
        port = parts.port or 2379
    except ValueError:
        raise ValidationError(f"invalid etcd URL: bad port in {parts.netloc.rpartition('@')[2]!r}") from None
    opts: dict[str, Any] = {"host": parts.hostname or "localhost", "port": port}
    user = unquote(parts.username) if parts.username else query.pop("user", None)
    password = unquote(parts.password) if parts.password else query.pop("password", None)
    query.pop("user", None)
    query.pop("password", None)
    if user or password:
        if not (user and password):
            raise ValidationError("invalid etcd URL: give both a user and a password")
        opts["user"], opts["password"] = user, password
    tls: dict[str, str] = {name: query.pop(name) for name in ("ca_cert", "cert_key", "cert_cert") if name in query}
    if "timeout" in query:
        try:
            opts["timeout"] = float(query.pop("timeout"))
        except ValueError:
            raise ValidationError("invalid etcd URL: timeout must be a number of seconds") from None
    if query:
        raise ValidationError(
            f"invalid etcd URL: unknown option(s) {', '.join(sorted(query))}; "
            "known: prefix, ca_cert, cert_key, cert_cert, user, password, timeout"
        )
    if parts.scheme == "etcds":
        if "ca_cert" not in tls:
            raise ValidationError("etcds:// needs ?ca_cert=PATH (the CA that signed the server's certificate)")
        if ("cert_key" in tls) != ("cert_cert" in tls):
            raise ValidationError("etcds://: give cert_key and cert_cert together (client certificate)")
        opts.update(tls)
    elif tls:
        raise ValidationError("TLS options need the etcds:// scheme")
    return opts, prefix


class EtcdStore(PropertyStore):
    capabilities: ClassVar[frozenset[StoreCapability]] = frozenset(
        {StoreCapability.WATCH, StoreCapability.CROSS_HOST_LOCK}
    )
    extra = "etcd"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        opts, self.prefix = client_options(url)
        self._data = f"{self.prefix}prop/".encode()
        self._journal = f"{self.prefix}journal/import/".encode()
        # one Put of the longest key (three 255-byte names) must fit in one request
        self.max_value_bytes = MAX_REQUEST_BYTES - REQUEST_OVERHEAD - OP_OVERHEAD - len(self._data) - 3 * 255 - 2
        try:
            self.client = etcd3.client(**opts)
        except Exception as exc:  # auth happens in the constructor
            raise DockyardError(f"etcd store {self.display_url}: {_message(exc)}") from exc
        # the thread is started lazily with target=watcher._run, so this replaces it in time
        self.client.watcher._run = functools.partial(_watch_loop, self.client.watcher)

    # ---- helpers -----------------------------------------------------------------------
    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (etcd3.exceptions.Etcd3Exception, OSError) as exc:
            raise DockyardError(f"etcd store {self.display_url}: {_message(exc)}") from exc
        except Exception as exc:
            import grpc

            if isinstance(exc, grpc.RpcError):
                raise DockyardError(f"etcd store {self.display_url}: {_message(exc)}") from exc
            raise

    def _key(self, plugin: str, scope: str, key: str) -> bytes:
        return self._data + f"{plugin}/{scope}/{key}".encode()

    def _range(self, start: bytes, end: bytes, limit: int = 0, revision: int = 0,
               keys_only: bool = False) -> Any:
        req = etcdrpc.RangeRequest(key=start, range_end=end, limit=limit, revision=revision, keys_only=keys_only)
        c = self.client
        return self._call(c.kvstub.Range, req, c.timeout, credentials=c.call_credentials, metadata=c.metadata)

    def _paged(self, start: bytes, end: bytes) -> Iterator[Any]:
        """Every key-value in [start, end), a page at a time, all at the first page's revision.

        A page of large values can exceed gRPC's 4 MiB reply limit (values may be 1.5 MiB each):
        then the page shrinks, down to one key, which always fits, and grows back after.
        """
        revision = 0
        limit = PAGE
        while True:
            try:
                resp = self._range(start, end, limit=limit, revision=revision)
            except DockyardError as exc:
                if limit > 1 and _reply_too_large(exc.__cause__):
                    limit = max(1, limit // 8)
                    continue
                raise
            limit = min(PAGE, limit * 2)
            revision = resp.header.revision
            yield from resp.kvs
            if not resp.more or not resp.kvs:
                return
            start = _next_key(resp.kvs[-1].key)

    def _first_components(self, base: bytes) -> list[str]:
        """The distinct next path components under ``base`` (which ends in ``/``), by skipping.

        One small request per component found, not one per key: after reading ``base + X/…``
        the next request starts at ``base + X0`` (``0`` sorts right after ``/``).
        """
        found: list[str] = []
        start, end = base, _prefix_end(base)
        while True:
            resp = self._range(start, end, limit=1, keys_only=True)
            if not resp.kvs:
                return found
            rest = resp.kvs[0].key[len(base):]
            name, slash, _ = rest.partition(b"/")
            if not slash:  # a stray key with no deeper level: step over it
                start = _next_key(resp.kvs[0].key)
                continue
            found.append(name.decode())
            start = base + name + b"0"

    # ---- primitives ----------------------------------------------------------------------
    def read(self, plugin: str, scope: str, key: str) -> Value | None:
        req = etcdrpc.RangeRequest(key=self._key(plugin, scope, key))
        c = self.client
        resp = self._call(c.kvstub.Range, req, c.timeout, credentials=c.call_credentials, metadata=c.metadata)
        if not resp.kvs:
            return None
        return decode_data(resp.kvs[0].value.decode("utf-8"))

    def _apply(self, ops: Sequence[Op]) -> None:
        # a transaction may not name a key twice: the last operation on a key wins
        final: dict[tuple[str, str, str], Op] = {}
        for op in ops:
            final[(op.plugin, op.scope, op.key)] = op
        for chunk in _txn_chunks(self._encoded(final.values())):
            self._txn(chunk)

    def _encoded(self, ops: Iterable[Op]) -> list[tuple[bytes, bytes | None]]:
        """(key, bytes to put, or None to delete) for each operation."""
        return [(self._key(op.plugin, op.scope, op.key),
                 None if isinstance(op, Delete) else encode_data(op.data).encode("utf-8")) for op in ops]

    def _txn(self, writes: Sequence[tuple[bytes, bytes | None]]) -> None:
        """One transaction of puts and deletes: all of them or none."""
        self._send(_txn_request(writes))

    def _send(self, req: Any) -> None:
        c = self.client
        self._call(c.kvstub.Txn, req, c.timeout, credentials=c.call_credentials, metadata=c.metadata)

    def _get(self, key: bytes) -> bytes | None:
        resp = self._range(key, b"")
        return bytes(resp.kvs[0].value) if resp.kvs else None

    # ---- whole imports: one transaction, or a journal ------------------------------------
    def _apply_batch(self, batch: list[Op], progress: Callable[[int], None]) -> None:
        """One transaction when the batch fits one (128 operations, 1.5 MiB); else a journal.

        The journal holds every transaction of the batch, serialized, under
        ``{prefix}journal/import/`` (beside the locks: never a property, never exported), and
        is committed by writing its head. Then each transaction runs together with a marker
        of how many have run, in one etcd transaction, so an interruption at any point is
        finished exactly by ``resume_batch`` (``props:import --resume``). A pending journal
        refuses every new batch until then, since finishing it would overwrite that batch.
        """
        final: dict[tuple[str, str, str], Op] = {}
        for op in batch:
            final[(op.plugin, op.scope, op.key)] = op
        writes = self._encoded(final.values())
        size = REQUEST_OVERHEAD + sum(_request_size(*w) for w in writes)
        if len(writes) <= MAX_TXN_OPS and size <= MAX_REQUEST_BYTES:
            self._send(_txn_request(writes))
            progress(len(batch))
            return
        chunks = list(_txn_chunks(writes, TXN_OPS, MAX_REQUEST_BYTES - JOURNAL_ROOM))
        self._delete_journal()  # a journal whose head was never written: its import never began
        entries: list[tuple[bytes, bytes | None]] = [
            (self._journal_key(i), _pack_writes(chunk)) for i, chunk in enumerate(chunks)]
        for part in _txn_chunks(entries):
            self._txn(part)
        head = json.dumps({"transactions": len(chunks), "operations": len(writes)}).encode()
        self._txn([(self._journal + b"head", head)])  # the commit point: from here it is finished
        self._run_journal(len(chunks), 0, lambda i: _txn_request(chunks[i]), progress)

    def resume_batch(self, progress: Callable[[int], None] | None = None) -> int | None:
        head = self._get(self._journal + b"head")
        if head is None:
            self._delete_journal()  # at most the parts of a journal that was never committed
            return None
        total = int(json.loads(head)["transactions"])
        done = int(self._get(self._journal + b"done") or b"0")

        def load(i: int) -> Any:
            raw = self._get(self._journal_key(i))
            if raw is None:
                raise DockyardError(f"etcd store {self.display_url}: the import journal lacks transaction {i}")
            if raw.startswith(_JOURNAL_MAGIC):
                return _txn_request(_unpack_writes(raw))
            return etcdrpc.TxnRequest.FromString(raw)  # a journal left by a release before 2026-12-03

        return self._run_journal(total, done, load, progress or (lambda n: None))

    def _run_journal(self, total: int, start: int, request: Callable[[int], Any],
                     progress: Callable[[int], None]) -> int:
        """Run transactions ``start``..``total-1`` of the journal, each with its marker; then drop it."""
        applied = 0
        for i in range(start, total):
            req = request(i)
            n = len(req.success)
            marker = req.success.add().request_put
            marker.key, marker.value = self._journal + b"done", str(i + 1).encode()
            try:
                if self._fences:
                    self.check_fences()
                self._send(req)
            except DockyardError as exc:
                raise DockyardError(
                    f"{exc}; the import stopped after {i} of {total} transactions and is journaled in the "
                    "store: run `dockyard props:import --resume` to finish it"
                ) from exc
            applied += n
            progress(n)
        self._delete_journal()
        return applied

    def check_batch_ready(self) -> None:
        if self._get(self._journal + b"head") is not None:
            raise ValidationError(
                f"an interrupted import is not finished on {self.display_url}: "
                "run `dockyard props:import --resume` first"
            )

    def _journal_key(self, i: int) -> bytes:
        return self._journal + b"ops/%08d" % i

    def _delete_journal(self) -> None:
        req = etcdrpc.DeleteRangeRequest(key=self._journal, range_end=_prefix_end(self._journal))
        c = self.client
        self._call(c.kvstub.DeleteRange, req, c.timeout, credentials=c.call_credentials, metadata=c.metadata)

    def _update(self, plugin: str, scope: str, key: str,
                fn: Callable[[Value | None], Value | None]) -> Value | None:
        """Read with its mod_revision, then a txn that writes only if it is unchanged; else retry."""
        name = self._key(plugin, scope, key)
        c = self.client
        while True:
            resp = self._call(c.kvstub.Range, etcdrpc.RangeRequest(key=name), c.timeout,
                              credentials=c.call_credentials, metadata=c.metadata)
            kv = resp.kvs[0] if resp.kvs else None
            current = None if kv is None else decode_data(kv.value.decode("utf-8"))
            new = fn(current)
            if new == current:
                return new
            req = self._cas_request(name, 0 if kv is None else kv.mod_revision, new)
            txn = self._call(c.kvstub.Txn, req, c.timeout, credentials=c.call_credentials, metadata=c.metadata)
            if txn.succeeded:
                return new

    @staticmethod
    def _cas_request(name: bytes, mod_revision: int, new: Value | None) -> Any:
        """A txn that writes ``new`` (None: deletes) only if the key's mod_revision is still
        ``mod_revision`` (0: the key must not exist)."""
        req = etcdrpc.TxnRequest()
        cmp = req.compare.add()
        cmp.key = name
        cmp.result = etcdrpc.Compare.EQUAL
        cmp.target = etcdrpc.Compare.MOD
        cmp.mod_revision = mod_revision
        request_op = req.success.add()
        if new is None:
            request_op.request_delete_range.key = name
        else:
            request_op.request_put.key = name
            request_op.request_put.value = encode_data(new).encode("utf-8")
        return req

    def claim(self, plugin: str, key: str, owner: str) -> str:
        """One txn: create if absent, else read the holder in the same round trip."""
        self._check_claim(plugin, key, owner)
        name = self._key(plugin, GLOBAL_SCOPE, key)
        c = self.client
        req = self._cas_request(name, 0, owner)
        req.failure.add().request_range.key = name
        txn = self._call(c.kvstub.Txn, req, c.timeout, credentials=c.call_credentials, metadata=c.metadata)
        if txn.succeeded:
            return owner
        kvs = txn.responses[0].response_range.kvs
        held = decode_data(kvs[0].value.decode("utf-8")) if kvs else None
        if isinstance(held, str) and held:
            return held
        return super().claim(plugin, key, owner)  # released meanwhile, or not a name: the slow path

    def iter_properties(self, plugin: str | None = None, scope: str | None = None) -> Iterator[Property]:
        if plugin is not None:
            validate_component("plugin", plugin)
        if scope is not None:
            validate_component("scope", scope)
        if scope is not None and plugin is None:
            for p in self.plugins():
                yield from self.iter_properties(p, scope)
            return
        base = self._data
        if plugin is not None:
            base += f"{plugin}/".encode()
            if scope is not None:
                base += f"{scope}/".encode()
        start = len(self._data)
        for kv in self._paged(base, _prefix_end(base)):
            parts = kv.key[start:].decode("utf-8").split("/")
            if len(parts) != 3:
                continue
            raw = kv.value.decode("utf-8")
            if raw.endswith("\n"):
                yield Property(parts[0], parts[1], parts[2], items=tuple(raw[:-1].split("\n")))
            else:
                yield Property(parts[0], parts[1], parts[2], value=raw)

    def plugins(self) -> list[str]:
        return sorted(self._first_components(self._data))

    def scopes(self, plugin: str | None = None) -> list[str]:
        if plugin is not None:
            validate_component("plugin", plugin)
            return sorted(self._first_components(self._data + f"{plugin}/".encode()))
        found: set[str] = set()
        for p in self.plugins():
            found.update(self._first_components(self._data + f"{p}/".encode()))
        return sorted(found)

    @contextmanager
    def lock(self, name: str, timeout: float = 0.0) -> Iterator[None]:
        validate_component("lock name", name)
        key = f"{self.prefix}lock/{name}".encode()
        token = os.urandom(16).hex().encode()
        c = self.client
        tx = c.transactions
        ttl = max(1, round(lock_ttl(LOCK_TTL)))  # etcd leases are whole seconds
        deadline = time.monotonic() + timeout
        while True:
            lease = self._call(c.lease, ttl)
            ok, _ = self._call(c.transaction, compare=[tx.create(key) == 0],
                               success=[tx.put(key, token, lease=lease)], failure=[])
            if ok:
                break
            self._call(lease.revoke)
            if time.monotonic() >= deadline:
                raise LockHeld(f"lock {name!r} is held by another process")
            time.sleep(0.05)
        try:
            def renew() -> bool:
                replies = lease.refresh()
                return bool(replies) and all(r.TTL > 0 for r in replies)  # TTL <= 0: the lease is gone

            with self._fenced(name, ttl) as fence, kept_alive(renew, ttl, name, fence):
                yield
        finally:
            self._call(c.transaction, compare=[tx.value(key) == token], success=[tx.delete(key)], failure=[])
            try:
                self._call(lease.revoke)
            except DockyardError:  # the lease already expired (a holder stopped past its TTL)
                pass

    def watch(self, prefix: str = "") -> Iterator[WatchEvent]:
        """Start watching now (so no later change is missed) and yield changes under ``prefix``."""
        parts = watch_filter(prefix)
        base = self._data + "".join(f"{p}/" for p in parts[:2]).encode()
        if len(parts) == 3:
            base += parts[2].encode()
        events, cancel = self._call(self.client.watch_prefix, base)
        return self._watch_events(events, cancel, parts)

    def _watch_events(self, events: Iterator[Any], cancel: Callable[[], None],
                      parts: tuple[str, ...]) -> Iterator[WatchEvent]:
        start = len(self._data)
        try:
            for event in events:
                coords = event.key[start:].decode("utf-8").split("/")
                if len(coords) != 3 or not watch_matches(parts, *coords):
                    continue
                if isinstance(event, etcd3.events.DeleteEvent):
                    yield WatchEvent(coords[0], coords[1], coords[2], None)
                else:
                    yield WatchEvent(coords[0], coords[1], coords[2], decode_data(event.value.decode("utf-8")))
        finally:
            cancel()

    def close(self) -> None:
        watcher = getattr(self.client, "watcher", None)
        if watcher is not None:
            watcher._dockyard_closed = True
        self.client.close()


def _reply_too_large(exc: BaseException | None) -> bool:
    import grpc

    return isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]


def _txn_request(writes: Sequence[tuple[bytes, bytes | None]]) -> Any:
    req = etcdrpc.TxnRequest()
    for key, value in writes:
        request_op = req.success.add()
        if value is None:
            request_op.request_delete_range.key = key
        else:
            request_op.request_put.key = key
            request_op.request_put.value = value
    return req


#: how a journal entry begins: a transaction's writes, each ``>Ii`` (key length, value length
#: or -1 to delete) then the key and value bytes. Serializing the TxnRequest itself cost a
#: fifth of a journaled import in pure-Python protobuf; this is a join, and never larger
#: than the request (``_request_size`` counts 32 bytes of framing an operation, this 8).
_JOURNAL_MAGIC = b"DYJ1"
_WRITE_HEAD = struct.Struct(">Ii")


def _pack_writes(writes: Sequence[tuple[bytes, bytes | None]]) -> bytes:
    parts = [_JOURNAL_MAGIC]
    pack = _WRITE_HEAD.pack
    for key, value in writes:
        if value is None:
            parts += (pack(len(key), -1), key)
        else:
            parts += (pack(len(key), len(value)), key, value)
    return b"".join(parts)


def _unpack_writes(raw: bytes) -> list[tuple[bytes, bytes | None]]:
    writes: list[tuple[bytes, bytes | None]] = []
    at = len(_JOURNAL_MAGIC)
    size = _WRITE_HEAD.size
    while at < len(raw):
        if len(raw) - at < size:
            break  # a cut entry: reported below
        key_len, value_len = _WRITE_HEAD.unpack_from(raw, at)
        at += size
        key = raw[at:at + key_len]
        at += key_len
        if value_len < 0:
            writes.append((key, None))
            continue
        writes.append((key, raw[at:at + value_len]))
        at += value_len
    if at != len(raw):
        raise DockyardError("the import journal has a damaged entry")
    return writes


def _request_size(key: bytes, value: bytes | None) -> int:
    return len(key) + (len(value) if value is not None else 0) + OP_OVERHEAD


def _txn_chunks(writes: list[tuple[bytes, bytes | None]], max_ops: int = TXN_OPS,
                max_bytes: int = MAX_REQUEST_BYTES) -> Iterator[list[tuple[bytes, bytes | None]]]:
    """``writes`` cut into transactions etcd accepts: at most ``max_ops`` operations and
    ``max_bytes`` each (a value alone never exceeds it: ``max_value_bytes``)."""
    chunk: list[tuple[bytes, bytes | None]] = []
    size = REQUEST_OVERHEAD
    for key, value in writes:
        n = _request_size(key, value)
        if chunk and (len(chunk) >= max_ops or size + n > max_bytes):
            yield chunk
            chunk, size = [], REQUEST_OVERHEAD
        chunk.append((key, value))
        size += n
    if chunk:
        yield chunk


def _watch_loop(watcher: Any) -> None:
    """etcd3's ``Watcher._run``, but it ends once the store is closed.

    The original loops forever and dies with "Cannot invoke RPC: Channel closed!" after
    ``close()``; this one checks a flag set by ``close`` and treats a closed channel as the end.
    """
    import grpc
    from etcd3.watch import _new_request_iter, _safe_callback

    while not getattr(watcher, "_dockyard_closed", False):
        try:
            response_iter = watcher._watch_stub.Watch(
                _new_request_iter(watcher._request_queue),
                credentials=watcher._credentials, metadata=watcher._metadata)
        except ValueError:  # the channel is closed
            return
        try:
            for rs in response_iter:
                watcher._handle_response(rs)
        except (grpc.RpcError, ValueError) as err:
            with watcher._lock:
                if watcher._new_watch:
                    watcher._new_watch.err = err
                    watcher._new_watch_cond.notify_all()
                callbacks = watcher._callbacks
                watcher._callbacks = {}
                watcher._request_queue.put(None)
                watcher._request_queue = queue.Queue(maxsize=10)
            for callback in callbacks.values():
                _safe_callback(callback, err)


def _message(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    if callable(details):
        try:
            text = details()
            if text:
                return str(text)
        except Exception:
            pass
    return str(exc) or type(exc).__name__
