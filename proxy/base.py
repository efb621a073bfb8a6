"""The Proxy contract.

A proxy turns an app's listeners (read only through ``scheduler.listeners(app)``, so it
works whichever scheduler is loaded), port map, domains, certificate and proxy properties
into configuration, and applies it safely.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from dockyard.core.models import Listener
from dockyard.propstores.base import PropertyStore

Listeners = Mapping[str, Sequence[Listener]]


@dataclass(frozen=True)
class ApplyResult:
    app: str
    changed: bool
    active: bool
    message: str = ""


class Proxy(abc.ABC):
    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, store: PropertyStore) -> None:
        self.store = store

    @abc.abstractmethod
    def build_config(self, app: str, listeners: Listeners) -> ApplyResult:
        """Render, validate and (only if valid) apply and reload one app's config."""

    def build_all(self, listeners_by_app: Mapping[str, Listeners]) -> list[ApplyResult]:
        """Rebuild many apps; drivers should validate and reload once, not per app."""
        return [self.build_config(app, ls) for app, ls in listeners_by_app.items()]

    @abc.abstractmethod
    def clear_config(self, app: str) -> None:
        """Remove the app's config and reload."""

    def report(self, app: str) -> dict[str, str]:
        return {}
