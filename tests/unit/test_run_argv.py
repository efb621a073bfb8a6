"""run_argv: how every scheduler turns ``dockyard run APP ...`` into the argv it executes."""

from __future__ import annotations

import pytest

from dockyard.core.errors import ValidationError
from dockyard.core.models import DeployPlan, ProcessSpec
from dockyard.schedulers.runs import run_argv

PLAN = DeployPlan(app="a", release="r1", image="img", processes=(
    ProcessSpec("web", ("python", "-m", "http.server")),
    ProcessSpec("worker", None),
))


def test_a_procfile_name_runs_its_command_with_the_rest_appended() -> None:
    assert run_argv(PLAN, ["web", "8080"]) == ["python", "-m", "http.server", "8080"]


def test_other_words_run_as_given() -> None:
    assert run_argv(PLAN, ["sh", "-c", "echo web"]) == ["sh", "-c", "echo web"]


def test_a_process_without_a_command_is_not_expanded() -> None:
    assert run_argv(PLAN, ["worker", "x"]) == ["worker", "x"]


def test_an_empty_command_is_refused() -> None:
    with pytest.raises(ValidationError, match="run needs a command"):
        run_argv(PLAN, [])
