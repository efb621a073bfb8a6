"""Zero-downtime checks, Dokku-like.

After ``wait`` seconds the container must still be running and must not have restarted
(Dokku's default check). Where ``checks path`` is set, web containers must also answer HTTP
on it (2xx/3xx) within ``attempts`` tries of ``timeout`` seconds each.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any

from dockyard.core.models import DeployPlan
from dockyard.schedulers.docker_local import containers


def check(api: Any, plan: DeployPlan, container_id: str, process_type: str, started_at: float,
          given_up: threading.Event | None = None) -> str | None:
    """None if the container passed; otherwise why it failed. When ``given_up`` is set
    (the rollout was interrupted) during the wait, it stops waiting and says so."""
    checks = plan.checks
    if not checks.enabled_for(process_type):
        return None
    delay = started_at + checks.wait - time.monotonic()
    if delay > 0 and (given_up or threading.Event()).wait(delay):
        return "the rollout was given up"
    reason = _running(api, container_id)
    if reason or not (checks.path and process_type == "web"):
        return reason
    info = api.inspect_container(container_id)
    ip = containers.listener_ip(info["NetworkSettings"].get("Networks") or {}, plan.networks.initial_network)
    last: str | None = "no attempt made"
    for attempt in range(max(1, checks.attempts)):
        if attempt:
            time.sleep(1.0)
        last = _http(ip, plan.web_port, checks.path, checks.timeout)
        if not last:
            return _running(api, container_id)
    return f"HTTP check of {checks.path} on {ip}:{plan.web_port} failed after {checks.attempts} attempts: {last}"


def _running(api: Any, container_id: str) -> str | None:
    info = api.inspect_container(container_id)
    state = info["State"]
    restarts = int(info.get("RestartCount") or 0)
    if not state.get("Running") or state.get("Restarting"):
        return f"container is not running (state {state.get('Status')}, exit code {state.get('ExitCode')})"
    if restarts:
        return f"container restarted {restarts} time(s)"
    return None


def _http(host: str, port: int, path: str, timeout: float) -> str | None:
    if not host:
        return "container has no address"
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path if path.startswith("/") else f"/{path}")
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    return None if 200 <= status < 400 else f"HTTP {status}"
