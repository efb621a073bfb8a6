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
from typing import TYPE_CHECKING

from dockyard.core.dokku.tree import DokkuScope
from dockyard.core.errors import DockyardError, NotFound, NotSupported

if TYPE_CHECKING:
    from dockyard.schedulers.base import Scheduler


def check_images(apps: Iterable[DokkuScope], scheduler: Scheduler) -> str | None:
    """Add a warning or a template to each deployed app; a message if the images could not
    be read at all. ``scheduler`` reads them (``image_config`` / ``image_file``): Dokku's
    images are on this host's engine, which docker-local reads, as do the other drivers that
    read local images."""
    deployed = [a for a in apps if a.deployed and not a.error]
    for app in deployed:
        image = f"dokku/{app.name}:latest"
        try:
            config = scheduler.image_config(image)
        except NotFound:
            app.warnings.append(f"image {image} is not on this docker engine: copy it here "
                                f"(docker save {image} | docker load) before `dockyard ps:rebuild {app.name}`")
            continue
        except (NotSupported, DockyardError) as exc:  # no engine here: the import itself needs none
            return (f"could not read the apps' images ({exc}); they were not checked for nginx.conf.sigil "
                    "templates or presence (--skip-images hides this)")
        if any("nginx-vhosts" in t for t in app.templates):
            continue  # Dokku already copied the image's template out; it is listed once
        sigil = app.properties.get(("nginx", "nginx-conf-sigil-path"))
        name = sigil if isinstance(sigil, str) and sigil else "nginx.conf.sigil"
        workdir = "/app" if app.builder == "herokuish" else config.workdir
        path = name if name.startswith("/") else posixpath.join(workdir, name)
        if scheduler.image_file(image, path) is not None:
            app.templates.append(f"{image}:{path}")
    return None
