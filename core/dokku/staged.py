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
    """``preload`` reads the whole base store once (one scan) and answers every later read
    from memory: an import compares thousands of properties, and checks each app's ports
    against every other app's, which would otherwise be a round trip each on redis or etcd.
    """

    def __init__(self, base: PropertyStore, preload: bool = False) -> None:
        super().__init__(base.url)
        self.base = base
        self.pending: dict[Key, Value | None] = {}
        self._snapshot: dict[Key, Property] | None = None
        #: plugin -> scope -> how many properties it holds, kept up to date (preload only)
        self._counts: dict[str, dict[str, int]] | None = None
        if preload:
            self._snapshot = {(p.plugin, p.scope, p.key): p for p in base.iter_all()}
            self._counts = {}
            for plugin, scope, _key in self._snapshot:
                by_scope = self._counts.setdefault(plugin, {})
                by_scope[scope] = by_scope.get(scope, 0) + 1

    def read(self, plugin: str, scope: str, key: str) -> Value | None:
        coords = (plugin, scope, key)
        if coords in self.pending:
            return self.pending[coords]
        if self._snapshot is not None:
            found = self._snapshot.get(coords)
            return None if found is None else found.data()
        return self.base.read(plugin, scope, key)

    def _apply(self, ops: Sequence[Op]) -> None:
        for op in ops:
            coords = (op.plugin, op.scope, op.key)
            if self._counts is not None:
                change = (isinstance(op, Put)) - (self.read(*coords) is not None)
                by_scope = self._counts.setdefault(op.plugin, {})
                by_scope[op.scope] = by_scope.get(op.scope, 0) + change
            self.pending[coords] = op.data if isinstance(op, Put) else None

    def iter_properties(self, plugin: str | None = None, scope: str | None = None) -> Iterator[Property]:
        def wanted(coords: Key) -> bool:
            return (plugin is None or coords[0] == plugin) and (scope is None or coords[1] == scope)

        for coords, data in sorted(self.pending.items()):
            if data is not None and wanted(coords):
                if isinstance(data, list):
                    yield Property(*coords, items=tuple(data))
                else:
                    yield Property(*coords, value=data)
        if self._snapshot is not None:
            base: Iterator[Property] = (p for p in self._snapshot.values()
                                        if wanted((p.plugin, p.scope, p.key)))
        else:
            base = self.base.iter_properties(plugin, scope)
        for prop in base:
            if (prop.plugin, prop.scope, prop.key) not in self.pending:
                yield prop

    def plugins(self) -> list[str]:
        return sorted({p.plugin for p in self.iter_properties()})

    def scopes(self, plugin: str | None = None) -> list[str]:
        if self._counts is not None:
            groups = [self._counts.get(plugin, {})] if plugin is not None else list(self._counts.values())
            return sorted({scope for group in groups for scope, n in group.items() if n > 0})
        return sorted({p.scope for p in self.iter_properties(plugin)})

    def lock(self, name: str, timeout: float = 0.0) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def take(self) -> list[Op]:
        """The recorded writes, in order of their coordinates, and forget them."""
        ops: list[Op] = [Put(*coords, data) for coords, data in sorted(self.pending.items()) if data is not None]
        self.pending.clear()
        return ops
