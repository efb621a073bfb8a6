"""Look at each deployed app's image on the local docker engine.

Two things only the image can tell: whether Dokku's ``dokku/APP:latest`` is here at all (it
must be, before ``ps:rebuild`` can start the app under Dockyard), and whether it carries a
custom ``nginx.conf.sigil``. Dokku 0.20 copies that template out of the image at every
nginx rebuild, so on a 0.20 server it exists nowhere else. The template is read the way
Dokku's ``copy_from_image`` reads it: ``/app/FILE`` for a buildpack (herokuish) image,
else ``WORKDIR/FILE``, with FILE the ``nginx-conf-sigil-path`` property or
``nginx.conf.sigil``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from dockyard.core.dokku.tree import DokkuScope


def _client() -> Any:
    import docker

    client = docker.from_env(timeout=30)
    client.ping()
    return client


def check_images(apps: Iterable[DokkuScope]) -> str | None:
    """Add a warning or a template to each deployed app; a message if no engine answered."""
    deployed = [a for a in apps if a.deployed and not a.error]
    if not deployed:
        return None
    try:
        client = _client()
    except Exception as exc:  # no engine here: the import itself does not need one
        return (f"could not reach a docker engine ({type(exc).__name__}); the apps' images were not checked "
                "for nginx.conf.sigil templates or presence (--skip-images hides this)")
    from dockyard.schedulers.local_images import read_file

    try:
        for app in deployed:
            image = f"dokku/{app.name}:latest"
            try:
                attrs = client.api.inspect_image(image)
            except Exception:
                app.warnings.append(f"image {image} is not on this docker engine: copy it here "
                                    f"(docker save {image} | docker load) before `dockyard ps:rebuild {app.name}`")
                continue
            if any("nginx-vhosts" in t for t in app.templates):
                continue  # Dokku already copied the image's template out; it is listed once
            sigil = app.properties.get(("nginx", "nginx-conf-sigil-path"))
            name = sigil if isinstance(sigil, str) and sigil else "nginx.conf.sigil"
            workdir = "/app" if app.builder == "herokuish" else ((attrs.get("Config") or {}).get("WorkingDir") or "/")
            path = name if name.startswith("/") else posixpath.join(workdir, name)
            if read_file(client, image, path) is not None:
                app.templates.append(f"{image}:{path}")
    finally:
        client.close()
    return None
