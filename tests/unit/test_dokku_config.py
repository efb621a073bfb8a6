"""Dokku's config commands (bare ``config``, keys, export, import, clear, bundle, --encoded,
--quoted, a silent exit 1 for an unset key), through the real CLI on the file store."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.cli import ok as _ok

Run = Callable[..., Any]



def test_bare_config_keys_and_get_forms(run: Run) -> None:
    _ok(run("apps:create", "web"))
    _ok(run("config:set", "web", "B=it's", "A=1"))
    shown = _ok(run("config", "web")).stdout
    assert shown.startswith("=====> web env vars\n") and "B:" in shown
    assert _ok(run("config", "keys", "web")).stdout == "A\nB\n"  # the group form still works
    assert _ok(run("config:keys", "web")).stdout == "A\nB\n"
    assert _ok(run("config:get", "--quoted", "web", "B")).stdout == "'it'\\''s'\n"
    unset = run("config:get", "web", "NOPE")
    assert (unset.exit_code, unset.stdout, unset.stderr) == (1, "", "")
    assert run("config:get", "no-such-app", "A").exit_code == 20  # Dokku's exit code for a missing app


def test_set_encoded_decodes_base64(run: Run) -> None:
    _ok(run("apps:create", "web"))
    _ok(run("config:set", "--encoded", "web", "SECRET=aGVsbG8gd29ybGQ="))
    assert _ok(run("config:get", "web", "SECRET")).stdout == "hello world\n"
    bad = run("config:set", "--encoded", "web", "SECRET=***")
    assert bad.exit_code == 1 and "not base64" in bad.stderr
    assert _ok(run("config:get", "web", "SECRET")).stdout == "hello world\n"


def test_export_formats(run: Run) -> None:
    _ok(run("apps:create", "web"))
    _ok(run("config:set", "web", "A=it's", "B=$x"))
    _ok(run("config:set", "--global", "G=g"))
    assert _ok(run("config:export", "web")).stdout == "export A='it'\\''s'\nexport B='$x'\n"
    assert _ok(run("config:export", "web", "--format", "envfile")).stdout == 'A="it\'s"\nB="\\$x"\n'
    assert _ok(run("config:export", "--format", "shell", "web")).stdout == "A='it'\\''s' B='$x'\n"
    assert _ok(run("config", "export", "web", "--format", "docker-args")).stdout == "--env=A='it'\\''s' --env=B='$x'\n"
    assert json.loads(_ok(run("config:export", "web", "--format", "json")).stdout) == {"A": "it's", "B": "$x"}
    merged = json.loads(_ok(run("config:export", "web", "--merged", "--format", "json-list")).stdout)
    assert [e["name"] for e in merged] == ["A", "B", "G"]


def test_import_from_stdin_file_and_json_with_replace(run: Run, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _ok(run("apps:create", "web"))
    _ok(run("config:set", "web", "OLD=1"))
    monkeypatch.setattr("sys.stdin", io.StringIO("export A='x y'\nB=\"q\\\"\"\n"))
    _ok(run("config:import", "web"))
    assert _ok(run("config:get", "web", "A")).stdout == "x y\n"
    assert _ok(run("config:get", "web", "B")).stdout == 'q"\n'
    src = tmp_path / "env.json"
    src.write_text(json.dumps({"C": "3"}))
    _ok(run("config:import", "web", str(src), "--format", "json", "--replace"))
    assert _ok(run("config:keys", "web")).stdout == "C\n"
    src.write_text("[1]")
    assert run("config:import", "web", str(src), "--format", "json").exit_code == 1
    assert _ok(run("config:keys", "web")).stdout == "C\n"


def test_clear_and_bundle(run: Run) -> None:
    _ok(run("apps:create", "web"))
    _ok(run("config:set", "web", "A=1", "B=two"))
    # a real process: the tar is bytes on stdout (the run fixture reads text)
    proc = subprocess.run([sys.executable, "-c", "from dockyard.core.cli import main; main()",
                           "config:bundle", "web"], capture_output=True, timeout=60, check=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == {"A": b"1", "B": b"two"}  # type: ignore[union-attr]
    assert "-----> Unsetting config vars" in _ok(run("config:clear", "web")).stdout
    assert _ok(run("config:keys", "web")).stdout == ""


def test_show_and_keys_take_merged_and_the_bare_config_forms(run: Run) -> None:
    """Dokku's ``config[:show] [--merged] (APP|--global)`` and ``config:keys --merged``
    (config.bats "(config) config:show": ``KEY:`` padded, two spaces, the value)."""
    _ok(run("apps:create", "web"))
    _ok(run("config:set", "--global", "GLOBALKEY=g"))
    _ok(run("config:set", "--no-restart", "web", "A=1", "GLOBALKEY=own"))
    assert _ok(run("config:show", "web")).stdout == "=====> web env vars\nA:          1\nGLOBALKEY:  own\n"
    assert _ok(run("--quiet", "config:show", "web")).stdout == "A:          1\nGLOBALKEY:  own\n"
    _ok(run("config:unset", "--no-restart", "web", "GLOBALKEY"))
    merged = _ok(run("config:show", "--merged", "web")).stdout
    assert merged == "=====> web env vars\nA:          1\nGLOBALKEY:  g\n"
    assert _ok(run("config", "web", "--merged")).stdout == merged  # bare config is config:show
    assert _ok(run("config", "--global")).stdout == "=====> --global env vars\nGLOBALKEY:  g\n"
    assert _ok(run("config:keys", "web")).stdout == "A\n"
    assert _ok(run("config:keys", "--merged", "web")).stdout == "A\nGLOBALKEY\n"
    # Dokku's deprecated forms still print, with its warning
    shell = _ok(run("config", "--shell", "web"))
    assert shell.stdout == "A='1'\n" and "Deprecated: Use 'config:export --format shell' instead" in shell.stderr
    assert _ok(run("config:show", "--export", "--merged", "web")).stdout == "export A='1'\nexport GLOBALKEY='g'\n"
    assert run("config:show", "--export", "--shell", "web").exit_code == 1
