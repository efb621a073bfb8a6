"""Rendering an app's nginx files from a Jinja2 template.

The context carries Dokku's template variables (``APP``, ``DOKKU_APP_<PROC>_LISTENERS``,
``PROXY_PORT_MAP``, ``SSL_INUSE``, ``NOSSL_SERVER_NAME``, ``SSL_SERVER_NAME`` …) and
structured objects. Every value in it has been validated, and ``check_context`` refuses
the rendering if one could still break out of its token (see ``validate``). Templates run
in Jinja's sandbox with strict undefined variables, so a typo is an error, not an empty
directive.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nodes
import jinja2.sandbox

from dockyard.core.errors import ProxyError, ValidationError
from dockyard.proxy.base import AppRoutes
from dockyard.proxy.nginx.validate import Quoted, check_context, q, quote, upstream_server, validate_host

BUILTIN_DIR = Path(__file__).parent / "templates"
BUILTIN = "dockyard/app.conf.j2"
_BUILTIN_FILE = os.fspath(BUILTIN_DIR / "app.conf.j2")
HTTP_SCHEMES = ("http", "https", "grpc", "grpcs")


@dataclass(frozen=True)
class Entry:
    """One port-map entry as the template sees it."""

    scheme: str
    host_port: int
    container_port: int
    process_type: str
    upstream: str | None
    tls: bool
    http2: bool
    grpc: bool
    stream: bool
    udp: bool
    redirect: bool
    redirect_suffix: str


@dataclass(frozen=True)
class Upstream:
    name: str
    servers: tuple[str, ...]
    stream: bool


@dataclass(frozen=True)
class Hsts:
    enabled: bool
    max_age: int
    include_subdomains: bool
    preload: bool
    value: Quoted

    @staticmethod
    def build(enabled: bool, max_age: int, include_subdomains: bool, preload: bool) -> Hsts:
        header = f"max-age={max_age}" + ("; includeSubdomains" if include_subdomains else "") + (
            "; preload" if preload else "")
        return Hsts(enabled, max_age, include_subdomains, preload, quote(header))


@dataclass(frozen=True)
class NginxValues:
    """The app's computed nginx properties, validated, in template form."""

    access_log: Quoted
    error_log: Quoted
    client_max_body_size: str
    proxy_read_timeout: str
    bind_address_ipv4: str
    bind_address_ipv6: str
    x_forwarded_for: Quoted
    x_forwarded_port: Quoted
    x_forwarded_proto: Quoted
    x_forwarded_ssl: str
    http2_directive: bool
    client_body_timeout: str = "60s"
    client_header_timeout: str = "60s"
    keepalive_timeout: str = "75s"
    lingering_timeout: str = "5s"
    send_timeout: str = "60s"
    proxy_connect_timeout: str = "60s"
    proxy_send_timeout: str = "60s"
    proxy_buffering: str = "on"
    underscore_in_headers: str = "off"
    proxy_buffer_size: str = "4k"
    proxy_buffers: str = "8 4k"
    proxy_busy_buffers_size: str = "8k"
    #: a log_format name, appended to ``access_log`` unless the path is ``off`` (Dokku's template)
    access_log_format: str = ""
    #: idle keepalive connections per http upstream (``keepalive N;``), none when empty
    proxy_keepalive: str = ""


@dataclass(frozen=True)
class Rendered:
    """One app's candidate files, and the certificate files its config refers to.

    ``tls_files`` (path, PEM text) are written when the config is staged, under names no live
    config uses; ``tls_dir`` is where they go, pruned of files no live config refers to once
    the build is done (see ``apply``). The PEM text is never part of a repr.
    """

    app: str
    http: str
    stream: str
    notes: tuple[str, ...] = ()
    tls_dir: str = ""
    tls_files: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass
class _Compiled:
    template: jinja2.Template
    mtime: float
    extends: bool


_CACHE: dict[str, _Compiled] = {}
_COMMENT_OR_BLANK = re.compile(r"^\s*(#.*)?$")


