"""The redis store: ``redis://[user:password@]host:port/db?prefix=…`` and ``rediss://`` (TLS).

Layout under the prefix (default ``dockyard:``); property coordinates can never contain
``/``, so ``/`` separates them without any escaping:

- ``{prefix}prop/{plugin}/{scope}/{key}``: a string holding Dokku's bytes for the property
  (a value as is, a list as lines each ending in ``\\n``), decoded as the file store does.
  One GET reads any property, and SCAN + MGET export it all in big round trips.
- ``{prefix}idx/{plugin}/{scope}``: the set of keys in one scope, ``{prefix}scopes/{plugin}``
  the set of scopes, ``{prefix}plugins`` the set of plugins. They make a scope's properties
  (``config:show``, ``apps:destroy``) one SMEMBERS + MGET instead of a scan of everything,
  and are updated in the same transaction as the data.

Writes: a batch is one MULTI/EXEC transaction, so it is atomic as a whole (``ATOMIC_BATCH``);
one property's write, a read-modify-write and a list append are each one Lua script, as
atomic and one round trip. The scripts also touch the index sets they do not declare as
keys, so the store needs a single redis (or one shard), not Redis Cluster; the prefix keeps
many installations apart on it. Iteration over everything uses SCAN, never KEYS.

Watch: each batch also PUBLISHes, inside its transaction, what it changed (paths and new
bytes, as JSON; a list append only the bytes it appended, and the watcher reads the list) on
``{prefix}changes``, and ``watch`` subscribes to that channel. This
needs no ``CONFIG SET notify-keyspace-events`` (often forbidden on managed redis) and costs
one command per batch, but it only sees changes made through Dockyard.

Lock: ``SET {prefix}lock/NAME TOKEN NX PX ttl``, kept alive by a thread while held and
released with a compare-and-delete script, so a crashed holder frees it after ``ttl``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from dockyard.core.errors import DockyardError, LockHeld, ValidationError
from dockyard.core.names import GLOBAL_SCOPE, validate_component
from dockyard.propstores.base import (
    Delete,
    Op,
    Property,
    PropertyStore,
    Put,
    StoreCapability,
    Value,
    WatchEvent,
    check_op,
    decode_data,
    encode_data,
    kept_alive,
    lock_ttl,
    watch_filter,
    watch_matches,
)

DEFAULT_PREFIX = "dockyard:"
#: keys per MGET / MSET / SCAN round trip
BATCH = 2000
LOCK_TTL_MS = 30_000

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
# after deletes: forget a scope whose index set is gone, and a plugin with no scope left
_PRUNE = """
if redis.call('exists', KEYS[1]) == 0 then
  redis.call('srem', KEYS[2], ARGV[1])
  if redis.call('exists', KEYS[2]) == 0 then redis.call('srem', KEYS[3], ARGV[2]) end
