"""The nomad scheduler driver (``pip install 'dockyard[nomad]'``).

Importing this package does not import python-nomad: the driver creates its client on
first use, so ``nomad:job`` and ``plugins:list`` stay cheap.
"""

from dockyard.schedulers.nomad.driver import NomadScheduler

__all__ = ["NomadScheduler"]
