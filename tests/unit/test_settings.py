"""Bootstrap settings: precedence of the store URL and scheduler default, and the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.core.errors import DockyardError, ValidationError
from dockyard.core.settings import resolve
from dockyard.propstores.base import redact_url


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: a root, no store or scheduler variables, an empty config file."""
    monkeypatch.setenv("DOCKYARD_ROOT", str(tmp_path / "root"))
    monkeypatch.delenv("DOCKYARD_PROPSTORE", raising=False)
    monkeypatch.delenv("DOCKYARD_SCHEDULER", raising=False)
    cfg = tmp_path / "dockyard.toml"
    cfg.write_text("")
    monkeypatch.setenv("DOCKYARD_CONFIG", str(cfg))
    return cfg


def test_defaults(env: Path, tmp_path: Path) -> None:
    s = resolve()
    assert s.propstore == f"file://{tmp_path / 'root'}"
    assert s.scheduler_default == "docker-local"
    assert s.root == tmp_path / "root"
    assert s.config_path == env


def test_precedence_flag_env_config(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env.write_text('propstore = "redis://cfg:6379/0"\nscheduler = "nomad"\n')
    assert resolve().propstore == "redis://cfg:6379/0"
    assert resolve().scheduler_default == "nomad"
    monkeypatch.setenv("DOCKYARD_PROPSTORE", "etcd://env:2379")
    monkeypatch.setenv("DOCKYARD_SCHEDULER", "kubernetes")
    assert resolve().propstore == "etcd://env:2379"
    assert resolve().scheduler_default == "kubernetes"
    s = resolve(propstore="file:///flag", scheduler="docker-local")
    assert s.propstore == "file:///flag"
    assert s.scheduler_default == "docker-local"


def test_missing_config_named_by_env_is_an_error(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(DockyardError, match=r"missing\.toml.*does not exist"):
        resolve()


def test_empty_config_sets_nothing(env: Path, tmp_path: Path) -> None:
    env.write_text("\n   \n")
    assert resolve().propstore == f"file://{tmp_path / 'root'}"


def test_bad_config(env: Path) -> None:
    env.write_text("propstore = ")
    with pytest.raises(ValidationError, match="not valid TOML"):
        resolve()
    env.write_text("propstore = 5")
    with pytest.raises(ValidationError, match="'propstore' must be a string"):
        resolve()
    env.write_text('scheduler = ["a"]')
    with pytest.raises(ValidationError, match="'scheduler' must be a string"):
        resolve()


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://user:s3cret@host:6379/0?prefix=x:", "redis://user:***@host:6379/0?prefix=x:"),
    ("rediss://:s3cret@host:6380/1", "rediss://:***@host:6380/1"),
    ("etcds://root:s3cret@h:2379?ca_cert=/ca.pem", "etcds://root:***@h:2379?ca_cert=/ca.pem"),
    ("redis://host:6379/0", "redis://host:6379/0"),
    ("file:///var/lib/dockyard", "file:///var/lib/dockyard"),
    # secret query options (issue 8, observation 6)
    ("redis://127.0.0.1:6379/0?password=s3cret", "redis://127.0.0.1:6379/0?password=***"),
    ("etcd://h:2379?user=root&password=s3cret&prefix=/d",
     "etcd://h:2379?user=root&password=***&prefix=/d"),
    ("etcds://h:2379?ca_cert=/ca&key_passphrase=s3cret;token=s3cret",
     "etcds://h:2379?ca_cert=/ca&key_passphrase=***;token=***"),
    ("redis://h/0?client_secret=s3cret&ssl_keyfile_password=s3cret",
     "redis://h/0?client_secret=***&ssl_keyfile_password=***"),
    # URLs that do not parse, or have a password with / or @ in it
    ("redis//:s3cret@127.0.0.1:6379/0", "redis//:***@127.0.0.1:6379/0"),
    ("file://u:s3cret@host/x", "file://u:***@host/x"),
    ("redis://u:s3/cr@et@host:6379", "redis://u:***@host:6379"),
    ("redis:u:s3cret@host", "redis:***@host"),
    ("redis://u:s3cret@[::1", "redis://u:***@[::1"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_store_urls_parse(tmp_path: Path) -> None:
    """Every URL form the design lists opens (the network is only touched on first use)."""
    from dockyard.core import open_propstore
    from dockyard.propstores.etcd import client_options
    from dockyard.propstores.redis import split_url

    assert split_url("redis://u:p@h:1/2?prefix=app:&socket_timeout=3") == ("redis://u:p@h:1/2?socket_timeout=3", "app:")
    assert split_url("rediss://h:1/0")[1] == "dockyard:"
    store = open_propstore("rediss://u:pw@127.0.0.1:1/0?prefix=p:")
    assert store.display_url == "rediss://u:***@127.0.0.1:1/0?prefix=p:"
    store.close()
    opts, prefix = client_options("etcds://root:pw@h:2400?prefix=/x/&ca_cert=/ca&cert_key=/k&cert_cert=/c")
    assert prefix == "/x/"
    assert opts == {"host": "h", "port": 2400, "user": "root", "password": "pw", "ca_cert": "/ca",
                    "cert_key": "/k", "cert_cert": "/c"}
    opts, prefix = client_options("etcd://h?user=a&password=b&timeout=2.5")
    assert opts == {"host": "h", "port": 2379, "user": "a", "password": "b", "timeout": 2.5}
    assert prefix == "/dockyard/"
    for bad, msg in [("etcds://h:1", "ca_cert"), ("etcd://h:1?ca_cert=/x", "etcds://"),
                     ("etcd://h:1?bogus=1", "unknown option"), ("etcd://u@h:1?", "both a user and a password"),
                     ("etcds://h:1?ca_cert=/c&cert_key=/k", "together")]:
        with pytest.raises(ValidationError, match=msg):
            client_options(bad)
