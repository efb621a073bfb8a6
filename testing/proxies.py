"""The proxy conformance suite: the same cases for every proxy driver.

Each case hands the driver routes as the core does (``AppRoutes``: listeners, port map,
domains) and checks what a user would check: the result of the build, and, for a proxy that
routes traffic (``routes_traffic``), whether a request with the app's Host header to the
proxy's port reaches the app's backend. A proxy that routes nothing on purpose (null) must
say so the same way every time: every build succeeds, nothing changes, nothing is routed.

The backends are small HTTP servers on loopback that the suite starts itself, so no
scheduler or container is needed. To run it on a driver, subclass ``ProxySuite`` and provide
two fixtures::

    import pytest
    from dockyard.testing.proxies import ProxySuite

    class TestMyProxy(ProxySuite):
        @pytest.fixture
        def store(self, tmp_path): ...     # the PropertyStore the proxy reads its settings from
        @pytest.fixture
        def proxy(self, store): ...        # the driver, bound to ``store``, serving on loopback

A routing proxy must listen on ``proxy_host`` (127.0.0.1 unless the module overrides the
fixture) at the host ports of the port map, and route ``http`` entries by Host header.

A module that can count how often the proxy checks a candidate config (``nginx -t``, say)
overrides ``validations`` with a callable returning that count so far: ``build_all`` is then
held to one check for many apps, and an unchanged ``force=False`` build to none.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from dockyard.core.errors import DockyardError, NotSupported, ProxyError
from dockyard.core.models import Listener, PortMapping
from dockyard.proxy.base import AppRoutes, Proxy
from dockyard.testing.ports import free_port

__all__ = ["Backend", "ProxySuite", "free_port"]

#: a listener host that passes the core's gathering (listeners come from the scheduler as
#: they are) but that no proxy may write into its config
HOSTILE_HOST = "127.0.0.1; return 200 owned"
#: a well-formed DNS name that never resolves (RFC 2606): a proxy that resolves its upstreams
#: when it loads a config refuses it, as it would a Kubernetes Service that does not exist
UNRESOLVABLE_HOST = "no-such-backend.invalid"
#: a report row as Dokku prints it: ``<plugin>-<key>``, lower case, words joined by "-"
_REPORT_KEY = r"[a-z0-9]+(?:-[a-z0-9]+)*"
#: each bad listener host: refused before the proxy's own check, and refused by it
_BAD_HOSTS = pytest.mark.parametrize("host", [HOSTILE_HOST, UNRESOLVABLE_HOST],
                                     ids=["hostile-host", "unresolvable-host"])


class _Answer(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the backend's name, so a test sees which backend it reached."""

    def do_GET(self) -> None:
        body = self.server.backend_name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass(frozen=True)
class Backend:
    """A running loopback HTTP server: where an app's instance would listen."""

    name: str
    port: int

    @property
    def listener(self) -> Listener:
        return Listener("127.0.0.1", self.port)


@dataclass(frozen=True)
class Reply:
    status: int
    body: str


