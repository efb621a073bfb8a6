"""Dockyard's docker swarm mode scheduler: one swarm service per process type.

Loaded by Dockyard through the ``dockyard.schedulers`` entry point ``swarm``; it uses only
Dockyard's public driver contract (``dockyard.schedulers.base`` and the shared helpers the
plugin guide lists) and the docker SDK's services API.
"""

from dockyard_swarm.driver import SwarmScheduler

__all__ = ["SwarmScheduler"]
