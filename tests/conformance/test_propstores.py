"""The shared property-store suite against file, redis and etcd, all on real servers."""

from __future__ import annotations

from dockyard.testing.propstores import PropertyStoreSuite


class TestPropertyStores(PropertyStoreSuite):
    """``store`` comes from tests/fixtures/stores.py: one empty store per driver and test."""
