"""Dokku's ``ENV`` files: ``KEY="value"`` lines (godotenv) and ``export KEY='value'`` lines.

Dokku has written these files three ways, and a server that was upgraded holds a mix:

- the bash ``config`` plugin of old releases wrote ``export KEY='value'`` with shell quoting
  (a ``'`` in the value becomes ``'\\''``, newlines stay literal inside the quotes);
- the Go ``config`` plugin (0.12 onwards, 0.20 included, and today) writes
  ``godotenv.Marshal``: ``KEY="value"`` with ``\\ \\n \\r " ! $ ` `` backslash-escaped, and
  ``KEY=123`` for a whole number;
- operators edit them by hand (``export KEY=value``, comments, blank lines).

The parser reads each value the way its writer meant it: a single-quoted part is literal
(shell), a double-quoted part undoes ``doubleQuoteEscape``, an unquoted part runs to the end
of the line or a `` #`` comment, and adjacent parts concatenate (``'it'\\''s'``). It does not
expand ``$VAR``: Dokku's writer always escapes ``$``, so an unescaped one only comes from a
hand edit, and is kept literally with a warning. Keys Dokku itself would drop (not
``[A-Za-z_][A-Za-z0-9_]*``) are skipped with a warning, as Dokku deletes them on load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dockyard.core.errors import ValidationError

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNESCAPED_VAR = re.compile(r"\$\{?[A-Za-z_]")
_SPACE = " \t\v\f\r"


@dataclass
class EnvFile:
    """The parsed variables, in file order, and what could not be taken as written."""

    values: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _double(text: str, i: int, where: str) -> tuple[str, int, bool]:
    """The body of a double-quoted part starting after its opening quote; (text, next index, had $)."""
    out: list[str] = []
    dollar = False
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"n": "\n", "r": "\r"}.get(nxt, nxt))
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1, dollar
        if ch == "$" and _UNESCAPED_VAR.match(text, i):
            dollar = True
        out.append(ch)
        i += 1
    raise ValidationError(f"{where}: unterminated double-quoted value")


def _value(text: str, i: int, where: str) -> tuple[str, int, bool]:
    """Parse one value from ``i`` to its line's end; returns (value, index after it, had $)."""
    parts: list[str] = []
    dollar = False
    unquoted_tail = 0  # length of trailing unquoted text, which is right-trimmed
    while i < len(text) and text[i] != "\n":
        ch = text[i]
        if ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise ValidationError(f"{where}: unterminated single-quoted value")
            parts.append(text[i + 1:end])
            i, unquoted_tail = end + 1, 0
        elif ch == '"':
            body, i, had = _double(text, i + 1, where)
            parts.append(body)
            dollar, unquoted_tail = dollar or had, 0
        elif ch == "\\" and i + 1 < len(text) and text[i + 1] != "\n":
            parts.append(text[i + 1])  # shell: \X outside quotes is X ('it'\''s')
            i, unquoted_tail = i + 2, 0
        elif ch == "#" and parts and text[i - 1] in _SPACE:
            break  # a comment: '#' after whitespace, outside quotes
        else:
            if ch == "$" and _UNESCAPED_VAR.match(text, i):
                dollar = True
            parts.append(ch)
            i += 1
            unquoted_tail += 1
    value = "".join(parts)
    if unquoted_tail:
        # only the unquoted tail is trimmed: quoted spaces are the user's
        head, tail = value[: len(value) - unquoted_tail], value[len(value) - unquoted_tail:]
        value = head + tail.rstrip(_SPACE)
    end = text.find("\n", i)
    return value, (len(text) if end < 0 else end + 1), dollar


def parse_env(text: str, source: str = "ENV") -> EnvFile:
    """Parse an ``ENV`` file's text; a later line for the same key wins, as in Dokku."""
    result = EnvFile()
    text = text.replace("\r\n", "\n")
    i = 0
    while i < len(text):
        # skip blank space and comment lines
        while i < len(text) and text[i] in _SPACE + "\n":
            i += 1
        if i >= len(text):
            break
        line = text.count("\n", 0, i) + 1
        where = f"{source} line {line}"
        if text[i] == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
            continue
        if text.startswith("export", i) and i + 6 < len(text) and text[i + 6] in _SPACE:
            i += 6
            while i < len(text) and text[i] in _SPACE:
                i += 1
        start = i
        while i < len(text) and text[i] not in "=:\n" + _SPACE:
            i += 1
        key = text[start:i]
        while i < len(text) and text[i] in _SPACE:
            i += 1
        if not key or i >= len(text) or text[i] not in "=:":
            raise ValidationError(f"{where}: expected KEY=VALUE")
        i += 1
        while i < len(text) and text[i] in _SPACE:
            i += 1
        value, i, dollar = _value(text, i, where)
        if not KEY_RE.match(key):
            result.warnings.append(f"{where}: skipped invalid variable name {key!r} (Dokku drops it too)")
            continue
        if dollar:
            result.warnings.append(
                f"{where}: {key} holds an unescaped '$'; it is imported literally, not expanded")
        result.values[key] = value
    return result


def marshal(values: dict[str, str]) -> str:
    """Dokku's writer (``godotenv.Marshal``), for tests and for reading back what Dokku wrote."""
    lines = []
    for key, value in values.items():
        if re.fullmatch(r"-?[0-9]+", value) and str(int(value)) == value:
            lines.append(f"{key}={value}")
            continue
        escaped = value
        for ch in "\\\n\r\"!$`":
            escaped = escaped.replace(ch, {"\n": "\\n", "\r": "\\r"}.get(ch, "\\" + ch))
        lines.append(f'{key}="{escaped}"')
    return "\n".join(sorted(lines))
