"""The docker-local scheduler driver (entry point ``docker-local``).

The docker SDK is imported only when the engine is first used, so listing drivers or
loading this one for its capabilities stays cheap.
"""

from dockyard.schedulers.docker_local.driver import DockerLocalScheduler

__all__ = ["DockerLocalScheduler"]
