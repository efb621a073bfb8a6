"""The redis store's Lua scripts, as an operator's server treats them.

The store calls its scripts by SHA (EVALSHA); a server that restarted or ran SCRIPT FLUSH
no longer knows them. Each write must still land, once, with its change notice, and a list
append announces the bytes it appended, and a watcher still sees the whole list.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dockyard.core import open_propstore


@pytest.fixture
def redis_store(store_url_factory: Any) -> Any:
    store = open_propstore(store_url_factory("redis"))
    yield store
    store.close()


def test_writes_land_after_the_server_forgot_the_scripts(redis_store: Any) -> None:
    redis_store.list_write("domains", "shop", "vhosts", ["shop.example.com"])  # the scripts are known now
    redis_store.client.script_flush()
    redis_store.list_add("domains", "shop", "vhosts", "www.example.com")
    redis_store.client.script_flush()
    redis_store.set("config", "shop", "env", "A=1")
    redis_store.client.script_flush()
    assert redis_store.claim("ports", "tcp-7700", "shop") == "shop"
    redis_store.client.script_flush()
    redis_store.update("config", "shop", "env", lambda v: f"{v}\nB=2")

    # the append ran once: the retry after NOSCRIPT did not add the item twice
    assert redis_store.list_get("domains", "shop", "vhosts") == ["shop.example.com", "www.example.com"]
    assert redis_store.get("config", "shop", "env") == "A=1\nB=2"
    assert redis_store.get("ports", "--global", "tcp-7700") == "shop"


def test_a_list_append_announces_its_bytes_and_watchers_see_the_whole_list(redis_store: Any) -> None:
    pubsub = redis_store.client.pubsub()
    pubsub.subscribe(redis_store.channel)
    events = redis_store.watch("domains/shop")
    try:
        deadline = time.monotonic() + 5
        while pubsub.get_message(timeout=0.1) is None and time.monotonic() < deadline:
            pass  # the subscribe confirmation
        redis_store.set("domains", "shop", "vhosts", "a.example.com")  # a single value first
        redis_store.list_add("domains", "shop", "vhosts", "b.example.com")
        redis_store.list_add("domains", "other", "vhosts", "c.example.com")  # a new key
        notices = []
        while len(notices) < 3 and time.monotonic() < deadline:
            msg = pubsub.get_message(timeout=0.2)
            if msg and msg["type"] == "message":
                notices.append(json.loads(msg["data"]))
        seen = [next(events), next(events)]
    finally:
        pubsub.close()
        events.close()
    assert notices == [[["domains/shop/vhosts", "a.example.com"]],
                       [["domains/shop/vhosts", {"append": "\nb.example.com\n"}]],
                       [["domains/other/vhosts", {"append": "c.example.com\n"}]]]
    assert [(e.scope, e.key, e.data) for e in seen] == [
        ("shop", "vhosts", "a.example.com"), ("shop", "vhosts", ["a.example.com", "b.example.com"])]
    assert redis_store.scopes("domains") == ["other", "shop"]
    assert list(redis_store.get_all("domains", "other")) == ["vhosts"]


def test_a_prefix_with_quotes_and_newlines_cannot_change_the_script(redis_url: str) -> None:
    """The append script carries the store's prefix in its text; any prefix stays data."""
    from urllib.parse import quote

    prefix = "t'\"\\\n]]-- é:"
    store = open_propstore(f"{redis_url}?prefix={quote(prefix)}")
    try:
        store.list_add("domains", "shop", "vhosts", "a.example.com")
        store.list_add("domains", "shop", "vhosts", "b.example.com")
        assert store.list_get("domains", "shop", "vhosts") == ["a.example.com", "b.example.com"]
        assert store.scopes("domains") == ["shop"] and "domains" in store.plugins()
        assert store.client.smembers(f"{prefix}idx/domains/shop") == {"vhosts"}
    finally:
        for key in store.client.scan_iter(match=prefix.replace("\\", "\\\\").replace("*", "\\*") + "*"):
            store.client.delete(key)
        store.close()


def test_a_claim_is_one_script_that_indexes_and_announces(redis_store: Any) -> None:
    pubsub = redis_store.client.pubsub()
    pubsub.subscribe(redis_store.channel)
    try:
        deadline = time.monotonic() + 5
        while pubsub.get_message(timeout=0.1) is None and time.monotonic() < deadline:
            pass
        assert redis_store.claim("ports", "tcp-7700", "shop") == "shop"
        assert redis_store.claim("ports", "tcp-7700", "blog") == "shop"  # held: the holder comes back
        assert redis_store.claim("ports", "tcp-7700", "shop") == "shop"  # the holder again: a no-op
        notices = []
        while time.monotonic() < deadline and len(notices) < 2:
            msg = pubsub.get_message(timeout=0.3)
            if msg and msg["type"] == "message":
                notices.append(json.loads(msg["data"]))
            elif notices:
                break
    finally:
        pubsub.close()
    assert notices == [[["ports/--global/tcp-7700", "shop"]]]  # one write, announced once
    assert redis_store.scopes("ports") == ["--global"]
    assert list(redis_store.get_all("ports", "--global")) == ["tcp-7700"]
