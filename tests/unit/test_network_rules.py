"""One set of network rules: what ``network:set`` refuses, a deploy (``read_networks``) refuses
with the same words, for a value written past the command (a Dokku import, props:set)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.core import open_propstore
from dockyard.core.errors import ValidationError
from dockyard.core.plan import NETWORK, network_value, read_networks


@pytest.mark.parametrize(("prop", "values", "other", "message"), [
    ("attach-post-create", ("host",), (), "host and bridge cannot be attached"),
    ("attach-post-deploy", ("a,b", "a"), (), "names a network twice: a,b,a"),
    ("attach-post-deploy", ("a",), ("a",), "already associated with this app in the other attach phase"),
    ("initial-network", ("a", "b"), (), "takes one value"),
    ("bind-all-interfaces", ("maybe",), (), "true or false"),
])
def test_network_set_refuses(prop: str, values: tuple[str, ...], other: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        network_value(prop, values, other)


def test_network_set_stores_dokku_values() -> None:
    assert network_value("attach-post-create", ("a, b", "c")) == "a,b,c"
    assert network_value("bind-all-interfaces", ()) == "false"
    assert network_value("bind-all-interfaces", ("yes",)) == "true"


def test_a_deploy_refuses_what_network_set_refuses(tmp_path: Path) -> None:
    store = open_propstore(f"file://{tmp_path}")
    store.set(NETWORK, "web", "attach-post-create", "a")
    store.set(NETWORK, "web", "attach-post-deploy", "a")
    with pytest.raises(ValidationError, match="already associated with this app in the other attach phase"):
        read_networks(store, "web")