end
return 0
"""

# one property's write (or delete) with its index sets and change notice, atomically, in one
# round trip; as a compare-and-set, only if the key still holds what was read. ARGV: 1 "1" if
# a value was read, "0" if none was, "any" for a plain write; 2 that value; 3 "1" to delete;
# 4 the new value; 5 key; 6 scope; 7 plugin; 8 notice.
_CAS = """
local cur = redis.call('get', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
elseif ARGV[1] == '0' and cur then return 0 end
if ARGV[3] == '1' then
  redis.call('del', KEYS[1])
  redis.call('srem', KEYS[2], ARGV[5])
  if redis.call('exists', KEYS[2]) == 0 then
    redis.call('srem', KEYS[3], ARGV[6])
    if redis.call('exists', KEYS[3]) == 0 then redis.call('srem', KEYS[4], ARGV[7]) end
  end
else
  redis.call('set', KEYS[1], ARGV[4])
  redis.call('sadd', KEYS[2], ARGV[5])
  redis.call('sadd', KEYS[3], ARGV[6])
  redis.call('sadd', KEYS[4], ARGV[7])
end
redis.call('publish', KEYS[5], ARGV[8])
return 1
"""

#: Lua: put a new key (ARGV 2 its path) into its scope's, plugin's and the plugins' index sets
_INDEX_NEW_KEY = """
  local plugin, scope, key = string.match(ARGV[2], '^([^/]+)/([^/]+)/([^/]+)$')
  redis.call('sadd', p .. 'idx/' .. plugin .. '/' .. scope, key)
  redis.call('sadd', p .. 'scopes/' .. plugin, scope)
  redis.call('sadd', p .. 'plugins', plugin)
"""

#: list_add's append in one round trip: Dokku's list bytes are lines, so appending an item is
#: APPEND of ``item\n`` (after a newline when the key holds a single value, which a list
#: operation reads as a one-item list: GETRANGE of the last byte tells), plus the scope
#: indexes for a new key (APPEND answers the new length: the item's own means the key was
#: new) and the change notice. The notice names the appended bytes, ``{"append": ...}``, not
#: the whole list: an append costs the same for the thousandth domain as for the first, and
#: a watcher reads the list when it gets the notice (``_watch_events``). This is the one
#: write measured against a bare APPEND, and each argument costs the client an encode and
#: the wire a bulk string, so it takes two: ARGV 1 ``item\n``, ARGV 2 the path
#: ``plugin/scope/key`` (split here; no component holds a '/'); KEYS 1 is the property's key.
#: The index keys are built here from the store's prefix, written into the script's text by
#: ``_lua_string`` (every byte as a decimal escape, so no prefix can change the code).
_APPEND = """
local p = @PREFIX@
local add = ARGV[1]
local last = redis.call('getrange', KEYS[1], -1, -1)
if last ~= '' and last ~= '\\n' then add = '\\n' .. add end
if redis.call('append', KEYS[1], add) == #add then  -- a new key: into its scope's index
""" + _INDEX_NEW_KEY + """end
redis.call('publish', p .. 'changes', '[[' .. cjson.encode(ARGV[2]) .. ',{"append":' .. cjson.encode(add) .. '}]]')
return 1
"""

#: claim's create-if-absent, SET NX with the indexes and the notice in the same script: ARGV
#: 1 the owner's bytes, 2 the path; answers 1 if this call created the name, 0 if it was held
_CLAIM = """
local p = @PREFIX@
if not redis.call('set', KEYS[1], ARGV[1], 'NX') then return 0 end
""" + _INDEX_NEW_KEY + """local notice = '[[' .. cjson.encode(ARGV[2]) .. ',' .. cjson.encode(ARGV[1]) .. ']]'
redis.call('publish', p .. 'changes', notice)
return 1
"""


def _lua_string(text: str) -> str:
    """``text`` as a Lua string literal of 3-digit decimal escapes (``"\\100\\121"``): no
    quote, backslash or newline in it can end the literal early."""
    return '"' + "".join(f"\\{b:03d}" for b in text.encode("utf-8")) + '"'


class _Script:
    """A Lua script run by EVALSHA through ``execute_command``.

    redis-py's ``Script`` object spends about 20 µs a call sorting out its arguments, a
    quarter of a loopback round trip, on the store's hottest writes. A server that lost its
    script cache (a restart, ``SCRIPT FLUSH``) answers NOSCRIPT: the script is loaded and
    the call made once more, which is safe because a script that was not found did not run.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, client: Any, keys: Sequence[str], args: Sequence[str]) -> Any:
        try:
            return client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            client.script_load(self.source)
            return client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


T = TypeVar("T")
#: json's string encoder (ensure_ascii=False): the change notice is built by hand on the hot path
_json_str: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _glob_escape(text: str) -> str:
    return "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in text)


