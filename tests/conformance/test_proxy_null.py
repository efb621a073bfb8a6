"""The proxy conformance suite against the null proxy: routing off, every build a no-op."""

from __future__ import annotations

import pytest

from dockyard.propstores.base import PropertyStore
from dockyard.proxy.base import Proxy
from dockyard.testing.proxies import ProxySuite


class TestNullProxy(ProxySuite):
    @pytest.fixture
    def store(self, file_store: PropertyStore) -> PropertyStore:
        return file_store

    @pytest.fixture
    def proxy(self, store: PropertyStore) -> Proxy:
        from dockyard.core import load_proxy

        return load_proxy("null", store)
