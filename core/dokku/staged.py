"""A store view that records writes instead of making them.

``dokku:import`` checks each app with Dockyard's own code (port conflicts against every
app, the nginx driver's property validation) before anything is written. Those checks read
a store and some of them write to one; run against a ``StagedStore`` they see the real
store with the import's pending writes on top, and their writes become ops the import
applies later in one batch per app (or never, with ``--dry-run``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

from dockyard.propstores.base import Op, Property, PropertyStore, Put, Value

Key = tuple[str, str, str]


class StagedStore(PropertyStore):
    def __init__(self, base: PropertyStore) -> None:
        super().__init__(base.url)
        self.base = base
        self.pending: dict[Key, Value | None] = {}

    def read(self, plugin: str, scope: str, key: str) -> Value | None:
        coords = (plugin, scope, key)
        if coords in self.pending:
            return self.pending[coords]
        return self.base.read(plugin, scope, key)

    def _apply(self, ops: Sequence[Op]) -> None:
        for op in ops:
            self.pending[(op.plugin, op.scope, op.key)] = op.data if isinstance(op, Put) else None

    def iter_properties(self, plugin: str | None = None, scope: str | None = None) -> Iterator[Property]:
        def wanted(coords: Key) -> bool:
            return (plugin is None or coords[0] == plugin) and (scope is None or coords[1] == scope)

        for coords, data in sorted(self.pending.items()):
            if data is not None and wanted(coords):
                if isinstance(data, list):
                    yield Property(*coords, items=tuple(data))
                else:
                    yield Property(*coords, value=data)
        for prop in self.base.iter_properties(plugin, scope):
            if (prop.plugin, prop.scope, prop.key) not in self.pending:
                yield prop

    def plugins(self) -> list[str]:
        return sorted({p.plugin for p in self.iter_properties()})

    def scopes(self, plugin: str | None = None) -> list[str]:
        return sorted({p.scope for p in self.iter_properties(plugin)})

    def lock(self, name: str, timeout: float = 0.0) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def take(self) -> list[Op]:
        """The recorded writes, in order of their coordinates, and forget them."""
        ops: list[Op] = [Put(*coords, data) for coords, data in sorted(self.pending.items()) if data is not None]
        self.pending.clear()
        return ops
