"""An image's process types: its Procfile at Dokku's ``ps procfile-path``, else its CMD.

The scheduler reads the image (``Scheduler.image_config`` / ``image_file``: docker-local
through its engine, another driver however its platform can); core parses what it read, so
every scheduler's processes mean the same thing. Every scheduler then uses the parsed list
stored with the release.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dockyard.core.errors import DockyardError
from dockyard.core.procfile import DEFAULT_PROCFILE_PATH, Processes, parse_procfile, procfile_location

if TYPE_CHECKING:
    from dockyard.schedulers.base import Scheduler

log = logging.getLogger("dockyard.images")


def image_processes(scheduler: Scheduler, image: str, procfile_path: str = DEFAULT_PROCFILE_PATH) -> Processes:
    """Process types from the image's Procfile, else its CMD as ``web`` (command None).

    ``procfile_path`` is relative to the image's WORKDIR. A path the image does not have is
    no error: as in Dokku, the deploy goes on as if there were no Procfile (with a warning
    naming the path, since it was asked for). So is a scheduler that cannot read the image
    (a registry image for Kubernetes or Nomad that is not on this host): CMD becomes web,
    with a warning that says how to pass a Procfile instead. A Procfile that does not parse
    is an error."""
    try:
        config = scheduler.image_config(image)
        text = scheduler.image_file(image, procfile_location(config.workdir, procfile_path))
    except DockyardError as exc:
        log.warning("could not read a Procfile from %s (%s); using its CMD as web (pass --procfile to choose)",
                    image, exc)
        return {"web": None}
    if text is not None:
        parsed = parse_procfile(text)
        if parsed:
            return parsed
        log.warning("the Procfile in %s defines no process types; using the image's CMD as web", image)
    elif procfile_path != DEFAULT_PROCFILE_PATH:
        log.warning("%s has no %s (ps procfile-path); using its CMD as web", image,
                    procfile_location(config.workdir, procfile_path))
    return {"web": None}
