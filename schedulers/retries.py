"""The retry policy of the remote drivers' API clients (kubernetes, nomad, and a third
party's): one backoff, one way to judge a client library's failure, one pair of settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import ClassVar, NamedTuple, TypeVar

from dockyard.core.errors import DockyardError, NotFound
from dockyard.core.lookup import computed_float, computed_int
from dockyard.propstores.base import PropertyStore

T = TypeVar("T")


class CallFailure(NamedTuple):
    """A driver's verdict on one failed API call."""

    #: raised (from the original exception) when the call is given up
    error: DockyardError
    #: worth another try: 5xx, 429, a dropped connection
    retriable: bool
    #: what the retry warning says happened
    note: str


def call_with_retries(fn: Callable[[], T], retries: int, backoff: float,
                      judge: Callable[[Exception], CallFailure | None], log: logging.Logger) -> T:
    """``fn()``, retried with exponential backoff (capped at 5 s) while ``judge`` calls the failure retriable.

    Cluster APIs blip (a leader election, a restarting API server), so every remote driver
    retries the same way; only the judging of its client library's exceptions differs. An
    exception ``judge`` does not recognise (None) propagates untouched.
    """
    delay = backoff
    for attempt in range(1, retries + 1):
        try:
            return fn()
        except Exception as exc:
            failure = judge(exc)
            if failure is None:
                raise
            if not failure.retriable or attempt >= retries:
                raise failure.error from exc
            log.warning("%s; retry %d/%d in %.1fs", failure.note, attempt, retries - 1, delay)
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    raise DockyardError(f"no attempt made ({retries} retries configured)")


class RetryingClient:
    """Base of the remote drivers' API clients: ``call`` with the shared retry policy, ``maybe``.

    A subclass says how its client library fails (``judge``); ``retries`` and ``backoff``
    come from the driver's ``retries`` / ``retry-backoff`` properties (``retry_settings``).
    """

    log: ClassVar[logging.Logger] = logging.getLogger("dockyard.schedulers")

    def __init__(self, retries: int = 5, backoff: float = 0.2) -> None:
        self.retries = retries
        self.backoff = backoff

    def judge(self, what: str, exc: Exception) -> CallFailure | None:
        """The verdict on ``exc`` from the call doing ``what``; None for an exception not from the API."""
        return None

    def call(self, what: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """``fn(*args, **kwargs)``, retrying 5xx/429 and dropped connections with backoff."""
        return call_with_retries(lambda: fn(*args, **kwargs), self.retries, self.backoff,
                                 lambda exc: self.judge(what, exc), self.log)

    def maybe(self, what: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T | None:
        """Like ``call`` but "not found" is None."""
        try:
            return self.call(what, fn, *args, **kwargs)
        except NotFound:
            return None


def retry_settings(store: PropertyStore, plugin: str) -> tuple[int, float]:
    """(retries, backoff seconds) from the driver's global ``retries`` and ``retry-backoff``."""
    return (computed_int(store, plugin, None, "retries", 5, minimum=1),
            computed_float(store, plugin, None, "retry-backoff", 0.2, minimum=0))
