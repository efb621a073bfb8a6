"""The CLI as a user runs it: apps:*, config:*, props:*, global options, errors and exit codes.

``run`` (tests/fixtures/cli.py) runs the real ``dockyard`` entry point in-process with its own
DOCKYARD_ROOT, so the default store is a file store in a temp dir; redis and etcd come from the
session servers in tests/fixtures/stores.py.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockyard.core import open_propstore

Run = Callable[..., Any]


def one_error_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return str(lines[0])


# ---- apps -------------------------------------------------------------------------------------
def test_apps_lifecycle(run: Run) -> None:
    assert run("apps:create", "web").exit_code == 0
    r = run("apps:create", "web")
    assert r.exit_code == 1 and "already exists" in one_error_line(r)
    assert run("apps:create", "api").exit_code == 0
    r = run("apps:list")
    assert r.exit_code == 0 and r.stdout.splitlines() == ["=====> My Apps", "api", "web"]
    r = run("apps:list", "--format", "json")
    assert json.loads(r.stdout) == ["api", "web"]
    assert run("apps:exists", "web").exit_code == 0
    r = run("apps:exists", "nope")
    assert r.exit_code == 20 and "App nope does not exist" in one_error_line(r)

    assert run("config:set", "web", "A=1", "B=two words").exit_code == 0
    assert run("ports:add", "web", "http:80:5000").exit_code in (0, 1, 2)  # other helpers' command, if any
    assert run("props:set", "ports", "web", "map", "--list", "http:80:5000").exit_code == 0

    r = run("apps:clone", "web", "web2")
    assert r.exit_code == 0, r.stderr
    r = run("config:get", "web2", "B")
    assert r.stdout == "two words\n"
    r = run("props:get", "ports", "web2", "map")
    assert r.stdout == "http:80:5000\n"

    r = run("apps:rename", "web2", "site")
    assert r.exit_code == 0, r.stderr
    assert run("apps:exists", "web2").exit_code == 20
    assert run("config:get", "site", "A").stdout == "1\n"

    r = run("apps:report", "site", "--format", "json")
    report = json.loads(r.stdout)
    assert report["app-properties"] >= 4 and report["app-created-at"]

    r = run("apps:report", "site")
    assert r.stdout.startswith("=====> site app information")

    r = run("apps:destroy", "site")  # no terminal: needs --force, changes nothing
    assert r.exit_code == 1 and "--force" in one_error_line(r)
    assert run("apps:exists", "site").exit_code == 0
    r = run("apps:destroy", "site", "--force")
    assert r.exit_code == 0, r.stderr
    assert run("apps:exists", "site").exit_code == 20
    assert run("props:list", "config", "site").stdout == ""
    assert run("config:get", "web", "A").stdout == "1\n"  # others untouched


@pytest.mark.parametrize("name", ["Web", "web_app", "-web", "web-", "web.", "a" * 64, "../x", ""])
def test_invalid_app_names(run: Run, name: str) -> None:
    r = run("apps:create", "--", name)  # "--": a name starting with "-" is not an option
    assert r.exit_code == 1
    assert "invalid app name" in one_error_line(r)
    assert run("apps:list", "--format", "json").stdout.strip() == "[]"


@pytest.mark.parametrize("args", [
    ("apps:create",), ("apps:rename", "a"), ("props:get", "p", "s"), ("props:import",),
    ("apps:list", "--bogus"), ("props:import", "f", "--mode"), ("--format", "yaml", "apps:list"),
    ("props:backup", "d", "--keep", "0"), ("props:migrate",),
])
def test_usage_errors_exit_2(run: Run, args: tuple[str, ...]) -> None:
    r = run(*args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr


KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-secret-material\n-----END PRIVATE KEY-----"


@pytest.mark.parametrize("args", [("props:set", "certs", "app1", "key", KEY), ("config:set", "app1", KEY),
                                  ("certs:add", "app1", KEY, KEY)])
def test_a_value_taken_for_an_option_is_never_echoed(run: Run, args: tuple[str, ...]) -> None:
    assert run("apps:create", "app1").exit_code == 0
    result = run(*args)
    assert result.exit_code == 2
    assert "secret-material" not in result.stdout + result.stderr and "BEGIN" not in result.stderr
    assert "put the values after `--`" in result.stderr


def test_unknown_command_is_answered_as_dokku_does(run: Run) -> None:
    r = run("nosuch:thing", "KEY=secret")
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr == (" !     `nosuch:thing` is not a dockyard command.\n"
                        " !     See `dockyard help` for a list of available commands.\n")


# ---- global options, settings -------------------------------------------------------------------
def test_global_options_before_and_after(run: Run, tmp_path: Path) -> None:
    other = tmp_path / "other-root"
    other.mkdir()
    url = f"file://{other}"
    assert run("--propstore", url, "apps:create", "one").exit_code == 0
    assert run("apps:create", "two", "--propstore", url).exit_code == 0
    assert run(f"--propstore={url}", "apps:create", "three").exit_code == 0
    before = json.loads(run("--format", "json", "--propstore", url, "apps:list").stdout)
    after = json.loads(run("apps:list", "--propstore", url, "--format", "json").stdout)
    assert before == after == ["one", "three", "two"]
    assert json.loads(run("apps:list", "--format", "json").stdout) == []  # the default store is another one
    assert run("apps:destroy", "one", "--propstore", url, "--force").exit_code == 0
    assert run("--force", "apps:destroy", "two", "--propstore", url).exit_code == 0
    r = run("apps:create", "x", "--debug", "--propstore", "nosuch://x")
    assert r.exit_code == 1 and "unknown propstore 'nosuch'" in r.stderr


def test_propstore_from_env_and_config(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_root, cfg_root = tmp_path / "env", tmp_path / "cfg"
    env_root.mkdir()
    cfg_root.mkdir()
    cfg = tmp_path / "dockyard.toml"
    cfg.write_text(f'propstore = "file://{cfg_root}"\n')
    monkeypatch.setenv("DOCKYARD_CONFIG", str(cfg))
    assert run("apps:create", "from-cfg").exit_code == 0
    monkeypatch.setenv("DOCKYARD_PROPSTORE", f"file://{env_root}")
    assert run("apps:create", "from-env").exit_code == 0
    assert open_propstore(f"file://{cfg_root}").scopes("apps") == ["from-cfg"]
    assert open_propstore(f"file://{env_root}").scopes("apps") == ["from-env"]


def test_missing_config_file_is_an_error(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "nope.toml"))
    r = run("apps:list")
    assert r.exit_code == 1
    assert "nope.toml" in one_error_line(r) and "does not exist" in r.stderr


def test_empty_config_file_is_valid(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    dockyard_root: Path) -> None:
    cfg = tmp_path / "empty2.toml"
    cfg.write_text("\n\n")
    monkeypatch.setenv("DOCKYARD_CONFIG", str(cfg))
    assert run("apps:create", "web").exit_code == 0
    assert (dockyard_root / "config/apps/web/created-at").is_file()  # file://$DOCKYARD_ROOT


def test_bad_config_file(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("propstore = [1, 2]\n")
    monkeypatch.setenv("DOCKYARD_CONFIG", str(cfg))
    r = run("apps:list")
    assert r.exit_code == 1 and "'propstore' must be a string" in one_error_line(r)


# ---- config ----------------------------------------------------------------------------------------
def test_config_commands(run: Run, dockyard_root: Path) -> None:
    run("apps:create", "web")
    r = run("config:set", "web", "DATABASE_URL=postgres://u:pw@db/x", "EMPTY_LATER=1", "PCT=100%")
    assert r.exit_code == 0, r.stderr
    assert (dockyard_root / "config/config/web/PCT").read_bytes() == b"100%"
    assert run("config:get", "web", "DATABASE_URL").stdout == "postgres://u:pw@db/x\n"
    r = run("config:get", "web", "MISSING")
    assert (r.exit_code, r.stdout, r.stderr) == (1, "", "")  # Dokku: exit 1, silently
    assert run("config:set", "web", "EMPTY_LATER=").exit_code == 0  # empty unsets, as in Dokku
    assert run("config:get", "web", "EMPTY_LATER").exit_code == 1
    assert run("config:set", "--global", "TZ=UTC").exit_code == 0
    assert run("config:get", "--global", "TZ").stdout == "UTC\n"
    assert (dockyard_root / "config/config/--global/TZ").read_bytes() == b"UTC"
    r = run("config:show", "web", "--format", "json")
    assert json.loads(r.stdout) == {"DATABASE_URL": "postgres://u:pw@db/x", "PCT": "100%"}
    r = run("config:show", "web", "--shell")
    assert r.stdout == "DATABASE_URL='postgres://u:pw@db/x' PCT='100%'\n"  # Dokku's (deprecated) --shell
    assert run("config:unset", "web", "PCT").exit_code == 0
    assert run("config:get", "web", "PCT").exit_code == 1
    r = run("config:set", "web", "1BAD=x")
    assert r.exit_code == 1 and "invalid environment variable name" in one_error_line(r)
    r = run("config:set", "nope", "A=1")
    assert r.exit_code == 20 and "App nope does not exist" in one_error_line(r)
    r = run("config:get", "Bad_App", "A")
    assert r.exit_code == 1 and "invalid app name" in one_error_line(r)


# ---- props ----------------------------------------------------------------------------------------
def test_props_get_set_unset_list(run: Run, dockyard_root: Path) -> None:
    assert run("props:set", "nginx", "--global", "hsts", "false").exit_code == 0
    assert (dockyard_root / "config/nginx/--global/hsts").read_bytes() == b"false"
    assert run("props:get", "nginx", "--global", "hsts").stdout == "false\n"
    assert run("props:get", "--global", "nginx", "hsts").stdout == "false\n"
    assert run("props:list", "--global").stdout == "nginx/--global/hsts\n"
    assert run("props:set", "domains", "web", "vhosts", "--list", "a.example", " b.example ").exit_code == 0
    assert (dockyard_root / "config/domains/web/vhosts").read_bytes() == b"a.example\nb.example\n"
    r = run("props:get", "domains", "web", "vhosts", "--format", "json")
    assert json.loads(r.stdout) == {"plugin": "domains", "scope": "web", "key": "vhosts",
                                    "list": ["a.example", "b.example"]}
    r = run("props:get", "nginx", "web", "nothing")
    assert r.exit_code == 1 and "nginx/web/nothing is not set" in one_error_line(r)
    assert run("props:get", "nginx", "web", "nothing", "--default", "dflt").stdout == "dflt\n"
    assert run("props:list").stdout.splitlines() == ["domains/web/vhosts", "nginx/--global/hsts"]
    assert run("props:list", "nginx").stdout.splitlines() == ["nginx/--global/hsts"]
    assert run("props:list", "--values").stdout.splitlines() == [
        "domains/web/vhosts: a.example b.example", "nginx/--global/hsts: false"]
    rows = json.loads(run("props:list", "--format", "json", "--values").stdout)
    assert rows[0]["list"] == ["a.example", "b.example"] and rows[1]["value"] == "false"
    assert run("props:set", "nginx", "--global", "hsts", "").exit_code == 0  # empty unsets
    assert run("props:get", "nginx", "--global", "hsts").exit_code == 1
    assert run("props:unset", "domains", "web", "vhosts", "other").exit_code == 0
    assert run("props:list").stdout == ""
    r = run("props:set", "nginx", "..", "k", "v")
    assert r.exit_code == 1 and "invalid scope" in one_error_line(r)
    r = run("props:set", "nginx", "web", "k", "a", "b")
    assert r.exit_code == 2


def _fill(run: Run) -> None:
    run("apps:create", "web")
    run("config:set", "web", "SECRET=hunter2", "GREETING=héllo ✓")
    run("props:set", "ports", "web", "map", "--list", "http:80:5000", "https:443:5000")
    run("props:set", "nginx", "--global", "hsts-max-age", "15724800")


def test_export_import_roundtrip(run: Run, tmp_path: Path, store_url_factory: Callable[[str], str]) -> None:
    _fill(run)
    out = tmp_path / "all.jsonl.gz"
    r = run("props:export", str(out))
    assert r.exit_code == 0, r.stderr
    assert "Exported 5 properties" in r.stdout and "hunter2" not in r.stdout + r.stderr
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    assert json.loads(lines[0])["count"] == 5
    r = run("props:export")  # stdout
    assert r.stdout.encode() == gzip.decompress(out.read_bytes()).replace(
        lines[0].encode(), r.stdout.splitlines()[0].encode())
    target = store_url_factory("redis")
    r = run("props:import", str(out), "--propstore", target)
    assert r.exit_code == 0, r.stderr
    assert "added 5, changed 0, deleted 0" in r.stdout
    r = run("props:get", "config", "web", "GREETING", "--propstore", target)
    assert r.stdout == "héllo ✓\n"


def test_import_dry_run_and_replace(run: Run, tmp_path: Path) -> None:
    _fill(run)
    f = tmp_path / "e.jsonl"
    run("props:export", str(f))
    run("config:set", "web", "SECRET=changed", "NEW=1")
    r = run("props:import", str(f), "--replace", "--dry-run")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == ["~ config/web/SECRET", "- config/web/NEW",
                                     "-----> Would add 0, change 1, delete 1; 4 unchanged"]
    assert run("config:get", "web", "SECRET").stdout == "changed\n"  # dry run changed nothing
    r = run("props:import", str(f), "--format", "json", "--dry-run")
    assert json.loads(r.stdout)["changes"] == {"add": [], "change": ["config/web/SECRET"], "delete": []}
    assert run("props:import", str(f)).exit_code == 0  # merge keeps NEW
    assert run("config:get", "web", "NEW").stdout == "1\n"
    assert run("config:get", "web", "SECRET").stdout == "hunter2\n"
    assert run("props:import", str(f), "--replace").exit_code == 0  # replace: no prompt, no --force
    assert run("config:get", "web", "NEW").exit_code == 1


def test_rejected_import_is_one_line_and_changes_nothing(run: Run, tmp_path: Path) -> None:
    _fill(run)
    f = tmp_path / "e.jsonl"
    run("props:export", str(f))
    before = run("props:list", "--values").stdout
    data = f.read_bytes()
    f.write_bytes(data.replace(b"hunter2", b"hunter3"))
    r = run("props:import", str(f), "--replace")
    assert r.exit_code == 1 and "checksum mismatch" in one_error_line(r)
    f.write_bytes(data[:-7])
    r = run("props:import", str(f))
    assert r.exit_code == 1 and "truncated" in one_error_line(r)
    r = run("props:import", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 1 and "no such file" in one_error_line(r)
    assert run("props:list", "--values").stdout == before


def test_backup_and_restore(run: Run, tmp_path: Path) -> None:
    _fill(run)
    d = tmp_path / "backups"
    for _ in range(3):
        r = run("props:backup", str(d), "--keep", "2")
        assert r.exit_code == 0, r.stderr
    files = sorted(p.name for p in d.iterdir())
    assert len(files) == 2 and all(n.startswith("dockyard-") and n.endswith(".jsonl.gz") for n in files)
    before = run("props:list", "--values").stdout
    run("apps:destroy", "web", "--force")
    run("props:set", "junk", "x", "y", "z")
    r = run("props:restore", str(d))
    assert r.exit_code == 0, r.stderr
    assert run("props:list", "--values").stdout == before


def test_migrate_to_redis_and_etcd(run: Run, store_url_factory: Callable[[str], str]) -> None:
    _fill(run)
    for kind in ("redis", "etcd"):
        url = store_url_factory(kind)
        r = run("props:migrate", "--to", url)
        assert r.exit_code == 0, r.stderr
        assert "Migrated 5 properties" in r.stdout and "verified" in r.stdout
        assert run("config:get", "web", "SECRET", "--propstore", url).stdout == "hunter2\n"
        r = run("props:migrate", "--to", url)  # not empty any more
        assert r.exit_code == 1 and "--replace" in one_error_line(r)
        assert run("props:migrate", "--to", url, "--replace").exit_code == 0


def test_passwords_never_printed(run: Run, redis_url: str, tmp_path: Path) -> None:
    url = redis_url.replace("redis://", "redis://default:pa55word-xyz@") + "?prefix=pwcli:"
    try:
        assert run("--propstore", url, "apps:create", "web").exit_code == 0
        r = run("--propstore", url, "props:export", str(tmp_path / "x.jsonl"))
        assert r.exit_code == 0
        assert "pa55word-xyz" not in r.stdout + r.stderr + (tmp_path / "x.jsonl").read_text()
        r = run("props:migrate", "--to", url.replace("pwcli:", "pwcli2:"))
        assert r.exit_code == 0, r.stderr
        assert "pa55word-xyz" not in r.stdout + r.stderr and "default:***@" in r.stdout
        # a wrong password: the error names the store, never the password
        bad = "redis://nobody:wr0ng-secret@" + redis_url.split("://", 1)[1]
        r = run("--propstore", bad, "apps:list")
        assert r.exit_code == 1
        assert "wr0ng-secret" not in r.stderr and "***" in one_error_line(r)
    finally:
        from tests.fixtures.stores import wipe

        wipe(url)
        wipe(url.replace("pwcli:", "pwcli2:"))


def test_plugins_list_shows_stores(run: Run) -> None:
    r = run("plugins:list", "--format", "json")
    rows = {(i["group"], i["name"]): i for i in json.loads(r.stdout)}
    for name in ("file", "redis", "rediss", "etcd", "etcds"):
        info = rows[("dockyard.propstores", name)]
        assert info["loaded"], info
    assert "watch" in rows[("dockyard.propstores", "redis")]["capabilities"]
    assert "dokku-layout" in rows[("dockyard.propstores", "file")]["capabilities"]


# ---- values ending in a newline (issue 8) -------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("config:set", "web", "--no-restart", "CERT=l1\nl2\n"),
    ("config:set", "web", "--no-restart", "--encoded", "CERT=bDEKbDIK"),
    ("nginx:set", "web", "client-max-body-size", "1m\n"),
])
def test_value_ending_in_newline_refused_in_one_line(run: Run, args: tuple[str, ...]) -> None:
    """Such a value would read back as a list and vanish (config:show omitted CERT)."""
    assert run("apps:create", "web").exit_code == 0
    assert run("config:set", "web", "--no-restart", "KEEP=1").exit_code == 0
    r = run(*args)
    line = one_error_line(r)
    assert r.exit_code == 1 and "ends in a newline" in line and "l1" not in line
    assert json.loads(run("config:show", "web", "--format", "json").stdout) == {"KEEP": "1"}
    assert run("props:get", "nginx", "web", "client-max-body-size").exit_code != 0
    r = run("config:set", "web", "--no-restart", "CERT=l1\nl2")  # an inner newline is kept exactly
    assert r.exit_code == 0, r.stderr
    assert run("config:get", "web", "CERT").stdout == "l1\nl2\n"


@pytest.mark.parametrize("args", [
    ("ps:scale", "web", "web=²"), ("ports:add", "web", "http:²:5000"), ("ports:add", "web", "http:80:٥"),
    ("checks:set", "web", "attempts", "²"), ("ps:set", "web", "stop-timeout-seconds", "²"),
])
def test_unicode_digits_are_one_error_line(run: Run, args: tuple[str, ...]) -> None:
    """str.isdigit() is true for "²" and "٥" but int() refuses them: one line, not a ValueError."""
    assert run("apps:create", "web").exit_code == 0
    r = run(*args)
    assert r.exit_code != 0
    assert "ValueError" not in one_error_line(r)
