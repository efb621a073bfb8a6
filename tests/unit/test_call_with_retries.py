"""call_with_retries: the retry policy the Kubernetes and Nomad clients share."""

from __future__ import annotations

import logging

import pytest

from dockyard.core.errors import DockyardError, NotFound
from dockyard.schedulers.retries import CallFailure, call_with_retries

LOG = logging.getLogger("test.retries")


class Flaky(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def judge(exc: Exception) -> CallFailure | None:
    if not isinstance(exc, Flaky):
        return None
    error = NotFound("gone") if exc.status == 404 else DockyardError(f"refused ({exc.status})")
    return CallFailure(error, exc.status >= 500, f"answered {exc.status}")


def test_a_blip_is_retried_with_a_warning_then_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    answers = [Flaky(503), Flaky(502), "ok"]

    def fn() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with caplog.at_level(logging.WARNING, logger="test.retries"):
        assert call_with_retries(fn, 5, 0.001, judge, LOG) == "ok"
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == [
        "answered 503; retry 1/4", "answered 502; retry 2/4"]


def test_gives_up_after_the_last_attempt_with_the_drivers_error() -> None:
    calls = []

    def fn() -> None:
        calls.append(1)
        raise Flaky(500)

    with pytest.raises(DockyardError, match=r"refused \(500\)") as info:
        call_with_retries(fn, 3, 0.001, judge, LOG)
    assert len(calls) == 3 and isinstance(info.value.__cause__, Flaky)


def test_a_refusal_is_not_retried_and_a_foreign_error_passes_through() -> None:
    calls = []

    def refused() -> None:
        calls.append(1)
        raise Flaky(404)

    with pytest.raises(NotFound):
        call_with_retries(refused, 5, 0.001, judge, LOG)
    assert len(calls) == 1

    def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        call_with_retries(broken, 5, 0.001, judge, LOG)
