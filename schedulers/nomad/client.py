"""Reaching Nomad through python-nomad: settings, retries, error messages.

Settings come from properties under ``scheduler-nomad`` (the app's, then ``--global``):
``address``, ``region``, ``namespace``, ``token``, ``datacenters`` (comma-separated),
``address-mode`` (``driver`` or ``host``, see ``render.py``). An unset
``address`` or ``token`` falls back to ``NOMAD_ADDR`` / ``NOMAD_TOKEN``, as the nomad CLI
does, then to ``http://127.0.0.1:4646``. Creating the client makes no request.

python-nomad has no call for a job's service registrations nor a streaming log reader, so
those two go through its own ``Requester`` (same address, token, namespace and region).
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit

from dockyard.core.errors import DockyardError, NotFound, ValidationError
from dockyard.core.lookup import computed
from dockyard.propstores.base import PropertyStore
from dockyard.schedulers.nomad.render import NomadSettings
from dockyard.schedulers.retries import CallFailure, RetryingClient

log = logging.getLogger("dockyard.nomad")

PLUGIN = "scheduler-nomad"


def read_settings(store: PropertyStore, app: str | None) -> NomadSettings:
    address = computed(store, PLUGIN, app, "address") or os.environ.get("NOMAD_ADDR") or "http://127.0.0.1:4646"
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"invalid {PLUGIN} property address {address!r}: expected http(s)://HOST:PORT")
    mode = computed(store, PLUGIN, app, "address-mode", "driver")
    if mode not in ("driver", "host"):
        raise ValidationError(f"invalid {PLUGIN} property address-mode {mode!r}: expected driver or host")
    datacenters = tuple(d.strip() for d in computed(store, PLUGIN, app, "datacenters", "*").split(",") if d.strip())
    return NomadSettings(
        address=address.rstrip("/"),
        region=computed(store, PLUGIN, app, "region") or None,
        namespace=computed(store, PLUGIN, app, "namespace") or None,
        token=computed(store, PLUGIN, app, "token") or os.environ.get("NOMAD_TOKEN") or None,
        datacenters=datacenters or ("*",),
        address_mode=mode,
    )


class NomadApiError(DockyardError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _status_of(exc: Any) -> tuple[int, str]:
    resp = getattr(exc, "nomad_resp", None)
    status = int(getattr(resp, "status_code", 0) or 0)
    text = getattr(resp, "text", None)
    return status, (text.strip() if isinstance(text, str) and text.strip() else str(resp or exc))


class NomadClient(RetryingClient):
    log = log

    def __init__(self, settings: NomadSettings, retries: int = 5, backoff: float = 0.2) -> None:
        import nomad
        from nomad.api.base import Requester

        super().__init__(retries, backoff)
        self.settings = settings
        parts = urlsplit(settings.address)
        self.api = nomad.Nomad(address=settings.address, secure=parts.scheme == "https",
                               token=settings.token, region=settings.region, namespace=settings.namespace,
                               timeout=30)
        common = dict(self.api.requester_settings)

        class JobServices(Requester):
            ENDPOINT = "job"

        class LogStream(Requester):
            ENDPOINT = "client/fs/logs"

        self.job_services = JobServices(**common)
        self.log_stream = LogStream(**common)

    def close(self) -> None:
        for part in (self.api.jobs, self.job_services, self.log_stream):
            session = getattr(part, "session", None)
            if session is not None:
                session.close()

    def judge(self, what: str, exc: Exception) -> CallFailure | None:
        import nomad.api.exceptions as nx

        if isinstance(exc, nx.URLNotFoundNomadException):
            return CallFailure(NotFound(f"nomad: {what}: not found"), False, "")
        if not isinstance(exc, nx.BaseNomadException):
            return None
        status, text = _status_of(exc)
        error: DockyardError
        if status == 0:
            error = DockyardError(f"cannot reach Nomad at {self.settings.address} to {what}: {text}")
        else:
            error = NomadApiError(f"nomad API refused to {what}: {text} (HTTP {status})", status)
        return CallFailure(error, status == 0 or status >= 500 or status == 429,
                           f"nomad answered {status or 'no connection'} to {what} ({text})")