def _environment(user_dir: Path | None) -> jinja2.Environment:
    """User templates run sandboxed; the built-in one is ours and runs without the sandbox's cost."""
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(user_dir)))
    loaders.append(jinja2.PrefixLoader({"dockyard": jinja2.FileSystemLoader(str(BUILTIN_DIR))}))
    cls = jinja2.Environment if user_dir is None else jinja2.sandbox.SandboxedEnvironment
    env = cls(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["q"] = q  # {{ value|q }}: one quoted nginx token, '$' and control characters refused
    return env


def _needs_root(tree: jinja2.nodes.Template) -> bool:
    """Must the top level run before the blocks? (It extends, or defines macros or variables.)

    Read from the syntax tree, not the text (a comment may mention ``{% extends %}``):
    a template whose top level holds only blocks and plain text has each block rendered
    on its own, once; anything else runs the whole template first.
    """
    if tree.find(jinja2.nodes.Extends) is not None:
        return True
    for node in tree.body:
        if isinstance(node, jinja2.nodes.Block):
            continue
        if isinstance(node, jinja2.nodes.Output) and all(
                isinstance(n, jinja2.nodes.TemplateData) for n in node.nodes):
            continue
        return True
    return False


def load_template(path: str | None) -> _Compiled:
    """The compiled template (built-in when ``path`` is empty), recompiled when the file changes."""
    key = path or BUILTIN
    try:
        mtime = os.stat(path or _BUILTIN_FILE).st_mtime  # every render: no Path objects here
    except OSError as exc:
        raise ProxyError(f"nginx template {path or _BUILTIN_FILE} cannot be read: {exc.strerror}") from exc
    cached = _CACHE.get(key)
    if cached is not None and cached.mtime == mtime:
        return cached
    file = Path(path) if path else BUILTIN_DIR / "app.conf.j2"
    env = _environment(file.parent if path else None)
    try:
        template = env.get_template(file.name if path else BUILTIN)
    except jinja2.TemplateSyntaxError as exc:
        raise ProxyError(f"nginx template {file} line {exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise ProxyError(f"nginx template {file}: {exc}") from exc
    try:
        source = env.loader.get_source(env, file.name if path else BUILTIN)[0] if env.loader else ""
        extends = _needs_root(env.parse(source))
    except jinja2.TemplateError as exc:
        raise ProxyError(f"nginx template {file}: {exc}") from exc
    _CACHE[key] = compiled = _Compiled(template, mtime, extends)
    return compiled


def listeners_var(proc: str) -> str:
    """Dokku's variable name: ``DOKKU_APP_<PROC>_LISTENERS``, upper-cased, '-' -> '_'."""
    return f"DOKKU_APP_{proc.upper().replace('-', '_')}_LISTENERS"


def build_context(routes: AppRoutes, values: NginxValues, hsts: Hsts, ssl_dir: str) -> dict[str, Any]:
    app = routes.app
    tls = routes.tls
    ssl_inuse = tls is not None
    https = [p for p in routes.ports if p.scheme == "https"]
    https_port = https[0].host_port if https else 443
    notes: list[str] = []
    entries: list[Entry] = []
    upstreams: dict[str, Upstream] = {}
    for m in routes.ports:
        is_tls = m.scheme in ("https", "grpcs")
        if is_tls and not ssl_inuse:
            notes.append(f"{m} is not served: the app has no certificate (certs:add)")
            continue
        stream = m.scheme in ("tcp", "udp")
        servers = tuple(sorted({upstream_server(ls.host, m.container_port if ls.target is None else ls.port)
                                for ls in routes.listeners.get(m.process_type, ())
                                if ls.target in (None, m.container_port)}))
        name: str | None = None
        if servers:
            # app names never hold '_', so APP__ cannot collide with another app's prefix
            name = f"{app}__{m.process_type}__{m.container_port}" + (f"__{m.scheme}" if stream else "")
            upstreams.setdefault(name, Upstream(name, servers, stream))
        redirect = m.scheme == "http" and m.host_port == 80 and ssl_inuse and bool(https)
        entries.append(Entry(
            scheme=m.scheme, host_port=m.host_port, container_port=m.container_port,
            process_type=m.process_type, upstream=name, tls=is_tls,
            http2=m.scheme in ("https", "grpc", "grpcs"), grpc=m.scheme in ("grpc", "grpcs"),
            stream=stream, udp=m.scheme == "udp", redirect=redirect,
            redirect_suffix="" if https_port == 443 else f":{https_port}",
        ))
    domains = list(routes.domains)
    ssl_names = list(routes.tls_domains) if tls else []
    listeners = {proc: [{"host": validate_host(ls.host), "port": int(ls.port)} for ls in ls_list]
                 for proc, ls_list in routes.listeners.items()}
    ctx: dict[str, Any] = {
        "APP": app,
        "PROXY_PORT_MAP": " ".join(str(p) for p in routes.ports),
        "PROXY_UPSTREAM_PORTS": " ".join(sorted({str(p.container_port) for p in routes.ports},
                                                key=int)),
        "PROXY_PORT": next((str(p.host_port) for p in routes.ports if p.scheme == "http"), ""),
        "PROXY_SSL_PORT": str(https_port) if https else "",
        "SSL_INUSE": "true" if ssl_inuse else "",
        "NOSSL_SERVER_NAME": " ".join(domains),
        "SSL_SERVER_NAME": " ".join(ssl_names),
        "APP_SSL_PATH": quote(ssl_dir),
        "NGINX_ACCESS_LOG_PATH": values.access_log,
        "NGINX_ERROR_LOG_PATH": values.error_log,
        "NGINX_BIND_ADDRESS_IP4": values.bind_address_ipv4,
        "NGINX_BIND_ADDRESS_IP6": values.bind_address_ipv6,
        "CLIENT_MAX_BODY_SIZE": values.client_max_body_size,
        "PROXY_READ_TIMEOUT": values.proxy_read_timeout,
        "PROXY_X_FORWARDED_FOR": values.x_forwarded_for,
        "PROXY_X_FORWARDED_PORT": values.x_forwarded_port,
        "PROXY_X_FORWARDED_PROTO": values.x_forwarded_proto,
        "PROXY_X_FORWARDED_SSL": values.x_forwarded_ssl,
        "CLIENT_BODY_TIMEOUT": values.client_body_timeout,
        "CLIENT_HEADER_TIMEOUT": values.client_header_timeout,
        "KEEPALIVE_TIMEOUT": values.keepalive_timeout,
        "LINGERING_TIMEOUT": values.lingering_timeout,
        "SEND_TIMEOUT": values.send_timeout,
        "PROXY_CONNECT_TIMEOUT": values.proxy_connect_timeout,
        "PROXY_SEND_TIMEOUT": values.proxy_send_timeout,
        "PROXY_BUFFERING": values.proxy_buffering,
        "NGINX_UNDERSCORE_IN_HEADERS": values.underscore_in_headers,
        "PROXY_BUFFER_SIZE": values.proxy_buffer_size,
        "PROXY_BUFFERS": values.proxy_buffers,
        "PROXY_BUSY_BUFFERS_SIZE": values.proxy_busy_buffers_size,
        "NGINX_ACCESS_LOG_FORMAT": values.access_log_format,
        "entries": entries,
        "upstreams": list(upstreams.values()),
        "listeners": listeners,
        "ports": [{"scheme": p.scheme, "host_port": p.host_port, "container_port": p.container_port,
                   "process_type": p.process_type} for p in routes.ports],
        "domains": domains,
        "hsts": hsts,
        "ssl": {"inuse": ssl_inuse,
                "certificate": quote(tls.certificate) if tls else None,
                "certificate_key": quote(tls.certificate_key) if tls else None},
        "nginx": values,
        "acme_challenge": quote(routes.acme_challenge_dir.rstrip("/") + "/") if routes.acme_challenge_dir else None,
        "notes": notes,
    }
    for proc, ls_list in listeners.items():
        ctx[listeners_var(proc)] = " ".join(f"{ls['host']}:{ls['port']}" for ls in ls_list)
    ctx.setdefault("DOKKU_APP_WEB_LISTENERS", "")
    ctx["DOKKU_APP_LISTENERS"] = ctx["DOKKU_APP_WEB_LISTENERS"]
    check_context(ctx)
    return ctx


def _meaningful(text: str) -> str:
    """The text if it holds any directive, else "" (so no empty file is written)."""
    if all(_COMMENT_OR_BLANK.match(line) for line in text.splitlines()):
        return ""
    return re.sub(r"\n{3,}", "\n\n", text)


def render(template_path: str | None, ctx: Mapping[str, Any]) -> tuple[str, str]:
    """(http text, stream text). A template without blocks is entirely http."""
    compiled = load_template(template_path)
    template = compiled.template
    where = template_path or BUILTIN
    try:
        context = template.new_context(dict(ctx))
        no_blocks = "http" not in context.blocks and "stream" not in context.blocks
        if compiled.extends or no_blocks:  # a parent's blocks join the context only when its root runs
            whole = "".join(template.root_render_func(context))
        if "http" not in context.blocks and "stream" not in context.blocks:
            return _meaningful(whole), ""
        parts = []
        for block in ("http", "stream"):
            funcs = context.blocks.get(block)
            parts.append("".join(funcs[0](context)) if funcs else "")
    except jinja2.TemplateError as exc:
        lineno = getattr(exc, "lineno", None)
        raise ProxyError(f"nginx template {where}{f' line {lineno}' if lineno else ''}: {exc}") from exc
    except ValidationError as exc:
        raise ProxyError(f"nginx template {where}: {exc}") from exc
    return _meaningful(parts[0]), _meaningful(parts[1])


def ssl_dir_for(root: Path | str, app: str) -> str:
    return f"{os.fspath(root)}/tls/{app}"
