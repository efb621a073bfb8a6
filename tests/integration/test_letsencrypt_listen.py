"""events:listen renews letsencrypt certificates on its own (issue 10), against real pebble.

The interval is a day; ``DOCKYARD_RENEW_INTERVAL`` brings it down to seconds so the
listener's first pass (shortly after start) runs within the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.cli import ok
from tests.fixtures.nginx import PrivateNginx
from tests.integration.test_letsencrypt import (  # noqa: F401 - fixtures
    acme_webroot,
    https_get,
    le_image,
    routed_app,
    scheduler,
    stored_serial,
)

pytestmark = [pytest.mark.docker, pytest.mark.nginx]


def test_events_listen_renews_a_due_certificate_and_logs_it(
        routed_app: Any, run: Any, file_store: Any, acme_webroot: Path, private_nginx: PrivateNginx,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    domain = "listen.example.test"
    app, _, https_port, server = routed_app(domain)
    ok(run("letsencrypt:set", app, "email", "ops@example.test"))
    ok(run("letsencrypt:enable", app))
    first = stored_serial(file_store, app)
    ok(run("letsencrypt:set", app, "renew-days", "100"))  # beyond the lifetime: due now

    monkeypatch.setenv("DOCKYARD_RENEW_INTERVAL", "1")
    listened = ok(run("events:listen", "--max-seconds", "6"))
    renewed = stored_serial(file_store, app)
    assert renewed != first
    assert https_get(https_port, domain, server.issuing_root())[1] == renewed
    finished = [line for line in listened.stderr.splitlines() if "renewal pass finished" in line]
    assert finished and f"renewed {app} (valid until" in finished[0], listened.stderr
    assert "PRIVATE KEY" not in listened.stderr


def test_a_failing_renewal_is_logged_and_the_listener_goes_on(
        routed_app: Any, run: Any, file_store: Any, acme_webroot: Path, private_nginx: PrivateNginx,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    domain = "broken.example.test"
    app, _, _, _ = routed_app(domain)
    ok(run("letsencrypt:set", app, "email", "ops@example.test"))
    ok(run("letsencrypt:enable", app))
    first = stored_serial(file_store, app)
    ok(run("letsencrypt:set", app, "renew-days", "100"))
    ok(run("letsencrypt:set", "--global", "server", "https://127.0.0.1:1/dir"))  # nothing listens there

    monkeypatch.setenv("DOCKYARD_RENEW_INTERVAL", "1")
    listened = run("events:listen", "--max-seconds", "4")
    assert listened.exit_code == 0, listened.stderr  # never fatal
    assert stored_serial(file_store, app) == first
    lines = listened.stderr.splitlines()
    assert any("renewal pass finished" in line and f"failed {app}" in line for line in lines), listened.stderr
    # a pass a second: the listener kept renewing (and failing) after the first failure
    assert sum("renewal pass finished" in line for line in lines) >= 2, listened.stderr
    assert any("stopped after" in line for line in lines)
