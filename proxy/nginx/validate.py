"""Every user-supplied value that reaches an nginx file is validated or quoted here.

Two layers keep a domain, header value or path from ever injecting a directive:

1. each property has a strict validator, applied on ``nginx:set`` *and* again when the
   config is rendered (a store can be written by ``props:import`` or another host);
2. before a template runs, ``check_context`` walks every value it can see and refuses
   any plain string holding ``; { } " ' \\ # $`` or a control character. Values that need
   such characters (the HSTS header) are passed as ``Quoted`` tokens, built by ``quote``;
   the built-in template quotes every value it interpolates (the ``q`` filter, also there
   for user templates).

Quoting does not stop nginx from expanding ``$name`` inside a string (an ``access_log``
path holding ``x$host`` is expanded per request), so ``quote`` refuses ``$`` too, except
for the X-Forwarded-* values, which may be exactly one nginx variable (``$remote_addr``).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import operator
import os
import re
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dockyard.core.errors import ValidationError
from dockyard.core.names import validate_dns_name

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE = re.compile(r"[;{}\"'\\#`$\x00-\x1f\x7f]")
_PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")
_SIZE = re.compile(r"^[0-9]{1,9}[kKmMgG]?$")
_TIME = re.compile(r"^[0-9]{1,9}(ms|s|m|h|d|w|M|y)?$")
_HEADER = re.compile(r"^[A-Za-z0-9_.:,/+-]{1,200}$")
_VARIABLE = re.compile(r"^\$([a-z0-9_]{1,100})$")
#: nginx variables a header value may name, and the prefixes of nginx's variable families
NGINX_VARIABLES = frozenset({
    "remote_addr", "remote_port", "remote_user", "server_addr", "server_port", "server_name", "scheme",
    "host", "hostname", "https", "proxy_add_x_forwarded_for", "proxy_host", "proxy_port", "realip_remote_addr",
    "realip_remote_port", "request_uri", "uri", "document_uri", "request_method", "request_id", "msec",
    "binary_remote_addr", "connection", "server_protocol", "ssl_protocol", "ssl_cipher", "ssl_server_name",
})
NGINX_VARIABLE_PREFIXES = ("http_", "sent_http_", "cookie_", "arg_", "upstream_http_", "upstream_cookie_")
_BINARY = re.compile(r"^[A-Za-z0-9._/+-]+$")


class Quoted(str):
    """A complete double-quoted nginx string token, safe to place anywhere a value goes."""


@functools.lru_cache(maxsize=4096)
def quote(value: str, variable: bool = False) -> Quoted:
    """One double-quoted token. ``$`` is refused (nginx would expand it) unless ``variable``
    says the value is one validated nginx variable. Cached: the same paths and headers are
    quoted for every app of a build."""
    if _CONTROL.search(value):
        raise ValidationError(f"refusing to put {value!r} in an nginx config: it holds a control character")
    if "$" in value and not (variable and _VARIABLE.match(value)):
        raise ValidationError(f"refusing to put {value!r} in an nginx config: nginx would expand its '$'")
    return Quoted('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')


def q(value: object) -> Quoted:
    """The template filter: a string as one quoted token (a ``Quoted`` one is left as it is);
    an int (a port) is its digits, which need no quotes."""
    if isinstance(value, Quoted):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Quoted(str(value))
    if not isinstance(value, str):
        raise ValidationError(f"refusing to quote a template value of type {type(value).__name__}")
    return quote(value)


_FIELDS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
_SCALARS = frozenset({bool, int, float, type(None), Quoted})


def _field_getter(value: Any) -> Callable[[Any], tuple[Any, ...]]:
    names = tuple(f.name for f in dataclasses.fields(value))
    if len(names) == 1:
        getter = operator.attrgetter(names[0])
        return lambda obj: (getter(obj),)
    if not names:
        return lambda obj: ()
    return operator.attrgetter(*names)  # one C call returns every field


def _strings(value: Any, out: list[str]) -> None:
    """Every plain string a template could print from ``value``.

    Iterative, with an explicit stack: a context holds ~100 values per app and a build
    walks 1,000 contexts, where a recursive call per value was the largest cost.
    """
    stack = [value]
    pop, push, extend, add = stack.pop, stack.append, stack.extend, out.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            add(item)
        elif kind in _SCALARS:
            continue
        elif kind is dict:
            extend(item)
            extend(item.values())
        elif kind is list or kind is tuple:
            extend(item)
        else:
            getter = _FIELDS.get(kind)
            if getter is None:
                if isinstance(item, Quoted):
                    continue
                if isinstance(item, str):
                    add(item)
                    continue
                if isinstance(item, Mapping):
                    push(dict(item))
                    continue
                if isinstance(item, list | tuple | set | frozenset):
                    push(list(item))
                    continue
                if not (dataclasses.is_dataclass(item) and not isinstance(item, type)):
                    raise ValidationError(f"refusing to render a template variable of type {kind.__name__}")
                getter = _FIELDS[kind] = _field_getter(item)
            extend(getter(item))


def check_context(value: Any, where: str = "template variables") -> None:
    """Refuse the rendering if any value a template can print could break out of a token."""
    found: list[str] = []
    _strings(value, found)
    # one scan of every string at once (a space is safe, so joining hides nothing), then
    # the culprit is looked up only when there is one
    if _UNSAFE.search(" ".join(found)):
        for text in found:
            if _UNSAFE.search(text):
                raise ValidationError(f"refusing to render {where}: {text!r} could inject an nginx directive")


# ---- validators ---------------------------------------------------------------------------
def _bool(key: str, value: str) -> str:
    if value not in ("true", "false"):
        raise ValidationError(f"nginx property {key} must be true or false, not {value!r}")
    return value


def _int(key: str, value: str) -> str:
    if not value.isdigit() or len(value) > 10:
        raise ValidationError(f"nginx property {key} must be a whole number of seconds, not {value!r}")
    return value


def _size(key: str, value: str) -> str:
    if not _SIZE.match(value):
        raise ValidationError(f"nginx property {key} must be a size such as 1m or 512k, not {value!r}")
    return value


def _time(key: str, value: str) -> str:
    if not _TIME.match(value):
        raise ValidationError(f"nginx property {key} must be a time such as 60s or 5m, not {value!r}")
    return value


_SECONDS = {"ms": 0.001, "": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000,
             "y": 31536000}
#: a timeout's range: above zero (zero is accepted by nginx but turns every proxied request
#: into a 504) and at most a year (beyond nginx's own limit, 9999999999y, nginx -t refuses)
MAX_TIMEOUT_SECONDS = 31536000


def _timeout(key: str, value: str) -> str:
    _time(key, value)
    match = re.match(r"([0-9]+)(.*)$", value)
    assert match is not None  # _time matched
    seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValidationError(f"nginx property {key} must be greater than zero, not {value!r}")
    if seconds > MAX_TIMEOUT_SECONDS:
        raise ValidationError(f"nginx property {key} must be at most a year (365d), not {value!r}")
    return value


def safe_path(key: str, value: str) -> str:
    if not _PATH.match(value) or "/../" in f"{value}/" or "/./" in f"{value}/":
        raise ValidationError(
            f"nginx property {key} must be an absolute path of letters, digits and ._/@+-, not {value!r}"
        )
    return value


_BUFFERS = re.compile(r"^([0-9]{1,4}) ([0-9]{1,9}[kKmM]?)$")
_FORMAT_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
#: Dokku's proxy buffer defaults follow the host's memory page size (``os.Getpagesize``)
PAGE_K = max(1, os.sysconf("SC_PAGE_SIZE") // 1024) if hasattr(os, "sysconf") else 4


def _buffers(key: str, value: str) -> str:
    """``NUMBER SIZE`` (``8 4k``), nginx's two arguments of ``proxy_buffers``; rendered as two tokens."""
    match = _BUFFERS.match(value)
    if not match or int(match.group(1)) < 2:
        raise ValidationError(f"nginx property {key} must be a count of at least 2 and a size, such as "
                              f"'8 4k', not {value!r}")
    return value


