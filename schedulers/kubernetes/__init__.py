"""The kubernetes scheduler driver (``pip install 'dockyard[kubernetes]'``).

Importing this package does not import the ``kubernetes`` client: the driver creates its
client on first use, so ``k8s:manifests`` and ``plugins:list`` stay cheap.
"""

from dockyard.schedulers.kubernetes.driver import KubernetesScheduler

__all__ = ["KubernetesScheduler"]
