"""Turning SIGINT and SIGTERM into an exception that a deploy's failure path handles.

Python's default SIGTERM ends the process at once, and its SIGINT raises KeyboardInterrupt
wherever the main thread happens to be; either way a rollout would leave its new
``…upcoming-…`` containers behind. Inside :func:`interruptible` both signals raise
:class:`~dockyard.core.errors.Interrupted` instead, so the same ``except BaseException``
clean-up that a failed check takes removes what the rollout created. Only the first signal
raises: a second one while that clean-up runs is reported and otherwise ignored, so the
clean-up itself is never cut short (SIGKILL still ends the process).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from dockyard.core.errors import Interrupted

log = logging.getLogger("dockyard.interrupts")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM raise ``Interrupted`` in the main thread (once).

    Outside the main thread (where Python cannot install handlers) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = [False]

    def handler(signum: int, frame: FrameType | None) -> None:
        if raised[0]:
            log.warning("%s received again: still cleaning up", signal.Signals(signum).name)
            return
        raised[0] = True
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def held() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM wait: a step that must not be cut in half (writing a
    release record of several properties) runs whole, then the signal is delivered again
    to whatever handler was in place before (``interruptible``'s, or Python's default).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        got.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if got:
            signal.raise_signal(got[0])
