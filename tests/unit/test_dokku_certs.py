"""certs:add / certs:update on an app not yet deployed: Dokku's errors and exit codes
(plugins/certs/subcommands/add, internal-functions), and never a private key in the output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.fixtures.cli import Result, ok
from tests.fixtures.nginx import make_cert

Run = Callable[..., Result]


def test_add_and_update_say_one_line_and_fail_with_dokkus_messages(run: Run, tmp_path: Path) -> None:
    crt, key = make_cert(("shop.example.test",))
    (tmp_path / "s.crt").write_text(crt)
    (tmp_path / "s.key").write_text(key)
    c, k, gone = str(tmp_path / "s.crt"), str(tmp_path / "s.key"), str(tmp_path / "gone")
    ok(run("apps:create", "shop"))
    for cmd in ("certs:add", "certs:update"):
        done = ok(run(cmd, "shop", c, k))
        assert done.stdout == ""  # Dokku's certs:add says nothing of its own; Dockyard's one log line is on stderr
        assert done.stderr.startswith("-----> Added a certificate for shop (shop.example.test), valid until ")
        assert done.stderr.count("\n") == 1 and "PRIVATE KEY" not in done.stderr
        for args, said in (((gone, k), "CRT file specified not found, please check file paths"),
                           ((c, gone), "KEY file specified not found, please check file paths"),
                           ((gone, gone), "CRT file specified not found, please check file paths")):
            failed = run(cmd, "shop", *args)
            assert (failed.exit_code, failed.stdout, failed.stderr) == (1, "", f"error: {said}\n"), args
        missing = run(cmd, "nope", c, k)
        assert (missing.exit_code, missing.stderr) == (20, "error: App nope does not exist\n")
    swapped = run("certs:add", "shop", k, c)  # a key where the certificate goes: one line, nothing stored
    assert swapped.exit_code == 1 and swapped.stderr.count("\n") == 1 and "PRIVATE KEY" not in swapped.stderr
    assert ok(run("certs:show", "shop", "crt")).stdout == crt
