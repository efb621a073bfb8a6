"""merge_log_streams: the follow-mode log merger every scheduler driver shares."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from dockyard.core.errors import DockyardError
from dockyard.schedulers.logstreams import merge_log_streams


def test_lines_split_across_chunks_are_joined_and_prefixed() -> None:
    lines = list(merge_log_streams([("app[web.1]", lambda: [b"hel", b"lo\nwor", b"ld\n", b"tail"])]))
    assert lines == ["app[web.1]: hello", "app[web.1]: world", "app[web.1]: tail"]


def test_sources_interleave_as_written_and_the_merge_ends_when_all_end() -> None:
    second_may_go = threading.Event()

    def first() -> Iterator[bytes]:
        yield b"one\n"
        second_may_go.wait(5)
        yield b"three\n"

    def second() -> Iterator[bytes]:
        yield b"two\n"
        second_may_go.set()

    merged = merge_log_streams([("a", first), ("b", second)])
    got = list(merged)
    assert sorted(got) == ["a: one", "a: three", "b: two"]
    assert got.index("a: one") < got.index("a: three")
    assert got.index("b: two") < got.index("a: three")


def test_a_failing_source_ends_with_a_note_and_the_others_go_on() -> None:
    def broken() -> Iterator[bytes]:
        yield b"partial\n"
        raise DockyardError("connection reset")

    got = sorted(merge_log_streams([("x", broken), ("y", lambda: [b"fine\n"])]))
    assert got == ["x: [log stream ended: connection reset]", "x: partial", "y: fine"]


def test_no_sources_yields_nothing() -> None:
    assert list(merge_log_streams([])) == []
