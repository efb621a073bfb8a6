"""What the CLI fixture returns, and the check that a command succeeded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Result:
    """A command's exit code and output, as a shell would see them."""

    exit_code: int
    stdout: str
    stderr: str


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result