class ProxySuite:
    """Subclass with ``store`` and ``proxy`` fixtures; see the module doc."""

    # ---- fixtures and helpers -----------------------------------------------------------
    @pytest.fixture
    def proxy_host(self) -> str:
        """The address the proxy listens on."""
        return "127.0.0.1"

    @pytest.fixture
    def validations(self) -> Callable[[], int] | None:
        """How many candidate configs the proxy has checked so far; None: the module cannot tell."""
        return None

    @pytest.fixture
    def backend(self) -> Iterator[Callable[[str], Backend]]:
        """``backend("name")`` -> a loopback HTTP server answering ``name``; stopped afterwards."""
        servers: list[http.server.ThreadingHTTPServer] = []

        def _start(name: str) -> Backend:
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
            srv.backend_name = name  # type: ignore[attr-defined]
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            servers.append(srv)
            return Backend(name, int(srv.server_address[1]))

        yield _start
        for srv in servers:
            srv.shutdown()
            srv.server_close()

    @pytest.fixture
    def new_app(self, proxy: Proxy) -> Iterator[Callable[[str], str]]:
        """Unique app names; everything the proxy keeps for them is removed afterwards."""
        made: list[str] = []

        def _make(hint: str = "app") -> str:
            name = f"px{hint}-{uuid.uuid4().hex[:6]}"
            made.append(name)
            return name

        yield _make
        for name in made:
            with contextlib.suppress(DockyardError):
                proxy.remove_app(name)

    @pytest.fixture
    def get(self, proxy_host: str) -> Callable[[int, str], Reply | None]:
        """``get(port, host)`` -> the reply to ``GET /`` with that Host header, None if refused."""

        def _get(port: int, host: str) -> Reply | None:
            conn = http.client.HTTPConnection(proxy_host, port, timeout=5)
            try:
                conn.request("GET", "/", headers={"Host": host})
                resp = conn.getresponse()
                return Reply(resp.status, resp.read().decode(errors="replace"))
            except ConnectionRefusedError:
                return None
            finally:
                conn.close()

        return _get

    @staticmethod
    def routes(app: str, backend: Backend | Listener, port: int, *domains: str) -> AppRoutes:
        """One app whose web process listens at ``backend``, served on ``port`` for ``domains``."""
        listener = backend.listener if isinstance(backend, Backend) else backend
        return AppRoutes(app=app, listeners={"web": (listener,)},
                         ports=(PortMapping("http", port, listener.port),), domains=tuple(domains))

    @staticmethod
    def domain(app: str) -> str:
        return f"{app}.example.test"

    def assert_routed(self, proxy: Proxy, get: Callable[[int, str], Reply | None], port: int, host: str,
                      backend: Backend) -> None:
        """A routing proxy sends the request to ``backend``; a null one leaves the port closed."""
        reply = get(port, host)
        if proxy.routes_traffic:
            assert reply is not None and (reply.status, reply.body) == (200, backend.name), reply
        else:
            assert reply is None, f"the {proxy.name} proxy routes nothing, yet port {port} answered {reply}"

    def assert_not_routed(self, proxy: Proxy, get: Callable[[int, str], Reply | None], port: int,
                          host: str) -> None:
        reply = get(port, host)
        assert reply is None or reply.status >= 400, f"{host} on port {port} is still routed: {reply}"

    # ---- the contract ---------------------------------------------------------------------
    def test_declares_itself(self, proxy: Proxy) -> None:
        assert isinstance(proxy.name, str) and re.fullmatch(_REPORT_KEY, proxy.name)
        assert isinstance(proxy.routes_traffic, bool)
        assert all(isinstance(c, str) for c in proxy.capabilities)
        if not proxy.routes_traffic:
            assert not proxy.capabilities, "a proxy that routes nothing serves no scheme"

    def test_status_says_whether_routing_is_active(self, proxy: Proxy) -> None:
        active, why = proxy.status()
        assert active is proxy.routes_traffic, why
        assert isinstance(why, str)
        if not active:
            assert why, "an inactive proxy says why"

    def test_build_config_routes_the_app_by_host(self, proxy: Proxy, backend: Callable[[str], Backend],
                                                 new_app: Callable[[str], str],
                                                 get: Callable[[int, str], Reply | None]) -> None:
        app, port = new_app("build"), free_port()
        web = backend("web-of-build")
        result = proxy.build_config(self.routes(app, web, port, self.domain(app)))
        assert (result.app, result.ok) == (app, True), result.message
        assert result.changed is proxy.routes_traffic
        assert result.active is proxy.routes_traffic
        self.assert_routed(proxy, get, port, self.domain(app), web)

    def test_identical_build_reports_not_changed(self, proxy: Proxy, backend: Callable[[str], Backend],
                                                 new_app: Callable[[str], str],
                                                 get: Callable[[int, str], Reply | None]) -> None:
        app, port = new_app("same"), free_port()
        web = backend("web-of-same")
        routes = self.routes(app, web, port, self.domain(app))
        assert proxy.build_config(routes).ok
        for force in (False, True):
            again = proxy.build_config(routes, force=force)
            assert (again.ok, again.changed) == (True, False), (force, again)
        self.assert_routed(proxy, get, port, self.domain(app), web)

    def test_new_listener_switches_traffic(self, proxy: Proxy, backend: Callable[[str], Backend],
                                           new_app: Callable[[str], str],
                                           get: Callable[[int, str], Reply | None]) -> None:
        app, port = new_app("switch"), free_port()
        old, new = backend("old-release"), backend("new-release")
        assert proxy.build_config(self.routes(app, old, port, self.domain(app))).ok
        result = proxy.build_config(self.routes(app, new, port, self.domain(app)))
        assert result.ok and result.changed is proxy.routes_traffic
        self.assert_routed(proxy, get, port, self.domain(app), new)

    def test_build_all_reports_each_app_and_routes_each_host(
            self, proxy: Proxy, backend: Callable[[str], Backend], new_app: Callable[[str], str],
            get: Callable[[int, str], Reply | None], validations: Callable[[], int] | None) -> None:
        port = free_port()  # one port shared by every app: the Host header picks the app
        apps = [new_app(f"all{i}") for i in range(3)]
        webs = {app: backend(f"web-of-{app}") for app in apps}
        checked = validations() if validations else 0
        results = proxy.build_all([self.routes(app, webs[app], port, self.domain(app)) for app in apps])
        assert [r.app for r in results] == apps, "one result per app, in the order given"
        assert all(r.ok and r.changed is proxy.routes_traffic for r in results), results
        if validations:
            assert validations() - checked == 1, "many apps, one validation"
        for app in apps:
            self.assert_routed(proxy, get, port, self.domain(app), webs[app])
        checked = validations() if validations else 0
        again = proxy.build_all([self.routes(app, webs[app], port, self.domain(app)) for app in apps], force=False)
        assert [(r.app, r.ok, r.changed) for r in again] == [(app, True, False) for app in apps]
        if validations:
            assert validations() == checked, "an unchanged config is not validated again without force"

    @_BAD_HOSTS
    def test_build_all_refuses_only_the_bad_app(self, proxy: Proxy, backend: Callable[[str], Backend],
                                                new_app: Callable[[str], str],
                                                get: Callable[[int, str], Reply | None], host: str) -> None:
        good, bad = new_app("good"), new_app("bad")
        good_port, bad_port = free_port(), free_port()
        web = backend("web-of-good")
        results = proxy.build_all([
            self.routes(good, web, good_port, self.domain(good)),
            self.routes(bad, Listener(host, web.port), bad_port, self.domain(bad)),
        ])
        by_app = {r.app: r for r in results}
        assert by_app[good].ok, by_app[good].message
        self.assert_routed(proxy, get, good_port, self.domain(good), web)
        if proxy.routes_traffic:
            assert not by_app[bad].ok and not by_app[bad].changed
            assert host in by_app[bad].message, by_app[bad].message
            self.assert_not_routed(proxy, get, bad_port, self.domain(bad))
        else:
            assert by_app[bad].ok and not by_app[bad].changed

    @_BAD_HOSTS
    def test_check_all_reports_a_bad_route_without_applying(
            self, proxy: Proxy, backend: Callable[[str], Backend], new_app: Callable[[str], str],
            get: Callable[[int, str], Reply | None], host: str) -> None:
        good, bad = new_app("chkgood"), new_app("chkbad")
        good_port, bad_port = free_port(), free_port()
        web = backend("web-of-chk")
        failed = proxy.check_all([
            self.routes(good, web, good_port, self.domain(good)),
            self.routes(bad, Listener(host, web.port), bad_port, self.domain(bad)),
        ])
        if proxy.routes_traffic:
            assert set(failed) == {bad}, failed
            assert host in failed[bad], failed[bad]
        else:
            assert failed == {}, "a proxy that routes nothing accepts every route"
        for app, port in ((good, good_port), (bad, bad_port)):
            assert get(port, self.domain(app)) is None, f"check_all applied the config of {app}"

    @_BAD_HOSTS
    def test_rejected_config_leaves_the_old_one_serving(
            self, proxy: Proxy, backend: Callable[[str], Backend], new_app: Callable[[str], str],
            get: Callable[[int, str], Reply | None], host: str) -> None:
        app, port = new_app("keep"), free_port()
        web = backend("web-of-keep")
        assert proxy.build_config(self.routes(app, web, port, self.domain(app))).ok
        before = self._shown(proxy, app)
        bad = self.routes(app, Listener(host, web.port), port, self.domain(app))
        if not proxy.routes_traffic:
            result = proxy.build_config(bad)
            assert (result.ok, result.changed) == (True, False), "a proxy that routes nothing refuses nothing"
            return
        with pytest.raises(ProxyError) as err:
            proxy.build_config(bad)
        message = str(err.value)
        assert app in message and host in message, message
        assert "previous" in message, "the refusal says the previous config stays active"
        assert self._shown(proxy, app) == before
        self.assert_routed(proxy, get, port, self.domain(app), web)

    def test_clear_config_leaves_nothing_routed(self, proxy: Proxy, backend: Callable[[str], Backend],
                                                new_app: Callable[[str], str],
                                                get: Callable[[int, str], Reply | None]) -> None:
        kept, cleared = new_app("kept"), new_app("clear")
        port = free_port()
        webs = {app: backend(f"web-of-{app}") for app in (kept, cleared)}
        assert all(r.ok for r in proxy.build_all([self.routes(app, webs[app], port, self.domain(app))
                                                   for app in (kept, cleared)]))
        proxy.clear_config(cleared)
        proxy.clear_config(cleared)  # clearing twice is not an error
        reply = get(port, self.domain(cleared))
        if proxy.routes_traffic:
            assert reply is None or reply.body != webs[cleared].name, "the cleared app is still routed"
            self.assert_routed(proxy, get, port, self.domain(kept), webs[kept])
            with pytest.raises(DockyardError):
                proxy.show_config(cleared)
        else:
            assert reply is None

    def test_remove_app_leaves_nothing_routed(self, proxy: Proxy, backend: Callable[[str], Backend],
                                              new_app: Callable[[str], str],
                                              get: Callable[[int, str], Reply | None]) -> None:
        app, port = new_app("gone"), free_port()
        assert proxy.build_config(self.routes(app, backend("web-of-gone"), port, self.domain(app))).ok
        proxy.remove_app(app)
        proxy.remove_app(app)
        assert get(port, self.domain(app)) is None
        if proxy.routes_traffic:
            with pytest.raises(DockyardError):
                proxy.show_config(app)

    def test_report_has_dokku_style_rows(self, proxy: Proxy, backend: Callable[[str], Backend],
                                        new_app: Callable[[str], str]) -> None:
        app = new_app("report")
        assert proxy.build_config(self.routes(app, backend("web-of-report"), free_port(), self.domain(app))).ok
        rows = proxy.report(app)
        assert rows, "the report has rows"
        bad = [k for k in rows if not re.fullmatch(f"{re.escape(proxy.name)}-{_REPORT_KEY}", k)]
        assert not bad, f"report keys are <proxy>-<key>, as Dokku prints them: {bad}"
        assert all(isinstance(v, str) for v in rows.values()), rows

    def test_show_config_names_the_backend(self, proxy: Proxy, backend: Callable[[str], Backend],
                                           new_app: Callable[[str], str]) -> None:
        app, port = new_app("show"), free_port()
        web = backend("web-of-show")
        assert proxy.build_config(self.routes(app, web, port, self.domain(app))).ok
        if not proxy.routes_traffic:
            with pytest.raises(NotSupported):
                proxy.show_config(app)
            return
        shown = proxy.show_config(app)
        assert str(web.listener) in shown and self.domain(app) in shown and str(port) in shown, shown
        with pytest.raises(DockyardError):
            proxy.show_config(new_app("never-built"))

    def test_validate_accepts_what_was_built(self, proxy: Proxy, backend: Callable[[str], Backend],
                                             new_app: Callable[[str], str]) -> None:
        app = new_app("valid")
        assert proxy.build_config(self.routes(app, backend("web-of-valid"), free_port(), self.domain(app))).ok
        if not proxy.routes_traffic:
            with pytest.raises(NotSupported):
                proxy.validate(app)
            return
        try:
            proxy.validate(app)
            proxy.validate()
        except NotSupported:
            pass  # a proxy that cannot validate says so; one that can must accept what it built

    @staticmethod
    def _shown(proxy: Proxy, app: str) -> str:
        try:
            return proxy.show_config(app)
        except NotSupported:
            return ""
