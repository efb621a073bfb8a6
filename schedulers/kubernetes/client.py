"""Reaching the cluster: kubeconfig, settings from properties, retries and error messages.

The kubeconfig is ``$KUBECONFIG`` (read when the client is made, not when the module is
imported, so a test or a shell can point it elsewhere), then ``~/.kube/config``, then the
in-cluster service account. Creating the client makes no request: a plan the driver refuses
is refused before the API server hears anything.

Every call goes through ``KubeClient.call``: a 5xx or 429 answer, or a dropped connection, is
retried with exponential backoff (``retries`` attempts); any other API error becomes one
DockyardError line carrying the API server's own Status message.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from dockyard.core.errors import DockyardError, NotFound, ValidationError
from dockyard.core.lookup import computed
from dockyard.propstores.base import PropertyStore
from dockyard.schedulers.kubernetes.render import INGRESS_MODES, KubeSettings
from dockyard.schedulers.retries import CallFailure, RetryingClient

log = logging.getLogger("dockyard.kubernetes")

PLUGIN = "scheduler-kubernetes"


def read_settings(store: PropertyStore, app: str | None) -> KubeSettings:
    namespace = computed(store, PLUGIN, app, "namespace", "default")
    ingress = computed(store, PLUGIN, app, "ingress", "allow-all")
    if ingress not in INGRESS_MODES:
        raise ValidationError(
            f"invalid {PLUGIN} property ingress {ingress!r}: expected one of {', '.join(INGRESS_MODES)}"
        )
    deadline = computed(store, PLUGIN, app, "progress-deadline", "600")
    if not deadline.isdigit() or int(deadline) < 1:
        raise ValidationError(f"invalid {PLUGIN} property progress-deadline {deadline!r}: expected seconds")
    return KubeSettings(namespace=namespace, ingress=ingress, progress_deadline=int(deadline))


class ApiError(DockyardError):
    """The API server refused a request; ``status`` is its HTTP status, ``reason`` the Status reason."""

    def __init__(self, message: str, status: int, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def _status_message(exc: Any) -> tuple[str, str]:
    import json

    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        body = {}
    return str(body.get("message") or exc.reason or ""), str(body.get("reason") or "")


class KubeClient(RetryingClient):
    """One API client for one kubeconfig, with the typed APIs the driver uses."""

    log = log

    def __init__(self, retries: int = 5, backoff: float = 0.2) -> None:
        from kubernetes import client, config

        super().__init__(retries, backoff)
        kubeconfig = os.environ.get("KUBECONFIG")
        default = Path.home() / ".kube" / "config"
        try:
            if kubeconfig:
                self.api = config.new_client_from_config(config_file=kubeconfig)
            elif default.is_file():
                self.api = config.new_client_from_config(config_file=str(default))
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                cfg = client.Configuration()
                config.load_incluster_config(client_configuration=cfg)
                self.api = client.ApiClient(cfg)
            else:
                raise DockyardError(
                    "no Kubernetes configuration: set KUBECONFIG, create ~/.kube/config, or run in a cluster"
                )
        except config.ConfigException as exc:
            raise DockyardError(f"cannot load the Kubernetes configuration: {exc}") from exc
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.networking = client.NetworkingV1Api(self.api)
        self.discovery = client.DiscoveryV1Api(self.api)

    def close(self) -> None:
        self.api.close()

    def judge(self, what: str, exc: Exception) -> CallFailure | None:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        if isinstance(exc, ApiException):
            status = int(exc.status or 0)
            message, reason = _status_message(exc)
            error: DockyardError
            if status == 404:
                error = NotFound(f"kubernetes: {what}: {message or 'not found'}")
            else:
                error = ApiError(f"kubernetes API refused to {what}: {message} (HTTP {status})", status, reason)
            return CallFailure(error, status >= 500 or status == 429 or status == 0,
                               f"kubernetes API answered {status} to {what} ({message})")
        if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
            return CallFailure(DockyardError(f"cannot reach the Kubernetes API to {what}: {exc}"), True,
                               f"kubernetes API unreachable to {what} ({exc})")
        return None

    def sanitize(self, obj: Any) -> Any:
        """A typed model (or anything) as the plain JSON dict the API sent."""
        return self.api.sanitize_for_serialization(obj)
