"""Reading an image's config and files through the local docker engine, for any driver
whose images that engine can read (docker-local; kubernetes and nomad when the image is
also on this host).

Dokku reads the Procfile by creating (never starting) a container from the image and
copying the file out of it; this does the same with the docker SDK's ``get_archive``. The
SDK is imported on use, so commands that never read an image do not pay for it.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
from typing import Any

from dockyard.core.errors import DockyardError, NotFound
from dockyard.core.models import ImageConfig

HELPER_LABEL = "com.dockyard.container-type"


def _client() -> Any:
    try:
        import docker

        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:
        raise DockyardError(f"cannot reach the docker engine to read the image ({exc})") from exc
    return client


class LocalEngineImages:
    """``Scheduler.image_config`` and ``image_file`` through the local docker engine: a
    driver inherits this beside ``Scheduler`` to read images the way docker-local does."""

    def image_config(self, image: str) -> ImageConfig:
        client = _client()
        try:
            try:
                attrs = client.api.inspect_image(image)
            except Exception as exc:
                if "404" in str(exc) or "No such image" in str(exc):
                    raise NotFound(f"image {image} does not exist on the local docker engine") from exc
                raise DockyardError(f"cannot inspect image {image}: {exc}") from exc
            config = attrs.get("Config") or {}
            return ImageConfig(config.get("WorkingDir") or "/", tuple(config["Cmd"]) if config.get("Cmd") else None)
        finally:
            client.close()

    def image_file(self, image: str, path: str) -> str | None:
        client = _client()
        try:
            return read_file(client, image, path)
        finally:
            client.close()


def read_file(client: Any, image: str, path: str) -> str | None:
    """Copy one file out of a created-but-never-started container, then remove it."""
    created = client.api.create_container(image, command=["/procfile-reader-never-runs"],
                                          labels={HELPER_LABEL: "helper"})
    cid = created["Id"]
    try:
        try:
            stream, _stat = client.api.get_archive(cid, path)
        except Exception as exc:
            if "404" in str(exc) or "Could not find" in str(exc) or "No such" in str(exc):
                return None
            raise
        data = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                return None
            handle = tar.extractfile(member)
            return handle.read().decode() if handle else None
    finally:
        with contextlib.suppress(Exception):
            client.api.remove_container(cid, force=True)
