"""The property-store conformance suite, and throwaway redis/etcd servers to run it against.

A store passes if it behaves as Dokku's property library does and as the other stores do.
To run the suite on a third-party store, subclass ``PropertyStoreSuite`` in a test module
and provide a ``store`` fixture that yields an empty store (and wipes it afterwards)::

    import pytest
    from dockyard.testing.propstores import PropertyStoreSuite

    class TestMyStore(PropertyStoreSuite):
        @pytest.fixture
        def store(self):
            s = open_propstore("mystore://…?prefix=unique")
            yield s
            s.close()

The suite opens a second handle on the same data with ``open_propstore(store.url)`` for the
lock and watch tests, so the URL must name the same data each time it is opened. Tests of
an optional capability (watch) check that a store without it raises ``NotSupported``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from dockyard.core.errors import DockyardError, LockHeld, NotSupported, ValidationError
from dockyard.propstores.base import Delete, Op, Property, PropertyStore, Put, StoreCapability, WatchEvent
from dockyard.testing.ports import free_port

__all__ = ["PropertyStoreSuite", "free_port", "run_etcd_server", "run_redis_server"]


# ---- throwaway servers ---------------------------------------------------------------------


def _wait_ready(check: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, log: Path,
                timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {_tail(log)}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f}s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-1500:]
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def run_redis_server(binary: str, workdir: Path, port: int | None = None) -> Iterator[str]:
    """A redis-server on a free (or the given) loopback port, no persistence; yields its URL."""
    port = port or free_port()
    log = workdir / "redis.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
             "--dir", str(workdir), "--daemonize", "no"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:

        def ping() -> bool:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")

        _wait_ready(ping, proc, "redis-server", log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)


@contextlib.contextmanager
def run_etcd_server(binary: str, workdir: Path, ports: tuple[int, int] | None = None) -> Iterator[str]:
    """A single-member etcd on free (or the given client, peer) loopback ports; yields its URL.

    Its data stays in ``workdir``, so stopping it and starting it again there is a restart.
    """
    client, peer = ports or (free_port(), free_port())
    log = workdir / "etcd.log"
    data = workdir / "data"
    env = dict(os.environ, ETCD_UNSUPPORTED_ARCH=os.environ.get("ETCD_UNSUPPORTED_ARCH", ""))
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "--name", "default", "--data-dir", str(data),
             "--listen-client-urls", f"http://127.0.0.1:{client}",
             "--advertise-client-urls", f"http://127.0.0.1:{client}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", f"default=http://127.0.0.1:{peer}"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    try:

        def healthy() -> bool:
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=1) as resp:
                return b'"true"' in resp.read()

        _wait_ready(healthy, proc, "etcd", log)
        yield f"etcd://127.0.0.1:{client}"
    finally:
        _stop(proc)


# ---- the suite ------------------------------------------------------------------------------
def _second_handle(store: PropertyStore) -> PropertyStore:
    from dockyard.core import open_propstore

    return open_propstore(store.url)


def _snapshot(store: PropertyStore) -> list[Property]:
    return sorted(store.iter_properties(), key=lambda p: (p.plugin, p.scope, p.key))


BAD_NAMES = ["", ".", "..", "a/b", "/", "tab\there", "nl\nx", "nul\x00", "esc\x1b[31m", "del\x7f"]


class PropertyStoreSuite:
    """Every behaviour a property store must have. Needs a ``store`` fixture (empty store)."""

    # ---- single values ---------------------------------------------------------------------
    def test_missing_property(self, store: PropertyStore) -> None:
        assert store.get("nginx", "web", "hsts") is None
        assert store.get("nginx", "web", "hsts", "true") == "true"
        assert store.exists("nginx", "web", "hsts") is False
        assert store.delete("nginx", "web", "hsts") is False
        assert store.read("nginx", "web", "hsts") is None

    def test_set_get_exists_delete(self, store: PropertyStore) -> None:
        store.set("nginx", "web", "hsts", "false")
        assert store.get("nginx", "web", "hsts") == "false"
        assert store.get("nginx", "web", "hsts", "true") == "false"
        assert store.exists("nginx", "web", "hsts")
        store.set("nginx", "web", "hsts", "true")
        assert store.get("nginx", "web", "hsts") == "true"
        assert store.delete("nginx", "web", "hsts") is True
        assert not store.exists("nginx", "web", "hsts")
        assert store.get("nginx", "web", "hsts") is None

    def test_empty_value_is_not_missing(self, store: PropertyStore) -> None:
        store.set("apps", "web", "note", "")
        assert store.exists("apps", "web", "note")
        assert store.get("apps", "web", "note", "default") == ""
        assert store.read("apps", "web", "note") == ""

    def test_values_round_trip_exactly(self, store: PropertyStore) -> None:
        pem = "-----BEGIN CERTIFICATE-----\nMIIB\nxyz==\n-----END CERTIFICATE-----"
        values = {
            "percent": "100% %s %d %%",
            "unicode": "héllo wörld ✓ 日本",
            "pem": pem,
            "spaces": "  padded  ",
            "quotes": "it's \"quoted\" \\ back",
            "crlf-inside": "a\r\nb",
            "json": '{"a": [1, 2]}',
        }
        store.apply([Put("certs", "web", k, v) for k, v in values.items()])
        for key, value in values.items():
            assert store.get("certs", "web", key) == value, key
            assert store.read("certs", "web", key) == value, key
        assert store.get_all("certs", "web") == values

    def test_names_dokku_uses(self, store: PropertyStore) -> None:
        names = ["DOKKU_PROXY_PORT", "bind-all-interfaces", "tls.crt", "a:b", "star*", "q?", "[x]", "ü-key",
                 "100%", "with space"]
        store.apply([Put("weird:plugin*", "--global", n, n.upper()) for n in names])
        assert store.get_all("weird:plugin*", "--global") == {n: n.upper() for n in names}
        assert store.scopes("weird:plugin*") == ["--global"]
        assert "weird:plugin*" in store.plugins()

    def test_value_ending_in_newline_reads_as_list(self, store: PropertyStore) -> None:
        # Dokku's files carry no type: what ends in "\n" is a list, on every store
        store.set("ports", "web", "map", "http:80:5000\nhttps:443:5000\n")
        assert store.list_get("ports", "web", "map") == ["http:80:5000", "https:443:5000"]
        assert store.read("ports", "web", "map") == ["http:80:5000", "https:443:5000"]
        assert store.get("ports", "web", "map") == "http:80:5000\nhttps:443:5000\n"

    def test_get_of_list_gives_dokku_bytes(self, store: PropertyStore) -> None:
        store.list_write("domains", "web", "vhosts", ["a.example", "b.example"])
        assert store.get("domains", "web", "vhosts") == "a.example\nb.example\n"

    # ---- validation --------------------------------------------------------------------------
    def test_bad_names_rejected_and_nothing_written(self, store: PropertyStore) -> None:
        store.set("keep", "web", "k", "v")
        before = _snapshot(store)
        for bad in BAD_NAMES:
            for coords in ((bad, "web", "k"), ("p", bad, "k"), ("p", "web", bad)):
                try:
                    store.set(*coords, "x")
                except ValidationError:
                    pass
                else:
                    raise AssertionError(f"accepted bad name {coords!r}")
                try:
                    store.get(*coords)
                except ValidationError:
                    pass
                else:
                    raise AssertionError(f"read with bad name {coords!r}")
        assert _snapshot(store) == before

    def test_dot_key_rejected(self, store: PropertyStore) -> None:
        for coords in ((".hidden", "web", "k"), ("p", "web", ".tmp-x")):
            try:
                store.set(*coords, "x")
            except ValidationError:
                continue
            raise AssertionError(f"accepted {coords!r}")

    def test_bad_values_rejected(self, store: PropertyStore) -> None:
        for bad in ("nul\x00inside", b"bytes", 5, None):
            try:
                store.set("p", "web", "k", bad)  # type: ignore[arg-type]
            except ValidationError:
                continue
            raise AssertionError(f"accepted value {bad!r}")
        for items in (["ok", "line\nbreak"], ["cr\rx"], ["nul\x00"], [1]):
            try:
                store.list_write("p", "web", "l", items)  # type: ignore[arg-type]
            except ValidationError:
                continue
            raise AssertionError(f"accepted list {items!r}")
        assert _snapshot(store) == []

    def test_invalid_op_in_batch_writes_nothing(self, store: PropertyStore) -> None:
        store.set("p", "web", "existing", "old")
        ops: list[Op] = [Put("p", "web", f"k{i}", "v") for i in range(20)]
        ops += [Delete("p", "web", "existing"), Put("p", "..", "k", "v")]
        try:
            store.apply(ops)
        except ValidationError:
            pass
        else:
            raise AssertionError("a batch with a bad name was applied")
        assert _snapshot(store) == [Property("p", "web", "existing", value="old")]

    # ---- lists ---------------------------------------------------------------------------------
    def test_missing_list_is_empty(self, store: PropertyStore) -> None:
        assert store.list_get("ports", "web", "map") == []
        assert store.list_length("ports", "web", "map") == 0
        assert store.list_remove("ports", "web", "map", "x") == 0

    def test_list_add_semantics(self, store: PropertyStore) -> None:
        store.list_add("ports", "web", "map", "b")
        store.list_add("ports", "web", "map", "  d  ")  # trimmed, as Dokku does
        store.list_add("ports", "web", "map", "a", index=1)  # 1-based insert position
        store.list_add("ports", "web", "map", "c", index=3)
        store.list_add("ports", "web", "map", "e", index=99)  # past the end appends
        assert store.list_get("ports", "web", "map") == ["a", "b", "c", "d", "e"]
        assert store.list_length("ports", "web", "map") == 5

    def test_list_set_remove_prefix(self, store: PropertyStore) -> None:
        store.list_write("ports", "web", "map", ["http:80:5000", "https:443:5000", "http:8080:5000"])
        store.list_set("ports", "web", "map", 1, "https:8443:5000")
        store.list_set("ports", "web", "map", 10, "tcp:9000:9000")
        assert store.list_get("ports", "web", "map") == [
            "http:80:5000", "https:8443:5000", "http:8080:5000", "tcp:9000:9000"]
        assert store.list_remove_prefix("ports", "web", "map", "http:") == 2
        assert store.list_get("ports", "web", "map") == ["https:8443:5000", "tcp:9000:9000"]
        assert store.list_remove("ports", "web", "map", "tcp:9000:9000") == 1
        assert store.list_remove("ports", "web", "map", "nope") == 0
        assert store.list_get("ports", "web", "map") == ["https:8443:5000"]

    def test_list_that_becomes_empty_is_deleted(self, store: PropertyStore) -> None:
        store.list_write("domains", "web", "vhosts", ["a.example"])
        assert store.exists("domains", "web", "vhosts")
        store.list_remove("domains", "web", "vhosts", "a.example")
        assert not store.exists("domains", "web", "vhosts")
        assert store.list_get("domains", "web", "vhosts") == []
        store.list_write("domains", "web", "vhosts", ["x"])
        store.list_write("domains", "web", "vhosts", [])
        assert not store.exists("domains", "web", "vhosts")
        assert "web" not in store.scopes("domains")

    def test_list_with_empty_and_unicode_items(self, store: PropertyStore) -> None:
        store.list_write("p", "web", "l", ["", "ü", "100%", " x"])
        assert store.list_get("p", "web", "l") == ["", "ü", "100%", " x"]
        assert store.get_all("p", "web") == {"l": ["", "ü", "100%", " x"]}

    def test_value_read_as_list(self, store: PropertyStore) -> None:
        store.set("p", "web", "single", "one")
        assert store.list_get("p", "web", "single") == ["one"]
        store.set("p", "web", "blank", "")
        assert store.list_get("p", "web", "blank") == []

    # ---- batches ---------------------------------------------------------------------------
    def test_apply_puts_and_deletes(self, store: PropertyStore) -> None:
        store.apply([Put("a", "web", "x", "1"), Put("a", "web", "y", ["l1", "l2"]), Put("b", "--global", "z", "3")])
        store.apply([Delete("a", "web", "x"), Put("a", "web", "w", "4"), Delete("a", "web", "never-was")])
        assert _snapshot(store) == [
            Property("a", "web", "w", value="4"),
            Property("a", "web", "y", items=("l1", "l2")),
            Property("b", "--global", "z", value="3"),
        ]

    def test_apply_order_last_op_wins(self, store: PropertyStore) -> None:
        store.apply([Put("a", "web", "x", "1"), Delete("a", "web", "x")])
        assert not store.exists("a", "web", "x")
        store.apply([Delete("a", "web", "y"), Put("a", "web", "y", "2"), Put("a", "web", "y", "3")])
        assert store.get("a", "web", "y") == "3"

    def test_large_batch(self, store: PropertyStore) -> None:
        # more than etcd's 128 operations per transaction, and than one page of a scan
        ops = [Put("bulk", f"app{i % 7}", f"key{i:04d}", f"value {i}") for i in range(1500)]
        store.apply(ops)
        assert store.count() == 1500
        assert store.get("bulk", "app3", "key0003") == "value 3"
        got = {(p.scope, p.key): p.value for p in store.iter_properties()}
        assert got == {(op.scope, op.key): op.data for op in ops}
        store.apply([Delete(op.plugin, op.scope, op.key) for op in ops])
        assert store.count() == 0
        assert store.plugins() == []

    def test_empty_batch(self, store: PropertyStore) -> None:
        store.apply([])
        assert store.count() == 0

    # ---- iteration and scopes ------------------------------------------------------------------
    def _fill(self, store: PropertyStore) -> None:
        store.apply([
            Put("apps", "web", "created-at", "1"),
            Put("apps", "api", "created-at", "2"),
            Put("config", "web", "A", "1"),
            Put("config", "web", "B", "2"),
            Put("config", "--global", "G", "g"),
            Put("ports", "web", "map", ["http:80:5000"]),
            Put("ports", "api", "map", ["http:80:6000", "https:443:6000"]),
        ])

    def test_iteration_and_filters(self, store: PropertyStore) -> None:
        self._fill(store)
        everything = _snapshot(store)
        assert len(everything) == 7
        assert store.count() == 7
        assert sorted(store.iter_all()) == everything
        web = sorted((p.plugin, p.key) for p in store.iter_properties(scope="web"))
        assert web == [("apps", "created-at"), ("config", "A"), ("config", "B"), ("ports", "map")]
        cfg = sorted((p.scope, p.key) for p in store.iter_properties(plugin="config"))
        assert cfg == [("--global", "G"), ("web", "A"), ("web", "B")]
        one = list(store.iter_properties(plugin="ports", scope="api"))
        assert one == [Property("ports", "api", "map", items=("http:80:6000", "https:443:6000"))]
        assert list(store.iter_properties(plugin="nothing")) == []
        assert list(store.iter_properties(scope="nobody")) == []

    def test_plugins_and_scopes(self, store: PropertyStore) -> None:
        assert store.plugins() == []
        assert store.scopes() == []
        self._fill(store)
        assert store.plugins() == ["apps", "config", "ports"]
        assert store.scopes() == ["--global", "api", "web"]
        assert store.scopes("apps") == ["api", "web"]
        assert store.scopes("config") == ["--global", "web"]
        assert store.scopes("missing") == []
        store.delete("config", "--global", "G")
        assert store.scopes("config") == ["web"]
        assert "--global" not in store.scopes()

    def test_get_all(self, store: PropertyStore) -> None:
        self._fill(store)
        assert store.get_all("config", "web") == {"A": "1", "B": "2"}
        assert store.get_all("ports", "api") == {"map": ["http:80:6000", "https:443:6000"]}
        assert store.get_all("config", "nobody") == {}

    def test_destroy_scope(self, store: PropertyStore) -> None:
        self._fill(store)
        assert store.destroy_scope("web") == 4
        assert list(store.iter_properties(scope="web")) == []
        assert "web" not in store.scopes()
        assert store.scopes("apps") == ["api"]
        assert store.count() == 3
        assert store.destroy_scope("web") == 0

    def test_clone_scope(self, store: PropertyStore) -> None:
        self._fill(store)
        assert store.clone_scope("web", "web2") == 4
        assert store.get_all("config", "web2") == {"A": "1", "B": "2"}
        assert store.list_get("ports", "web2", "map") == ["http:80:5000"]
        assert store.get_all("config", "web") == {"A": "1", "B": "2"}
        assert store.count() == 11
        try:
            store.clone_scope("web", "web")
        except ValidationError:
            pass
        else:
            raise AssertionError("cloned a scope onto itself")

    def test_rename_scope(self, store: PropertyStore) -> None:
        self._fill(store)
        assert store.rename_scope("web", "site") == 4
        assert list(store.iter_properties(scope="web")) == []
        assert store.get_all("config", "site") == {"A": "1", "B": "2"}
        assert store.list_get("ports", "site", "map") == ["http:80:5000"]
        assert store.scopes("apps") == ["api", "site"]
        assert store.count() == 7
        try:
            store.rename_scope("site", "..")
        except ValidationError:
            pass
        else:
            raise AssertionError("renamed to a bad scope")
        assert store.count() == 7

    def test_second_handle_sees_writes(self, store: PropertyStore) -> None:
        other = _second_handle(store)
        try:
            store.set("p", "web", "k", "v1")
            assert other.get("p", "web", "k") == "v1"
            other.list_write("p", "web", "l", ["a"])
            assert store.list_get("p", "web", "l") == ["a"]
        finally:
            other.close()

    def test_concurrent_writers_on_different_keys(self, store: PropertyStore) -> None:
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            handle = _second_handle(store)
            try:
                for i in range(25):
                    handle.set("conc", f"s{n}", f"k{i}", str(i))
            except BaseException as exc:
                errors.append(exc)
            finally:
                handle.close()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.count() == 100
        assert store.scopes("conc") == ["s0", "s1", "s2", "s3"]

    # ---- atomic read-modify-write across processes ------------------------------------------
    def _run_processes(self, store: PropertyStore, script: str, n: int) -> list[str]:
        """Run ``script`` (with URL and N defined) in ``n`` processes released at one moment."""
        import sys

        prelude = (
            "import sys, time\n"
            "from dockyard.core import open_propstore\n"
            "URL, N, START = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])\n"
            "s = open_propstore(URL)\n"
            "time.sleep(max(0.0, START - time.time()))\n"
        )
        start = time.time() + 1.5  # every process has imported and connected by then
        procs = [subprocess.Popen([sys.executable, "-c", prelude + script, store.url, str(i), str(start)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(n)]
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            outputs.append(out.strip())
        return outputs

    def test_concurrent_list_adds_keep_every_item(self, store: PropertyStore) -> None:
        self._run_processes(store, "for i in range(30):\n    s.list_add('conc', 'app', 'l', f'{N}-{i}')\n", 6)
        items = store.list_get("conc", "app", "l")
        assert sorted(items) == sorted(f"{n}-{i}" for n in range(6) for i in range(30))

    def test_concurrent_updates_are_serialised(self, store: PropertyStore) -> None:
        script = ("for i in range(20):\n"
                  "    s.update('conc', 'app', 'n', lambda cur: str(int(cur or '0') + 1))\n")
        self._run_processes(store, script, 5)
        assert store.get("conc", "app", "n") == "100"

    def test_exactly_one_claim_wins(self, store: PropertyStore) -> None:
        script = "print(s.claim('claims', 'tcp-7700', f'app{N}'))\n"
        holders = self._run_processes(store, script, 8)
        assert len(set(holders)) == 1, holders
        winner = holders[0]
        assert store.get("claims", "--global", "tcp-7700") == winner
        assert store.claim("claims", "tcp-7700", "other") == winner
        assert store.release("claims", "tcp-7700", "other") is False
        assert store.release("claims", "tcp-7700", winner) is True
        assert not store.exists("claims", "--global", "tcp-7700")
        assert store.claim("claims", "tcp-7700", "other") == "other"

    def test_update_validates_and_deletes(self, store: PropertyStore) -> None:
        store.set("u", "app", "k", "v")
        try:
            store.update("u", "app", "k", lambda cur: "bad\x00value")
        except ValidationError:
            pass
        else:
            raise AssertionError("update wrote a value with a NUL")
        assert store.get("u", "app", "k") == "v"
        assert store.update("u", "app", "k", lambda cur: None) is None
        assert not store.exists("u", "app", "k")
        assert store.update("u", "app", "k", lambda cur: ["a", "b"]) == ["a", "b"]
        assert store.list_get("u", "app", "k") == ["a", "b"]

    # ---- locks -------------------------------------------------------------------------------
    def test_lock_is_exclusive_across_handles(self, store: PropertyStore) -> None:
        other = _second_handle(store)
        try:
            with store.lock("deploy-web"):
                start = time.monotonic()
                try:
                    with other.lock("deploy-web", timeout=0.3):
                        raise AssertionError("lock acquired twice")
                except LockHeld as exc:
                    assert "deploy-web" in str(exc)
                assert time.monotonic() - start >= 0.25
                with other.lock("deploy-api"):  # other names are independent
                    pass
            with other.lock("deploy-web", timeout=2):
                pass
        finally:
            other.close()

    def test_lock_released_on_error(self, store: PropertyStore) -> None:
        try:
            with store.lock("deploy-web"):
                raise KeyError("boom")
        except KeyError:
            pass
        with store.lock("deploy-web", timeout=2):
            pass

    def test_lock_waits_for_release(self, store: PropertyStore) -> None:
        other = _second_handle(store)
        acquired = threading.Event()
        release = threading.Event()

        def holder() -> None:
            with other.lock("deploy-web"):
                acquired.set()
                release.wait(5)

        t = threading.Thread(target=holder)
        t.start()
        try:
            assert acquired.wait(5)
            threading.Timer(0.3, release.set).start()
            start = time.monotonic()
            with store.lock("deploy-web", timeout=5):
                waited = time.monotonic() - start
            assert 0.2 <= waited < 4.5
        finally:
            release.set()
            t.join()
            other.close()

    def test_lock_name_validated(self, store: PropertyStore) -> None:
        try:
            with store.lock("../escape"):
                pass
        except ValidationError:
            return
        raise AssertionError("lock name with '/' accepted")

    def test_locks_are_not_properties(self, store: PropertyStore) -> None:
        with store.lock("deploy-web"):
            assert store.count() == 0
            assert store.plugins() == []

    # ---- watch --------------------------------------------------------------------------------
    def test_watch_sees_changes_from_another_handle(self, store: PropertyStore) -> None:
        if StoreCapability.WATCH not in store.capabilities:
            try:
                store.watch("config")
            except NotSupported:
                return
            raise AssertionError("a store without WATCH must raise NotSupported")
        events: queue.Queue[WatchEvent] = queue.Queue()
        watcher = store.watch("config/web")
        stop = threading.Event()

        def pump() -> None:
            try:
                for ev in watcher:
                    events.put(ev)
                    if stop.is_set():
                        return
            finally:
                close = getattr(watcher, "close", None)
                if close is not None:
                    close()

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        other = _second_handle(store)
        try:
            other.set("config", "other-app", "A", "ignored")  # outside the prefix
            other.set("config", "web2", "A", "ignored")  # a scope that only starts the same
            other.set("config", "web", "A", "1")
            other.list_write("config", "web", "L", ["x", "y"])
            other.delete("config", "web", "A")
            other.list_add("config", "web", "L", "a/\u00fc \"q\"")  # a store's own append path too
            got = [events.get(timeout=10) for _ in range(4)]
        finally:
            stop.set()
            other.set("config", "web", "Z", "wake")  # let the pump see stop
            other.close()
        assert got == [
            WatchEvent("config", "web", "A", "1"),
            WatchEvent("config", "web", "L", ["x", "y"]),
            WatchEvent("config", "web", "A", None),
            WatchEvent("config", "web", "L", ["x", "y", "a/\u00fc \"q\""]),
        ]
        thread.join(10)
        assert not thread.is_alive()

    # ---- urls -------------------------------------------------------------------------------
    def test_display_url_has_no_password(self, store: PropertyStore) -> None:
        assert ":***@" in store.display_url or store.display_url == store.url
        from dockyard.propstores.base import redact_url

        assert "s3cret" not in redact_url(store.url.replace("://", "://user:s3cret@", 1))

    def test_errors_are_dockyard_errors(self, store: PropertyStore) -> None:
        try:
            store.get("p", "", "k")
        except DockyardError:
            return
        raise AssertionError("empty scope accepted")
