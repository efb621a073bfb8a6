"""Interleaving several followed log streams into one ``logs -t``."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

from dockyard.core.errors import DockyardError

#: a log source: the prefix its lines get, and a callable that opens its byte stream
LogSource = tuple[str, Callable[[], Iterable[bytes]]]


def merge_log_streams(sources: Sequence[LogSource]) -> Iterator[str]:
    """Interleave followed log streams line by line as they are written, prefixed ``PREFIX: line``.

    One daemon thread per source opens and reads its stream, so a slow or silent source never
    holds up the others; the generator ends when every source has ended. A source that fails
    with a DockyardError ends with a ``[log stream ended: ...]`` line instead of killing the
    whole ``logs -t``.
    """
    lines: queue.Queue[str | None] = queue.Queue()

    def pump(prefix: str, open_stream: Callable[[], Iterable[bytes]]) -> None:
        try:
            pending = b""
            for chunk in open_stream():
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    lines.put(f"{prefix}: {line.decode(errors='replace')}")
            if pending:
                lines.put(f"{prefix}: {pending.decode(errors='replace')}")
        except DockyardError as exc:
            lines.put(f"{prefix}: [log stream ended: {exc}]")
        finally:
            lines.put(None)

    for prefix, open_stream in sources:
        threading.Thread(target=pump, args=(prefix, open_stream), daemon=True).start()
    remaining = len(sources)
    while remaining:
        item = lines.get()
        if item is None:
            remaining -= 1
        else:
            yield item
