"""Core pure logic: names, argument hoisting, Procfiles, capability checks, plugin errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dockyard.core.cli import hoist_global_options
from dockyard.core.errors import NotSupported, PluginError, ValidationError
from dockyard.core.models import NetworkSettings, PortMapping
from dockyard.core.names import validate_app_name, validate_component, validate_dns_name
from dockyard.core.ports import parse_mapping
from dockyard.core.procfile import parse_procfile
from dockyard.schedulers.base import Capability
from dockyard.schedulers.capabilities import check_plan


@pytest.mark.parametrize("name", ["a", "web", "my-app-2", "a" * 63,
                                  "1994testapp", "test.dokku.test", "1", "a..b"])  # Dokku's rule
def test_valid_app_names(name: str) -> None:
    assert validate_app_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "Web", "-app", ".app", "app-", "app.", "a" * 64, "my_app", "../etc", "a/b", "app\n", "--global", "ä"],
)
def test_invalid_app_names(name: str) -> None:
    with pytest.raises(ValidationError, match="invalid app name"):
        validate_app_name(name)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "x\x00", "x\x1b[31m", ".hidden"])
def test_invalid_components(bad: str) -> None:
    with pytest.raises(ValidationError):
        validate_component("key", bad)


def test_dokku_style_keys_are_accepted() -> None:
    for key in ["bind-all-interfaces", "DOKKU_APP_TYPE", "hsts.max_age", "--global"]:
        assert validate_component("key", key) == key


@pytest.mark.parametrize("domain", ["example.com", "a.b.example.org", "*.example.com", "localhost"])
def test_dns_names(domain: str) -> None:
    assert validate_dns_name(domain) == domain


@pytest.mark.parametrize(
    "domain", ["", "exa mple.com", "example.com;", "a..b", "-a.com", "x.com\nserver_name evil", "a" * 64 + ".com"]
)
def test_bad_dns_names(domain: str) -> None:
    with pytest.raises(ValidationError, match="not a DNS name"):
        validate_dns_name(domain)


def test_global_options_accepted_after_the_command() -> None:
    argv = ["config:get", "app", "KEY", "--propstore", "redis://x", "--format=json", "--debug"]
    assert hoist_global_options(argv) == [
        "--propstore", "redis://x", "--format=json", "--debug", "config:get", "app", "KEY",
    ]


def test_run_passes_its_command_through_untouched() -> None:
    argv = ["--force", "run", "app", "ls", "--format", "x", "--debug"]
    assert hoist_global_options(argv) == ["--force", "run", "app", "ls", "--format", "x", "--debug"]


def test_double_dash_stops_hoisting() -> None:
    assert hoist_global_options(["props:set", "--", "--debug"]) == ["props:set", "--", "--debug"]


def test_procfile_is_shlex_split() -> None:
    procs = parse_procfile(
        textwrap.dedent(
            """\
            # comment
            web: httpd -f -p $PORT -h /www
            worker: sh -c 'while true; do echo tick; sleep 1; done'

            tcp-echo: nc -ll -p 7000 -e cat
            """
        )
    )
    assert procs == {
        "web": ("httpd", "-f", "-p", "$PORT", "-h", "/www"),
        "worker": ("sh", "-c", "while true; do echo tick; sleep 1; done"),
        "tcp-echo": ("nc", "-ll", "-p", "7000", "-e", "cat"),
    }


@pytest.mark.parametrize("text", ["web httpd", "web: 'unterminated", "web:\n", "web: a\nweb: b", "we b: x"])
def test_bad_procfiles(text: str) -> None:
    with pytest.raises(ValidationError, match="Procfile line"):
        parse_procfile(text)


@pytest.mark.parametrize(
    "entry,expected",
    [
        ("http:80:5000", PortMapping("http", 80, 5000, "web")),
        ("tcp:7000:7000:echo", PortMapping("tcp", 7000, 7000, "echo")),
        ("HTTPS:443:5000", PortMapping("https", 443, 5000, "web")),
    ],
)
def test_port_mappings(entry: str, expected: PortMapping) -> None:
    assert parse_mapping(entry) == expected


@pytest.mark.parametrize("entry", ["http:0:5000", "http:80:70000", "ftp:21:21", "http:80", "http:a:80", "tcp:1:2:a b"])
def test_bad_port_mappings(entry: str) -> None:
    with pytest.raises(ValidationError, match="invalid port mapping"):
        parse_mapping(entry)


def test_check_plan_names_app_setting_and_scheduler() -> None:
    nets = NetworkSettings(attach_post_deploy=("backend",))
    with pytest.raises(NotSupported) as err:
        check_plan("shop", nets, [], "nomad", frozenset({Capability.INITIAL_NETWORK}))
    message = str(err.value)
    assert "shop" in message and "attach-post-deploy" in message and "nomad" in message


def test_check_plan_counts_networks_across_phases() -> None:
    nets = NetworkSettings(attach_post_create=("a",), initial_network="b")
    caps = frozenset({Capability.ATTACH_POST_CREATE, Capability.INITIAL_NETWORK})
    with pytest.raises(NotSupported, match="more than one"):
        check_plan("shop", nets, [], "x", caps)
    check_plan("shop", nets, [], "x", caps | {Capability.MULTIPLE_NETWORKS})


def test_unknown_driver_lists_installed_names() -> None:
    from dockyard.core import open_propstore

    with pytest.raises(PluginError) as err:
        open_propstore("mysql://localhost/x")
    assert "unknown propstore 'mysql'" in str(err.value)
    assert "file" in str(err.value) and "redis" in str(err.value) and "etcd" in str(err.value)


def test_missing_optional_dependency_names_the_extra() -> None:
    """With redis uninstallable (an import hook refuses it), the error names the extra."""
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "redis" or name.startswith("redis."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, Block())
        from dockyard.core import open_propstore
        from dockyard.core.errors import PluginError
        try:
            open_propstore("redis://127.0.0.1:1/0")
        except PluginError as exc:
            print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'dockyard[redis]'" in out


def test_core_commands_do_not_import_drivers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Only load what the command needs: apps:list on the file store imports no driver library."""
    code = textwrap.dedent(
        f"""
        import os, sys
        os.environ["DOCKYARD_ROOT"] = {str(tmp_path)!r}
        os.environ["DOCKYARD_CONFIG"] = {str(tmp_path / "c.toml")!r}
        open(os.environ["DOCKYARD_CONFIG"], "w").close()
        from dockyard.core.cli import main
        try:
            main(["apps:list"])
        except SystemExit:
            pass
        heavy = [m for m in ("docker", "kubernetes", "nomad", "etcd3", "redis", "grpc", "jinja2") if m in sys.modules]
        print("HEAVY", heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