def _format_name(key: str, value: str) -> str:
    """The name of a ``log_format`` defined in nginx's main config (Dokku's access-log-format)."""
    if not _FORMAT_NAME.match(value):
        raise ValidationError(f"nginx property {key} must be the name of a log_format (letters, digits, _), "
                              f"not {value!r}")
    return value


def _count(key: str, value: str) -> str:
    """A positive whole number (``proxy-keepalive``: idle connections kept per upstream)."""
    if not (value.isascii() and value.isdigit()) or len(value) > 6 or int(value) < 1:
        raise ValidationError(f"nginx property {key} must be a whole number from 1, not {value!r}")
    return value


_IMAGE_PATH = re.compile(r"^[A-Za-z0-9._/@+-]{1,255}$")


def _image_path(key: str, value: str) -> str:
    """A file's path inside an app's image, relative to its WORKDIR or absolute (Dokku's
    ``nginx-conf-sigil-path``)."""
    if not _IMAGE_PATH.match(value) or ".." in value.split("/"):
        raise ValidationError(f"nginx property {key} must be a path of letters, digits and ._/@+- "
                              f"without '..', not {value!r}")
    return value


def _log_path(key: str, value: str) -> str:
    return value if value == "off" else safe_path(key, value)


@functools.lru_cache(maxsize=64)
def _local(address: str, family: socket.AddressFamily) -> bool:
    """Can a TCP socket bind this address here? nginx -t fails on one it cannot."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError:  # EADDRNOTAVAIL; EINVAL for a link-local address without its interface
        return False
    return True


def _ipv4(key: str, value: str) -> str:
    try:
        address = str(ipaddress.IPv4Address(value))
    except ValueError as exc:
        raise ValidationError(f"nginx property {key} must be an IPv4 address, not {value!r}") from exc
    if not _local(address, socket.AF_INET):
        raise ValidationError(f"nginx property {key}: {address} is not an address of this host")
    return address


def _ipv6(key: str, value: str) -> str:
    try:
        address = str(ipaddress.IPv6Address(value.strip("[]")))
    except ValueError as exc:
        raise ValidationError(f"nginx property {key} must be an IPv6 address, not {value!r}") from exc
    if not _local(address, socket.AF_INET6):
        raise ValidationError(f"nginx property {key}: {address} is not an address of this host")
    return address


def _header(key: str, value: str) -> str:
    """One nginx variable nginx knows (``$remote_addr``, ``$http_x_real_ip`` …) or a plain token."""
    variable = _VARIABLE.match(value)
    if variable:
        name = variable.group(1)
        if name in NGINX_VARIABLES or any(name.startswith(p) and len(name) > len(p)
                                          for p in NGINX_VARIABLE_PREFIXES):
            return value
        raise ValidationError(f"nginx property {key}: {value!r} is not an nginx variable this proxy knows")
    if not _HEADER.match(value):
        raise ValidationError(
            f"nginx property {key} must be one nginx variable or a token of letters, digits and _.:,/+-, "
            f"not {value!r}"
        )
    return value


def _on_off(key: str, value: str) -> str:
    if value not in ("on", "off"):
        raise ValidationError(f"nginx property {key} must be on or off, not {value!r}")
    return value


def _template(key: str, value: str) -> str:
    safe_path(key, value)
    if not Path(value).is_file():
        raise ValidationError(f"nginx property {key}: {value} is not a readable file")
    return value


def _binary(key: str, value: str) -> str:
    if not _BINARY.match(value):
        raise ValidationError(f"nginx property {key} must be a program name or path, not {value!r}")
    return value


def _command(key: str, value: str) -> str:
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValidationError(f"nginx property {key} must not contain control characters")
    return value


Validator = Callable[[str, str], str]

#: property -> (default, validator, settable per app, settable globally); a default of
#: None means "computed" (paths under DOCKYARD_ROOT, see NginxProxy.defaults)
PROPERTIES: dict[str, tuple[str | None, Validator, bool, bool]] = {
    "hsts": ("true", _bool, True, True),
    "hsts-include-subdomains": ("true", _bool, True, True),
    "hsts-max-age": ("15724800", _int, True, True),
    "hsts-preload": ("false", _bool, True, True),
    "client-max-body-size": ("1m", _size, True, True),
    "proxy-read-timeout": ("60s", _timeout, True, True),
    "access-log-path": (None, _log_path, True, True),
    "error-log-path": (None, _log_path, True, True),
    "bind-address-ipv4": ("", _ipv4, True, True),
    "bind-address-ipv6": ("::", _ipv6, True, True),
    "x-forwarded-for-value": ("$remote_addr", _header, True, True),
    "x-forwarded-port-value": ("$server_port", _header, True, True),
    "x-forwarded-proto-value": ("$scheme", _header, True, True),
    "x-forwarded-ssl": ("", _on_off, True, True),
    "template-path": ("", _template, True, True),
    # Dokku's timeouts and switches, with Dokku's defaults (nginx_vhosts.go)
    "client-body-timeout": ("60s", _timeout, True, True),
    "client-header-timeout": ("60s", _timeout, True, True),
    "keepalive-timeout": ("75s", _timeout, True, True),
    "lingering-timeout": ("5s", _timeout, True, True),
    "send-timeout": ("60s", _timeout, True, True),
    "proxy-connect-timeout": ("60s", _timeout, True, True),
    "proxy-send-timeout": ("60s", _timeout, True, True),
    "proxy-buffering": ("on", _on_off, True, True),
    "underscore-in-headers": ("off", _on_off, True, True),
    "proxy-buffer-size": (f"{PAGE_K}k", _size, True, True),
    "proxy-buffers": (f"8 {PAGE_K}k", _buffers, True, True),
    "proxy-busy-buffers-size": (f"{PAGE_K * 2}k", _size, True, True),
    "access-log-format": ("", _format_name, True, True),
    "proxy-keepalive": ("", _count, True, True),  # off unless set, as Dokku's
    # true: the app's custom template (template-path) is ignored and the built-in one is used
    "disable-custom-config": ("false", _bool, True, True),
    # kept and reported for Dokku's tools; Dockyard reads no template from an image (moving-from-dokku.md)
    "nginx-conf-sigil-path": ("nginx.conf.sigil", _image_path, True, True),
    "nginx-service-command": ("", _command, True, True),
    # global only: where nginx and its files are
    "main-conf": (None, safe_path, False, True),
    "conf-dir": (None, safe_path, False, True),
    "binary": ("nginx", _binary, False, True),
    "reload-command": ("", _command, False, True),
}


def validate_property(key: str, value: str, is_global: bool) -> str:
    if key not in PROPERTIES:
        raise ValidationError(f"invalid nginx property {key!r}; valid properties: {', '.join(sorted(PROPERTIES))}")
    _, validator, per_app, global_ok = PROPERTIES[key]
    if is_global and not global_ok:
        raise ValidationError(f"nginx property {key!r} cannot be set globally")
    if not is_global and not per_app:
        raise ValidationError(f"nginx property {key!r} can only be set with --global")
    return validator(key, value) if value else value


@functools.lru_cache(maxsize=4096)
def validate_stored(key: str, value: str) -> str:
    """Re-check a stored value at render time (the template file need not exist yet here)."""
    validator = PROPERTIES[key][1]
    if validator is _template:
        return safe_path(key, value)
    return validator(key, value)


def validate_host(host: str) -> str:
    """A listener host: an IP address or a DNS name (a Kubernetes Service, say)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return validate_dns_name(host)
    except ValidationError:
        raise ValidationError(f"invalid listener host {host!r}: not an IP address, not a DNS name") from None


def upstream_server(host: str, port: int) -> str:
    host = validate_host(host)
    if not 1 <= int(port) <= 65535:
        raise ValidationError(f"invalid upstream port {port}")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
