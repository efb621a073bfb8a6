"""Name rules shared by every command and store.

App names are Dokku's (``^[a-z0-9][a-z0-9.-]*$``: ``1994testapp``, ``test.dokku.test``).
Where a platform's rule is stricter (a Kubernetes Service name holds no dot), the driver
maps the name with ``dockyard.schedulers.base.platform_name``; the name itself is never
changed. Dockyard adds two limits of its own: at most 63 characters and ending in a letter or
digit, because the name is a label value on Docker and Kubernetes objects.
Property coordinates become file paths in the file store, so they must never be able to
escape their directory or hide control characters in a terminal.
"""

from __future__ import annotations

import re

from dockyard.core.errors import ValidationError

GLOBAL_SCOPE = "--global"

_APP_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")
_DNS_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NETWORK_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def validate_app_name(name: str) -> str:
    """Dokku's rule, plus Dockyard's two limits (63 characters, a letter or digit last)."""
    if not isinstance(name, str) or not _APP_RE.fullmatch(name) or name[-1] in "-.":
        raise ValidationError(
            f"invalid app name {name!r}: use lowercase letters, digits, '-' and '.', "
            "start and end with a letter or digit, at most 63 characters"
        )
    return name


def validate_scope(scope: str) -> str:
    """A scope is an app name or ``--global``."""
    if scope == GLOBAL_SCOPE:
        return scope
    return validate_app_name(scope)


def validate_component(kind: str, value: str) -> str:
    """Check one property coordinate (plugin, scope or key) for the store.

    Stores accept any name Dokku could have written (Dokku's keys include dots and
    underscores), but never one that is empty, a path, a dot-name or carries control
    characters: those could escape the file store's directory or forge terminal output.
    """
    if not isinstance(value, str) or value == "":
        raise ValidationError(f"invalid {kind}: empty name")
    if value in (".", "..") or "/" in value or "\\" in value or _CONTROL_RE.search(value):
        raise ValidationError(f"invalid {kind} {value!r}: no '/', '..' or control characters allowed")
    if value.startswith(".") and kind != "scope":
        raise ValidationError(f"invalid {kind} {value!r}: may not start with '.'")
    if (len(value) if value.isascii() else len(_utf8(kind, value))) > 255:  # ASCII: no copy
        raise ValidationError(f"invalid {kind}: longer than 255 bytes")
    return value


def _utf8(what: str, text: str) -> bytes:
    """``text`` as UTF-8, or one line naming ``what`` (never the text: it may be a secret).

    JSON's ``\\ud800`` escape and argv's surrogateescape both make strings holding a lone
    surrogate, which no store can write; refusing them here means before any write.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"invalid {what}: not valid UTF-8 text (it holds a lone surrogate, U+D800 to U+DFFF)"
        ) from None


def validate_value(value: str) -> str:
    """Values are text; NUL can never be stored faithfully in a file or terminal."""
    if not isinstance(value, str):
        raise ValidationError(f"invalid value: expected text, got {type(value).__name__}")
    if "\x00" in value:
        raise ValidationError("invalid value: contains a NUL byte")
    if not value.isascii():  # ASCII always encodes: skip the copy for the common case
        _utf8("value", value)
    return value


def validate_single_value(what: str, value: str) -> str:
    """A value that must come back as one value: it may not end in a newline.

    Dokku's files carry no type, so bytes ending in ``\n`` are a list on every store (see
    ``encode_data``); a single value ending in one would read back as a list and vanish from
    commands that want a value. Refused before anything is written, naming only ``what``
    (never the value, which may be a secret).
    """
    validate_value(value)
    if value.endswith("\n"):
        raise ValidationError(
            f"invalid value for {what}: it ends in a newline, which the store would read back as a "
            "list (Dokku's layout); remove the trailing newline"
        )
    return value


def validate_list_item(value: str) -> str:
    """List items are lines, so they cannot contain a newline (the item is never printed)."""
    validate_value(value)
    if "\n" in value or "\r" in value:
        raise ValidationError("invalid list item: contains a line break")
    return value


def validate_dns_name(name: str) -> str:
    """A domain: dot-separated DNS labels, optionally a leading '*.' wildcard."""
    candidate = name.lower()
    labels = candidate[2:].split(".") if candidate.startswith("*.") else candidate.split(".")
    if (
        not candidate
        or len(candidate) > 253
        or not all(_DNS_LABEL_RE.fullmatch(label) for label in labels)
    ):
        raise ValidationError(f"invalid domain {name!r}: not a DNS name")
    return candidate


def validate_network_name(name: str) -> str:
    """Docker's own rule for network names, applied before docker sees them."""
    if not _NETWORK_RE.fullmatch(name or ""):
        raise ValidationError(
            f"invalid network name {name!r}: use letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return name
