"""The nginx proxy driver: one file per app, validated by the real ``nginx -t`` before use.

Properties (plugin ``nginx``) carry Dokku's names and defaults; ``main-conf``, ``conf-dir``,
``binary`` and ``reload-command`` are global-only and say where nginx and its files are,
so a private nginx (tests, users who are not root) works the same as the system one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from dockyard.core.errors import DockyardError, ProxyError, ValidationError
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.proxy.base import ApplyResult, AppRoutes, Proxy
from dockyard.proxy.nginx import apply as applier
from dockyard.proxy.nginx import server
from dockyard.proxy.nginx.render import Hsts, NginxValues, Rendered, build_context, render, ssl_dir_for
from dockyard.proxy.nginx.server import Layout
from dockyard.proxy.nginx.validate import PROPERTIES, quote, validate_property, validate_stored

__all__ = ["NginxProxy"]

PLUGIN = "nginx"
#: from this many apps, build_all lists the nginx scopes once instead of reading each app
_LIST_SCOPES_FROM = 16
_LOG_KEYS = frozenset({"access-log-path", "error-log-path"})
#: properties rendered as the nginx directive of (nearly) the same name, as Dokku's template does
_DOKKU_DIRECTIVES = ("client-body-timeout", "client-header-timeout", "keepalive-timeout", "lingering-timeout",
                     "send-timeout", "proxy-connect-timeout", "proxy-send-timeout", "proxy-buffering",
                     "underscore-in-headers", "proxy-buffer-size", "proxy-buffers", "proxy-busy-buffers-size",
                     "access-log-format", "proxy-keepalive")


@dataclass(frozen=True)
class _Shared:
    fields: dict[str, Any]
    hsts: Hsts
    template_path: str | None


def _reason(output: str) -> str:
    """nginx's own complaint, on one line: its [emerg] lines without the "nginx: " prefix."""
    lines = [line.removeprefix("nginx: ").strip() for line in output.splitlines()]
    emerg = [line.removeprefix("[emerg] ") for line in lines if line.startswith("[emerg]")]
    return "; ".join(emerg or [line for line in lines if line and "test failed" not in line][:1]) or "no reason given"


