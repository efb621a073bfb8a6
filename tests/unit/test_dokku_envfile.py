"""Dokku's ENV files as each of its writers produced them, read back to the values that were set."""

from __future__ import annotations

import pytest

from dockyard.core.dokku.envfile import marshal, parse_env
from dockyard.core.errors import ValidationError

VALUES = {
    "A": "it's", "B": 'say "hi"', "C": "$HOME $(id) `id` ${X} !x", "D": "one\ntwo\r\nthree",
    "E": "héllo ✓", "F": "", "G": "42", "H": "ends with \\", "I": 'ends with "', "J": "  spaced  ",
    "K": "a # b", "L": "=equals=", "M": "-7",
}


def test_godotenv_marshal_round_trips() -> None:
    """0.20 and current Dokku write godotenv.Marshal: every value comes back as set."""
    text = marshal(VALUES)
    assert 'A="it\'s"' in text and "G=42" in text and 'C="\\$HOME \\$(id) \\`id\\` \\${X} \\!x"' in text
    parsed = parse_env(text)
    assert parsed.values == VALUES and parsed.warnings == []


def test_bash_era_shell_quoting() -> None:
    """Old Dokku wrote export KEY='value' with '\\'' for a quote and literal newlines."""
    text = "".join(f"export {k}='" + v.replace("'", "'\\''") + "'\n" for k, v in VALUES.items())
    # a literal CR LF reads as LF, as Dokku's own reader (godotenv) normalises it
    assert parse_env(text).values == {**VALUES, "D": "one\ntwo\nthree"}


def test_hand_edits() -> None:
    text = ("# a comment\n\n  export PLAIN=value   \nexport   SPACED = x y  # trailing comment\n"
            "YAML: style\nQUOTED='a' # c\nHASH=a#b\nSTARTS=#hash\nCRLF=\"x\"\r\nLATER=1\nLATER=2\n")
    parsed = parse_env(text)
    assert parsed.values == {"PLAIN": "value", "SPACED": "x y", "YAML": "style", "QUOTED": "a",
                             "HASH": "a#b", "STARTS": "#hash", "CRLF": "x", "LATER": "2"}


def test_unescaped_dollar_is_literal_with_a_warning() -> None:
    parsed = parse_env('URL="http://$HOST/x"\nPRICE="5$"\n')
    assert parsed.values == {"URL": "http://$HOST/x", "PRICE": "5$"}
    assert len(parsed.warnings) == 1 and "URL" in parsed.warnings[0] and "line 1" in parsed.warnings[0]


def test_invalid_names_are_dropped_as_dokku_drops_them() -> None:
    parsed = parse_env("GOOD=1\nbad-name=2\n9LIVES=3\n")
    assert parsed.values == {"GOOD": "1"}
    assert len(parsed.warnings) == 2


@pytest.mark.parametrize("text", ["A='open\n", 'A="open\n', "no equals sign\n", "=value\n"])
def test_broken_files_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_env(text, "/home/dokku/app/ENV")
