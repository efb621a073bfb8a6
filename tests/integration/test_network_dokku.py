"""Dokku's network:create/exists/info/list/destroy output and exit codes (tests/unit/network.bats,
plugins/network/subcommands.go), on the real docker engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.fixtures.cli import Result, ok

Run = Callable[..., Result]


def test_network_commands_say_and_print_what_dokku_does(run: Run, docker_client: Any,
                                                          app_names: Callable[[str], str]) -> None:
    net = f"dytest-dk-{app_names('n')[-6:]}"
    try:
        assert ok(run("network:create", net)).stdout == f"-----> Creating network {net}\n"
        assert ok(run("network:exists", net)).stdout == "-----> Network exists\n"
        gone = run("network:exists", net + "-nope")
        assert gone.exit_code == 1 and "Network does not exist" in gone.stderr
        for cmd in ("network:exists", "network:info", "network:create", "network:destroy"):
            bare = run(cmd)
            assert bare.exit_code == 1 and "No network name specified" in bare.stderr
        assert run("network:info", net + "-nope").exit_code == 1
        # network.bats: .[] | select(.Name == "bridge") | .DokkuManaged
        listed = json.loads(ok(run("network:list", "--format", "json")).stdout)
        mine = next(n for n in listed if n["Name"] == net)
        bridge = next(n for n in listed if n["Name"] == "bridge")
        assert mine["DokkuManaged"] is True and bridge["DokkuManaged"] is False
        assert mine["ID"] == docker_client.networks.get(net).id and mine["Driver"] == "bridge"
        assert mine["Scope"] == "local" and mine["Internal"] is False and mine["CreatedAt"]
        managed = json.loads(ok(run("network:list", "--dokku-managed", "--format", "json")).stdout)
        assert {n["DokkuManaged"] for n in managed} == {True}
        text = ok(run("network:list")).stdout.splitlines()
        assert text[0] == "=====> Networks" and net in text[1:]
        shown = json.loads(ok(run("network:info", net, "--format", "json")).stdout)
        assert {k: shown[k] for k in ("Name", "ID", "DokkuManaged")} == {
            "Name": net, "ID": mine["ID"], "DokkuManaged": True}
        assert ok(run("network:info", net)).stdout.splitlines() == [
            f"=====> {net} network information",
            f"       ID:             {mine['ID']}",
            f"       Name:           {net}",
            "       Driver:         bridge",
            "       Scope:          local",
            "       Dokku managed:  true",
            "       Containers:     ",
        ]
        assert ok(run("--force", "network:destroy", net)).stdout == f"-----> Destroying network {net}\n"
        assert run("--force", "network:destroy", net).exit_code == 1
    finally:
        for n in docker_client.networks.list(names=[net]):
            n.remove()
