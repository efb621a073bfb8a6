"""The engine connection, opened on first use so loading the driver costs nothing."""

from __future__ import annotations

from typing import Any

from dockyard.core.errors import DockyardError


def connect(max_pool_size: int = 32) -> Any:
    """A docker SDK client; an unreachable engine is one clear error, not a traceback."""
    import docker

    try:
        client = docker.from_env(timeout=120, max_pool_size=max_pool_size)
        client.ping()
    except Exception as exc:
        raise DockyardError(
            f"cannot reach the docker engine ({exc}); is dockerd running and DOCKER_HOST right?"
        ) from exc
    return client


def is_not_found(exc: BaseException) -> bool:
    from docker.errors import NotFound

    return isinstance(exc, NotFound)
