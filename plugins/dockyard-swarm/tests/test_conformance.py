"""Dockyard's scheduler conformance suite against the swarm scheduler on a real swarm."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.propstores.base import PropertyStore
from dockyard.schedulers.base import Scheduler
from dockyard.testing.schedulers import SchedulerSuite

pytestmark = pytest.mark.docker


class TestSwarm(SchedulerSuite):
    @pytest.fixture
    def store(self, file_store: PropertyStore) -> PropertyStore:
        return file_store

    @pytest.fixture
    def scheduler(self, store: PropertyStore, swarm_client: Any, session_labelled: None) -> Iterator[Scheduler]:
        from dockyard.core import load_scheduler

        sched = load_scheduler("swarm", store)  # through the entry point, as Dockyard loads it
        yield sched
        sched.close()

    @pytest.fixture
    def image(self, swarm_image: str) -> str:
        return swarm_image

    @pytest.fixture
    def network(self, overlay_network: Callable[[str], str]) -> Callable[[str], str]:
        return overlay_network
