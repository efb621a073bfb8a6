"""Reading an image's Procfile, CMD and WORKDIR through the local docker engine.

Dokku reads the Procfile by creating (never starting) a container from the image and
copying ``WORKDIR/Procfile`` out of it; this does the same with the docker SDK's
``get_archive``. The SDK is imported here, on use, so commands that never read an image
do not pay for it. Every scheduler then uses the parsed list stored with the release.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tarfile
from dataclasses import dataclass
from typing import Any

from dockyard.core.errors import DockyardError, NotFound
from dockyard.core.procfile import DEFAULT_PROCFILE_PATH, Processes, parse_procfile, procfile_location

log = logging.getLogger("dockyard.images")

HELPER_LABEL = "com.dockyard.container-type"


@dataclass(frozen=True)
class ImageInfo:
    workdir: str
    cmd: tuple[str, ...] | None
    procfile: str | None


def _client() -> Any:
    try:
        import docker

        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:
        raise DockyardError(f"cannot reach the docker engine to read the image ({exc})") from exc
    return client


def inspect_image(image: str, client: Any = None, procfile_path: str = DEFAULT_PROCFILE_PATH) -> ImageInfo:
    """The image's WORKDIR, CMD and Procfile text (None when it has none).

    ``procfile_path`` is Dokku's ``ps procfile-path``: relative to the WORKDIR."""
    own = client is None
    client = client or _client()
    try:
        try:
            attrs = client.api.inspect_image(image)
        except Exception as exc:
            if "404" in str(exc) or "No such image" in str(exc):
                raise NotFound(f"image {image} does not exist on the local docker engine") from exc
            raise
        config = attrs.get("Config") or {}
        workdir = config.get("WorkingDir") or "/"
        cmd = tuple(config["Cmd"]) if config.get("Cmd") else None
        return ImageInfo(workdir, cmd, _read_file(client, image, procfile_location(workdir, procfile_path)))
    finally:
        if own:
            client.close()


def _read_file(client: Any, image: str, path: str) -> str | None:
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


def image_processes(image: str, procfile_path: str = DEFAULT_PROCFILE_PATH) -> Processes:
    """Process types from the image's Procfile, else its CMD as ``web`` (command None).

    A ``procfile_path`` the image does not have is no error: as in Dokku, the deploy goes on
    as if there were no Procfile (with a warning naming the path, since it was asked for)."""
    info = inspect_image(image, procfile_path=procfile_path)
    if info.procfile is not None:
        parsed = parse_procfile(info.procfile)
        if parsed:
            return parsed
        log.warning("the Procfile in %s defines no process types; using the image's CMD as web", image)
    elif procfile_path != DEFAULT_PROCFILE_PATH:
        log.warning("%s has no %s (ps procfile-path); using its CMD as web", image,
                    procfile_location(info.workdir, procfile_path))
    return {"web": None}