def split_url(url: str) -> tuple[str, str]:
    """(URL for redis-py without our ``prefix`` option, key prefix)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = DEFAULT_PREFIX
    rest = []
    for name, value in query:
        if name == "prefix":
            prefix = value
        else:
            rest.append((name, value))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), "")), prefix


class RedisStore(PropertyStore):
    capabilities: ClassVar[frozenset[StoreCapability]] = frozenset(
        {StoreCapability.WATCH, StoreCapability.ATOMIC_BATCH, StoreCapability.CROSS_HOST_LOCK}
    )
    extra = "redis"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        client_url, self.prefix = split_url(url)
        try:
            self.client: Any = redis.Redis.from_url(client_url, decode_responses=True)
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"invalid redis URL {self.display_url}: {exc}") from None
        self._data = f"{self.prefix}prop/"
        self.channel = f"{self.prefix}changes"
        self._plugins_key = f"{self.prefix}plugins"
        self._prune = self.client.register_script(_PRUNE)
        self._cas = _Script(_CAS)
        prefix = _lua_string(self.prefix)
        self._append = _Script(_APPEND.replace("@PREFIX@", prefix))
        self._claim = _Script(_CLAIM.replace("@PREFIX@", prefix))

    # ---- helpers -----------------------------------------------------------------------
    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise DockyardError(f"redis store {self.display_url}: {exc}") from exc

    def _key(self, plugin: str, scope: str, key: str) -> str:
        return f"{self._data}{plugin}/{scope}/{key}"

    def _idx(self, plugin: str, scope: str) -> str:
        return f"{self.prefix}idx/{plugin}/{scope}"

    def _scopes_key(self, plugin: str) -> str:
        return f"{self.prefix}scopes/{plugin}"

    # ---- primitives ----------------------------------------------------------------------
    def read(self, plugin: str, scope: str, key: str) -> Value | None:
        raw = self._call(self.client.get, self._key(plugin, scope, key))
        return None if raw is None else decode_data(raw)

    def _apply(self, ops: Sequence[Op]) -> None:
        if len(ops) == 1 and isinstance(ops[0], Put):
            # one property: one script call instead of a seven-command transaction; a script
            # runs atomically, like MULTI/EXEC, and does the same work
            op = ops[0]
            path = f"{op.plugin}/{op.scope}/{op.key}"
            raw = encode_data(op.data)
            notice = f"[[{_json_str(path)},{_json_str(raw)}]]"
            self._call(self._cas, self.client, [self._data + path, self._idx(op.plugin, op.scope),
                                                 self._scopes_key(op.plugin), self._plugins_key, self.channel],
                       ["any", "", "0", raw, op.key, op.scope, op.plugin, notice])
            return
        final: dict[tuple[str, str, str], Op] = {}
        for each in ops:
            final[(each.plugin, each.scope, each.key)] = each
        puts: dict[str, str] = {}
        deletes: list[str] = []
        added: dict[tuple[str, str], list[str]] = {}
        removed: dict[tuple[str, str], list[str]] = {}
        changes: list[tuple[str, str | None]] = []
        for (plugin, scope, key), change in final.items():
            path = f"{plugin}/{scope}/{key}"
            if isinstance(change, Delete):
                deletes.append(self._data + path)
                removed.setdefault((plugin, scope), []).append(key)
                changes.append((path, None))
            else:
                raw = puts[self._data + path] = encode_data(change.data)
                added.setdefault((plugin, scope), []).append(key)
                changes.append((path, raw))

        def run() -> None:
            pipe = self.client.pipeline(transaction=True)
            self._queue(pipe, puts, deletes, added, removed, changes)
            pipe.execute()

        self._call(run)

    def _apply_batch(self, batch: list[Op], progress: Callable[[int], None]) -> None:
        """The whole batch in one MULTI/EXEC: redis runs all of it or, if EXEC never comes
        (a dropped connection, a refused command), none of it."""
        self._apply(batch)
        progress(len(batch))

    def _queue(self, pipe: Any, puts: dict[str, str], deletes: list[str],
               added: dict[tuple[str, str], list[str]], removed: dict[tuple[str, str], list[str]],
               changes: list[tuple[str, str | None]]) -> None:
        """Queue one batch's writes, index updates and change notice on ``pipe`` (in MULTI)."""
        if len(puts) == 1:
            ((k, v),) = puts.items()
            pipe.set(k, v)
        elif puts:
            items = list(puts.items())
            for i in range(0, len(items), BATCH):
                pipe.mset(dict(items[i:i + BATCH]))
        for i in range(0, len(deletes), BATCH):
            pipe.delete(*deletes[i:i + BATCH])
        scopes: dict[str, list[str]] = {}
        for (plugin, scope), keys in added.items():
            pipe.sadd(self._idx(plugin, scope), *keys)
            scopes.setdefault(plugin, []).append(scope)
        for plugin, names in scopes.items():
            pipe.sadd(self._scopes_key(plugin), *names)
        if scopes:
            pipe.sadd(self._plugins_key, *scopes)
        for (plugin, scope), keys in removed.items():
            idx = self._idx(plugin, scope)
            pipe.srem(idx, *keys)
            self._prune(keys=[idx, self._scopes_key(plugin), self._plugins_key], args=[scope, plugin],
                        client=pipe)
        pipe.publish(self.channel, json.dumps(changes, ensure_ascii=False, separators=(",", ":")))

    def _update(self, plugin: str, scope: str, key: str,
                fn: Callable[[Value | None], Value | None]) -> Value | None:
        """GET, compute, then one compare-and-set script that writes only if the key still
        holds what was read (else read again and retry): two round trips, where WATCH, GET
        and MULTI/EXEC took three and a pipeline each time."""
        path = f"{plugin}/{scope}/{key}"
        keys = [self._data + path, self._idx(plugin, scope), self._scopes_key(plugin), self._plugins_key,
                self.channel]
        while True:
            raw = self._call(self.client.get, keys[0])
            current = None if raw is None else decode_data(raw)
            new = fn(current)
            if new == current:
                return new
            if new is None:
                encoded, notice = "", f"[[{_json_str(path)},null]]"
            else:
                encoded = encode_data(new)
                notice = f"[[{_json_str(path)},{_json_str(encoded)}]]"
            args = ["0" if raw is None else "1", raw or "", "1" if new is None else "0", encoded,
                    key, scope, plugin, notice]
            if self._call(self._cas, self.client, keys, args):
                return new

    def list_add(self, plugin: str, scope: str, key: str, item: str, index: int = 0) -> None:
        """An append is one script call, as atomic as ``update`` (the script runs alone) at
        the cost of one APPEND; an insert at an index is the generic read-modify-write."""
        if index > 0:
            super().list_add(plugin, scope, key, item, index)
            return
        item = item.strip()
        check_op(Put(plugin, scope, key, [item]))
        if self._fences:
            self.check_fences()
        path = f"{plugin}/{scope}/{key}"
        self._call(self._append, self.client, [self._data + path], [f"{item}\n", path])

    def claim(self, plugin: str, key: str, owner: str) -> str:
        """Create-if-absent first: SET NX in one script with the indexes and the notice, one
        round trip; only a name already held costs the read of ``update``."""
        self._check_claim(plugin, key, owner)
        path = f"{plugin}/{GLOBAL_SCOPE}/{key}"
        if self._call(self._claim, self.client, [self._data + path], [encode_data(owner), path]):
            return owner
        return super().claim(plugin, key, owner)

    def iter_properties(self, plugin: str | None = None, scope: str | None = None) -> Iterator[Property]:
        if plugin is not None:
            validate_component("plugin", plugin)
        if scope is not None:
            validate_component("scope", scope)
        if plugin is None and scope is None:
            yield from self._iter_scan()
            return
        for p in [plugin] if plugin is not None else self.plugins():
            for s in [scope] if scope is not None else self.scopes(p):
                keys = sorted(self._call(self.client.smembers, self._idx(p, s)))
                for i in range(0, len(keys), BATCH):
                    chunk = keys[i:i + BATCH]
                    values = self._call(self.client.mget, [self._key(p, s, k) for k in chunk])
                    for k, raw in zip(chunk, values, strict=True):
                        if raw is not None:
                            yield _property(p, s, k, raw)

    def _iter_scan(self) -> Iterator[Property]:
        pattern = _glob_escape(self._data) + "*"
        start = len(self._data)
        cursor: Any = 0
        while True:
            cursor, keys = self._call(self.client.scan, cursor, match=pattern, count=BATCH)
            if keys:
                values = self._call(self.client.mget, keys)
                for k, raw in zip(keys, values, strict=True):
                    if raw is None:
                        continue
                    parts = k[start:].split("/")
                    if len(parts) == 3:
                        yield _property(parts[0], parts[1], parts[2], raw)
            if not cursor:
                return

    def plugins(self) -> list[str]:
        return sorted(self._call(self.client.smembers, self._plugins_key))

    def scopes(self, plugin: str | None = None) -> list[str]:
        if plugin is not None:
            validate_component("plugin", plugin)
            return sorted(self._call(self.client.smembers, self._scopes_key(plugin)))
        plugins = self.plugins()
        if not plugins:
            return []
        return sorted(self._call(self.client.sunion, [self._scopes_key(p) for p in plugins]))

    @contextmanager
    def lock(self, name: str, timeout: float = 0.0) -> Iterator[None]:
        validate_component("lock name", name)
        key = f"{self.prefix}lock/{name}"
        token = os.urandom(16).hex()
        ttl_ms = int(lock_ttl(LOCK_TTL_MS / 1000) * 1000)
        deadline = time.monotonic() + timeout
        while not self._call(self.client.set, key, token, nx=True, px=ttl_ms):
            if time.monotonic() >= deadline:
                raise LockHeld(f"lock {name!r} is held by another process")
            time.sleep(0.02)
        renew = functools.partial(self.client.eval, _RENEW, 1, key, token, ttl_ms)
        try:
            with self._fenced(name, ttl_ms / 1000) as fence, kept_alive(renew, ttl_ms / 1000, name, fence):
                yield
        finally:
            self._call(self.client.eval, _RELEASE, 1, key, token)

    def watch(self, prefix: str = "") -> Iterator[WatchEvent]:
        """Subscribe now (so no later change is missed) and yield changes under ``prefix``."""
        parts = watch_filter(prefix)
        pubsub = self.client.pubsub()

        def subscribe() -> None:
            pubsub.subscribe(self.channel)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                msg = pubsub.get_message(timeout=1.0)
                if msg and msg.get("type") == "subscribe":
                    return
            raise DockyardError(f"redis store {self.display_url}: no reply to SUBSCRIBE")

        self._call(subscribe)
        return self._watch_events(pubsub, parts)

    def _watch_events(self, pubsub: Any, parts: tuple[str, ...]) -> Iterator[WatchEvent]:
        try:
            while True:
                msg = self._call(pubsub.get_message, timeout=1.0, ignore_subscribe_messages=True)
                if not msg or msg.get("type") != "message":
                    continue
                for path, raw in json.loads(msg["data"]):
                    coords = path.split("/")
                    if len(coords) == 3 and watch_matches(parts, *coords):
                        if isinstance(raw, dict):  # an append names only its bytes: read the list
                            raw = self._call(self.client.get, self._data + path)
                        yield WatchEvent(coords[0], coords[1], coords[2], None if raw is None else decode_data(raw))
        finally:
            try:
                pubsub.close()
            except redis.RedisError:
                pass

    def close(self) -> None:
        self.client.close()


def _property(plugin: str, scope: str, key: str, raw: str) -> Property:
    if raw.endswith("\n"):
        return Property(plugin, scope, key, items=tuple(raw[:-1].split("\n")))
    return Property(plugin, scope, key, value=raw)