class NginxProxy(Proxy):
    name: ClassVar[str] = "nginx"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"http", "https", "grpc", "grpcs", "tcp", "udp", "hsts", "validate", "templates"})

    def __init__(self, store):  # type: ignore[no-untyped-def]
        super().__init__(store)
        from dockyard.core.settings import default_root

        self.root: Path = default_root()
        self._global: dict[str, str] | None = None
        self._base: dict[str, str] = {}
        self._shared: dict[tuple[object, ...], _Shared] = {}
        # during a large build_all: the scopes holding nginx properties, listed once, so the
        # many apps with none are not read one by one (None: read every app)
        self._own_scopes: set[str] | None = None

    # ---- properties -----------------------------------------------------------------------
    def _globals(self) -> dict[str, str]:
        if self._global is None:
            self._global = {k: v for k, v in self.store.get_all(PLUGIN, GLOBAL_SCOPE).items() if isinstance(v, str)}
        return self._global

    def default(self, key: str, app: str) -> str:
        default = PROPERTIES[key][0]
        if default is not None:
            return default
        if key == "conf-dir":
            return str(self.root / "nginx")  # cached in _base: once per build
        conf_dir = self.computed("conf-dir", app)
        return {
            "access-log-path": f"{conf_dir}/logs/{app}-access.log",
            "error-log-path": f"{conf_dir}/logs/{app}-error.log",
            "main-conf": f"{conf_dir}/nginx.conf",
        }[key]

    def computed(self, key: str, app: str = GLOBAL_SCOPE, own: Mapping[str, object] | None = None) -> str:
        """App value, then global, then default; stored values are re-validated."""
        if app != GLOBAL_SCOPE and PROPERTIES[key][2]:
            value = own.get(key) if own is not None else self.store.get(PLUGIN, app, key)
            if isinstance(value, str) and value:
                return validate_stored(key, value)
        base = self._base.get(key)
        if base is not None:
            return base
        value = self._globals().get(key, "")
        if value:
            base = validate_stored(key, value)
        elif PROPERTIES[key][0] is not None or key == "conf-dir":
            base = self.default(key, app)
        else:
            return self.default(key, app)  # a per-app default (log paths)
        self._base[key] = base  # global or fixed default: the same for every app in this build
        return base

    def layout(self) -> Layout:
        return Layout(Path(self.computed("conf-dir")), Path(self.computed("main-conf")),
                      self.computed("binary"), self.computed("reload-command"))

    def set_property(self, scope: str, key: str, value: str) -> None:
        value = validate_property(key, value, scope == GLOBAL_SCOPE)
        if value:
            self.store.set(PLUGIN, scope, key, value)
        else:
            self.store.delete(PLUGIN, scope, key)
        self._global = None
        self._base = {}
        self._shared = {}

    # ---- rendering ------------------------------------------------------------------------
    def _shared_values(self, app: str, own: Mapping[str, object], http2_directive: bool) -> _Shared:
        """Everything but the log paths, computed once per distinct set of app overrides.

        Most apps set no nginx property of their own, so a build of 1,000 apps computes and
        validates the global/default values once instead of 1,000 times; an app with
        overrides gets its own entry (each stored value is still validated, see computed).
        """
        key = (tuple(sorted((k, v) for k, v in own.items() if k not in _LOG_KEYS and isinstance(v, str))),
               http2_directive)
        shared = self._shared.get(key)
        if shared is None:
            def get(name: str) -> str:
                return self.computed(name, app, own)

            shared = self._shared[key] = _Shared(
                fields={
                    "client_max_body_size": get("client-max-body-size"),
                    "proxy_read_timeout": get("proxy-read-timeout"),
                    "bind_address_ipv4": get("bind-address-ipv4"),
                    "bind_address_ipv6": get("bind-address-ipv6"),
                    "x_forwarded_for": quote(get("x-forwarded-for-value"), variable=True),
                    "x_forwarded_port": quote(get("x-forwarded-port-value"), variable=True),
                    "x_forwarded_proto": quote(get("x-forwarded-proto-value"), variable=True),
                    "x_forwarded_ssl": get("x-forwarded-ssl"),
                    **{name.replace("-", "_"): get(name) for name in _DOKKU_DIRECTIVES},
                    "http2_directive": http2_directive,
                },
                hsts=Hsts.build(get("hsts") == "true", int(get("hsts-max-age")),
                                get("hsts-include-subdomains") == "true", get("hsts-preload") == "true"),
                # Dokku's disable-custom-config: the built-in template, whatever template-path says
                template_path=None if get("disable-custom-config") == "true" else get("template-path") or None,
            )
        return shared

    def render(self, routes: AppRoutes, http2_directive: bool | None = None) -> Rendered:
        app = routes.app
        own = self.store.get_all(PLUGIN, app) if self._own_scopes is None or app in self._own_scopes else {}
        try:
            if http2_directive is None:
                binary = server.find_binary(self.computed("binary"))
                http2_directive = bool(binary) and server.version(binary) >= (1, 25, 1)
            shared = self._shared_values(app, own, http2_directive)
            error_log = self.computed("error-log-path", app, own)
            values = NginxValues(
                access_log=quote(self.computed("access-log-path", app, own)),
                error_log=quote("/dev/null" if error_log == "off" else error_log),
                **shared.fields,
            )
            ssl_dir = ssl_dir_for(self.root, app)
            ctx = build_context(routes, values, shared.hsts, ssl_dir)
        except ValidationError as exc:
            raise ProxyError(f"cannot build the nginx config of {app}: {exc}") from exc
        http, stream = render(shared.template_path, ctx)
        tls = routes.tls
        files = ((tls.certificate, tls.certificate_pem), (tls.certificate_key, tls.key_pem)) if tls else ()
        return Rendered(app, http, stream, tuple(ctx["notes"]), ssl_dir, files)

    # ---- the contract ---------------------------------------------------------------------
    def build_config(self, routes: AppRoutes, force: bool = True) -> ApplyResult:
        app = routes.app
        result = self.build_all([routes], force)[0]
        if not result.ok:
            if "\n" not in result.message and not result.message.startswith("nginx"):
                # refused before nginx saw it (a value, a certificate): the reason is one line
                raise ProxyError(f"{result.message}; the previous config stays active")
            raise ProxyError(f"nginx rejected the new config of {app} ({_reason(result.message)}); "
                             "the previous one stays active")
        return result

    def build_all(self, routes: Sequence[AppRoutes], force: bool = True) -> list[ApplyResult]:
        layout = self.layout()
        binary = server.find_binary(layout.binary)
        http2_directive = bool(binary) and server.version(binary) >= (1, 25, 1)
        rendered: list[Rendered] = []
        failed: dict[str, str] = {}
        if len(routes) >= _LIST_SCOPES_FROM:
            self._own_scopes = set(self.store.scopes(PLUGIN))
        try:
            for r in routes:
                try:
                    rendered.append(self.render(r, http2_directive))
                except DockyardError as exc:
                    failed[r.app] = str(exc)
        finally:
            self._own_scopes = None
        outcome = applier.apply(layout, rendered, force)
        failed.update(outcome.failed)
        results = []
        notes = {r.app: r.notes for r in rendered}
        for app in (r.app for r in routes):
            if app in failed:
                results.append(ApplyResult(app, False, outcome.active, failed[app], ok=False))
                continue
            message = "; ".join([*notes.get(app, ()), outcome.message] if outcome.message else notes.get(app, ()))
            results.append(ApplyResult(app, outcome.changed.get(app, False), outcome.active, message))
        return results

    def check_all(self, routes: Sequence[AppRoutes]) -> dict[str, str]:
        layout = self.layout()
        binary = server.find_binary(layout.binary)
        http2_directive = bool(binary) and server.version(binary) >= (1, 25, 1)
        rendered: list[Rendered] = []
        failed: dict[str, str] = {}
        for r in routes:
            try:
                rendered.append(self.render(r, http2_directive))
            except DockyardError as exc:
                failed[r.app] = str(exc)
        failed.update({app: _reason(message) for app, message in applier.check(layout, rendered).items()})
        return failed

    def clear_config(self, app: str) -> None:
        applier.remove(self.layout(), app, ssl_dir_for(self.root, app))

    def remove_app(self, app: str) -> None:
        """The config, the certificate directory and the app's logs at their default paths
        (``conf-dir/logs/APP-*.log``, as Dokku's post-delete removes them). A log path set
        by the user is left alone: it may be shared, and it is theirs."""
        self.clear_config(app)
        applier.remove_files(ssl_dir_for(self.root, app),
                             [self.default(key, app) for key in sorted(_LOG_KEYS)])

    def status(self) -> tuple[bool, str]:
        layout = self.layout()
        binary = server.find_binary(layout.binary)
        if binary is None:
            return False, f"nginx is not installed (no {layout.binary!r} binary)"
        if layout.reload_command:
            return True, ""
        pid = server.running_pid(Layout(layout.conf_dir, layout.main_conf, binary))
        if pid is None:
            return False, "nginx is not running (start it with `dockyard nginx:start`)"
        return True, f"running (pid {pid})"

    def report(self, app: str) -> dict[str, str]:
        rows: dict[str, str] = {}
        scope_app = app != GLOBAL_SCOPE
        own = self.store.get_all(PLUGIN, app) if scope_app else {}
        for key, (_, _, per_app, _) in sorted(PROPERTIES.items()):
            if scope_app and per_app:
                value = own.get(key)
                rows[f"nginx-{key}"] = value if isinstance(value, str) else ""
            rows[f"nginx-global-{key}"] = self._globals().get(key, "")
            try:
                rows[f"nginx-computed-{key}"] = self.computed(key, app, own)
            except ValidationError as exc:
                rows[f"nginx-computed-{key}"] = f"invalid: {exc}"
        layout = self.layout()
        active, why = self.status()
        rows["nginx-running"] = "true" if active else f"false ({why})"
        if scope_app:
            rows["nginx-http-file"] = str(layout.http_file(app)) if layout.http_file(app).exists() else ""
            rows["nginx-stream-file"] = str(layout.stream_file(app)) if layout.stream_file(app).exists() else ""
        return rows

    def show_config(self, app: str) -> str:
        http, stream = applier.current(self.layout(), app)
        if not http and not stream:
            raise ProxyError(f"No nginx.conf exists for {app}")  # Dokku's message, exit 1
        parts = []
        if http:
            parts.append(f"# http {{}}: {self.layout().http_file(app)}\n{http}")
        if stream:
            parts.append(f"# stream {{}}: {self.layout().stream_file(app)}\n{stream}")
        return "\n".join(parts).rstrip("\n")

    def validate(self, app: str | None = None, clean: bool = False,
                 warn: Callable[[str], None] | None = None) -> str:
        """Dokku's ``nginx:validate-config [APP] [--clean]``.

        When ``nginx -t`` passes, nothing else happens. Otherwise each app's live files (APP's,
        or every app's) are tested on their own; a failing one is named through ``warn`` with
        its contents and, with ``clean``, removed. Then the tree is tested again: still failing
        raises with nginx's output (Dokku's exit 1).
        """
        layout = self.layout()
        try:
            return applier.validate_tree(layout)
        except ProxyError:
            pass
        say = warn or (lambda message: None)
        for name in [app] if app is not None else applier.apps_with_files(layout):
            http, stream = applier.current(layout, name)
            if not http and not stream:
                say(f"No nginx config found for {name}")
                continue
            ok, _ = applier.check_alone(layout, name)
            if ok:
                continue
            say(f"Failed to validate nginx config for {name}. Contents below...\n{http}{stream}".rstrip("\n"))
            if clean:
                applier.remove(layout, name, ssl_dir_for(self.root, name))
        return applier.validate_tree(layout)

    def start(self) -> str:
        layout = self.layout()
        binary = server.find_binary(layout.binary)
        if binary is None:
            raise ProxyError(f"nginx is not installed (no {layout.binary!r} binary)")
        return server.start(Layout(layout.conf_dir, layout.main_conf, binary, layout.reload_command))

    def stop(self) -> str:
        return server.stop(self.layout())

    def reload(self) -> str:
        """Dokku's ``nginx:reload``: ``nginx -t`` on the live tree first (a tree nginx refuses
        is never handed to the running master), then a reload, waited for."""
        layout = self.layout()
        applier.validate_tree(layout)
        server.reload(layout)
        return "nginx reloaded"
