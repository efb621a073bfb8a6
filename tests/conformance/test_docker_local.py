"""The scheduler conformance suite against docker-local on the real dockerd."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.propstores.base import PropertyStore
from dockyard.schedulers.base import Scheduler
from dockyard.testing.schedulers import SchedulerSuite

pytestmark = pytest.mark.docker


class TestDockerLocal(SchedulerSuite):
    @pytest.fixture
    def store(self, file_store: PropertyStore) -> PropertyStore:
        return file_store

    @pytest.fixture
    def scheduler(self, store: PropertyStore, docker_client: Any) -> Iterator[Scheduler]:
        from dockyard.core import load_scheduler

        sched = load_scheduler("docker-local", store)
        yield sched
        sched.close()

    @pytest.fixture
    def image(self, base_image: str) -> str:
        return base_image

    @pytest.fixture
    def network(self, docker_network: Callable[[str], str]) -> Callable[[str], str]:
        return docker_network
