"""apps:destroy and apps:rename leave no file that names the old app (issue 8, item 10).

An app with a certificate owns files in the nginx tree (its configs, its TLS pair, its
logs) and, with letsencrypt, an ACME challenge directory; after destroy none is left.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.nginx import PrivateNginx, free_port, make_cert, request
from tests.integration.test_proxy import deploy, make_app, routed_image, scheduler  # noqa: F401 - fixtures

pytestmark = [pytest.mark.docker, pytest.mark.nginx]


def naming(app: str, *roots: Path) -> list[str]:
    """Every file or directory under ``roots`` whose path names ``app``."""
    found = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                if app in name:
                    found.append(os.path.join(dirpath, name))
    return sorted(found)


@pytest.fixture
def acme_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "acme-webroot"
    monkeypatch.setenv("DOCKYARD_ACME_WEBROOT", str(root))
    return root


def tls_app(make_app: Any, run: Callable[..., Any], file_store: Any, scheduler: Any,  # noqa: F811
            routed_image: str, tmp_path: Path, acme_root: Path, hint: str) -> tuple[str, int]:  # noqa: F811
    from dockyard.core.letsencrypt import challenge_dir

    app = make_app(hint)
    http_port, https_port = free_port(), free_port()
    assert run("ports:set", app, f"http:{http_port}:5000", f"https:{https_port}:5000").exit_code == 0
    assert run("domains:set", app, f"{app}.example.test").exit_code == 0
    deploy(file_store, scheduler, app, routed_image)
    crt, key = make_cert((f"{app}.example.test",))
    (tmp_path / "app.crt").write_text(crt)
    (tmp_path / "app.key").write_text(key)
    added = run("certs:add", app, str(tmp_path / "app.crt"), str(tmp_path / "app.key"))
    assert added.exit_code == 0, added.stderr
    # the http-01 directory letsencrypt issues through (made as letsencrypt:enable makes it)
    webroot = challenge_dir(Path(os.environ["DOCKYARD_ROOT"]), app)
    webroot.mkdir(parents=True)
    (webroot / "token").write_text("a challenge answer")
    assert request(https_port, host=f"{app}.example.test", tls=True).status == 200
    return app, https_port


def owned(private_nginx: PrivateNginx, acme_root: Path) -> tuple[Path, ...]:
    """The trees an app's files live in: nginx's (configs, logs), the TLS files, the webroot."""
    return private_nginx.conf_dir, private_nginx.root / "tls", acme_root


def test_destroy_removes_every_file_the_app_owns(
        private_nginx: PrivateNginx, make_app: Any, run: Callable[..., Any], file_store: Any,  # noqa: F811
        scheduler: Any, routed_image: str, tmp_path: Path, acme_root: Path) -> None:  # noqa: F811
    app, _ = tls_app(make_app, run, file_store, scheduler, routed_image, tmp_path, acme_root, "dst")
    before = naming(app, *owned(private_nginx, acme_root))
    assert any(p.endswith("-access.log") for p in before)
    assert any(f.suffix == ".key" for f in (private_nginx.root / "tls" / app).iterdir())
    result = run("apps:destroy", app, "--force")
    assert result.exit_code == 0, result.stderr
    left = naming(app, *owned(private_nginx, acme_root))
    assert left == [], "\n".join(left)
    assert run("nginx:validate-config").exit_code == 0


def test_rename_moves_the_challenge_directory_and_leaves_no_file_of_the_old_name(
        private_nginx: PrivateNginx, make_app: Any, run: Callable[..., Any], file_store: Any,  # noqa: F811
        scheduler: Any, routed_image: str, tmp_path: Path, acme_root: Path,  # noqa: F811
        app_names: Callable[[str], str]) -> None:
    app, https_port = tls_app(make_app, run, file_store, scheduler, routed_image, tmp_path, acme_root, "ren")
    new = app_names("renamed")
    result = run("apps:rename", app, new)
    assert result.exit_code == 0, result.stderr
    left = naming(app, *owned(private_nginx, acme_root))
    assert left == [], "\n".join(left)
    assert (acme_root / new / "token").read_text() == "a challenge answer"
    # NEW serves https with the renamed certificate, from its own files
    assert request(https_port, host=f"{app}.example.test", tls=True).status == 200
    assert any(f.suffix == ".key" for f in (private_nginx.root / "tls" / new).iterdir())
    assert run("apps:destroy", new, "--force").exit_code == 0
    left = naming(new, *owned(private_nginx, acme_root))
    assert left == [], "\n".join(left)
