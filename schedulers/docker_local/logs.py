"""``logs APP [-p PROC] [-t]``: every live container's output, prefixed Dokku's way.

With ``follow`` the streams are merged by ``merge_log_streams``, so lines from all containers
arrive as they are written and the generator ends when every container stops.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from dockyard.schedulers.docker_local import containers
from dockyard.schedulers.docker_local import labels as L
from dockyard.schedulers.logstreams import merge_log_streams


def _targets(api: Any, app: str, process_type: str | None) -> list[tuple[str, str]]:
    found = []
    for c in containers.listing(api, app):
        name = containers.name_of(c)
        lab = c.get("Labels") or {}
        if not L.is_live(name) or (process_type and lab.get(L.PROCESS) != process_type):
            continue
        found.append((c["Id"], f"{app}[{lab.get(L.DYNO, name)}]"))
    return sorted(found, key=lambda t: t[1])


def logs(api: Any, app: str, process_type: str | None, follow: bool, tail: int | None) -> Iterator[str]:
    targets = _targets(api, app, process_type)
    tail_arg: Any = tail if tail is not None else "all"
    if not follow:
        for cid, prefix in targets:
            raw = api.logs(cid, stdout=True, stderr=True, tail=tail_arg)
            for line in raw.decode(errors="replace").splitlines():
                yield f"{prefix}: {line}"
        return
    yield from merge_log_streams([
        (prefix, functools.partial(api.logs, cid, stdout=True, stderr=True, stream=True, follow=True, tail=tail_arg))
        for cid, prefix in targets])
