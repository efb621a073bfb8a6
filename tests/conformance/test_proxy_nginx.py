"""The proxy conformance suite against a private nginx (never the system one)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.core.names import GLOBAL_SCOPE
from dockyard.propstores.base import PropertyStore
from dockyard.proxy.base import Proxy
from dockyard.testing.proxies import ProxySuite
from tests.fixtures.nginx import PrivateNginx

pytestmark = pytest.mark.nginx


class TestNginxProxy(ProxySuite):
    @pytest.fixture
    def store(self, file_store: PropertyStore) -> PropertyStore:
        return file_store

    @pytest.fixture
    def proxy(self, store: PropertyStore, private_nginx: PrivateNginx) -> Proxy:
        """The driver reads the private nginx's settings (loopback binds, its binary) from ``store``."""
        from dockyard.core import load_proxy

        return load_proxy("nginx", store)

    @pytest.fixture
    def validations(self, proxy: Proxy, private_nginx: PrivateNginx, tmp_path: Path) -> Callable[[], int]:
        """Counts ``nginx -t`` runs: the nginx binary, behind a wrapper that notes each test run."""
        log = tmp_path / "nginx-t.log"
        wrapper = tmp_path / "nginx-counting"
        wrapper.write_text('#!/bin/sh\n'
                           f'case " $* " in *" -t "*) echo >> "{log}";; esac\n'
                           f'exec "{private_nginx.binary}" "$@"\n')
        wrapper.chmod(0o755)
        proxy.set_property(GLOBAL_SCOPE, "binary", str(wrapper))
        return lambda: len(log.read_text().splitlines()) if log.exists() else 0
