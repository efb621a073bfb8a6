"""The etcd store's import journal entries: what ``props:import --resume`` reads back must be
exactly the transaction that was journaled, deletes and empty values included."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")

from dockyard.core.errors import DockyardError
from dockyard.propstores import etcd


def test_an_entry_reads_back_as_the_same_writes() -> None:
    writes: list[tuple[bytes, bytes | None]] = [
        (b"/dy/config/web/ENV", "A=1\nB=\"é\"\n".encode()),
        (b"/dy/config/web/GONE", None),
        (b"/dy/apps/web/empty", b""),
        ("/dy/domains/ünï/vhosts".encode(), b"\x00\xff" * 1000),
    ]
    raw = etcd._pack_writes(writes)
    assert etcd._unpack_writes(raw) == writes
    # never larger than the request it stands for, so a chunk that fits etcd fits the journal
    assert len(raw) <= sum(etcd._request_size(k, v) for k, v in writes)
    req = etcd._txn_request(etcd._unpack_writes(raw))
    assert req.SerializeToString() == etcd._txn_request(writes).SerializeToString()


def test_a_damaged_entry_is_one_error_not_a_wrong_transaction() -> None:
    raw = etcd._pack_writes([(b"/dy/a/b/c", b"value")])
    with pytest.raises(DockyardError, match="damaged"):
        etcd._unpack_writes(raw + b"\x00\x00")
