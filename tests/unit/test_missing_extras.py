"""A driver whose optional library is not installed says, in one line, which extra to install.

Each library is blocked by an import hook in a fresh interpreter, and a user's command that
needs the driver runs through the CLI. The kubernetes and nomad clients (and etcd3) are
imported when first used, past the point where the driver was loaded, so the message must
come from the entry point's declared extra whichever import fails.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BLOCK = textwrap.dedent(
    """
    import sys
    BLOCKED = sys.argv.pop(1)
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == BLOCKED or name.startswith(BLOCKED + "."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, Block())
    from dockyard.core.cli import main
    sys.argv[0] = "dockyard"
    main()
    """
)


def dockyard(root: Path, blocked: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"DOCKYARD_ROOT": str(root), "PATH": "/usr/bin:/bin", "HOME": str(root)}
    return subprocess.run([sys.executable, "-c", BLOCK, blocked, *args], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


@pytest.mark.parametrize(("blocked", "extra", "setup", "command"), [
    ("redis", "redis", [], ["--propstore", "redis://127.0.0.1:1/0", "apps:list"]),
    ("etcd3", "etcd", [], ["--propstore", "etcd://127.0.0.1:1", "apps:list"]),
    ("kubernetes", "kubernetes", [["apps:create", "shop"], ["scheduler:set", "shop", "selected", "kubernetes"]],
     ["logs", "shop"]),
    ("nomad", "nomad", [["apps:create", "shop"], ["scheduler:set", "shop", "selected", "nomad"]],
     ["logs", "shop"]),
])
def test_a_missing_library_names_the_extra_in_one_line(
        tmp_path: Path, blocked: str, extra: str, setup: list[list[str]], command: list[str]) -> None:
    for step in setup:
        assert dockyard(tmp_path, blocked, *step).returncode == 0, step
    done = dockyard(tmp_path, blocked, *command)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: the ") and f"needs the {blocked!r} package" in lines[0]
    assert lines[0].endswith(f"pip install 'dockyard[{extra}]'"), lines[0]
    assert "ModuleNotFoundError" not in done.stderr and "Traceback" not in done.stderr


def test_plugins_list_reports_a_driver_whose_library_is_missing(tmp_path: Path) -> None:
    done = dockyard(tmp_path, "redis", "plugins:list")
    assert done.returncode == 0, done.stderr
    assert "pip install 'dockyard[redis]'" in done.stdout
