"""docker-local's pure pieces (names, restart policies, build network) and scale parsing."""

from __future__ import annotations

import pytest

from dockyard.core.deploy import parse_scale
from dockyard.core.errors import ValidationError
from dockyard.core.models import NetworkSettings
from dockyard.schedulers.docker_local import labels as L
from dockyard.schedulers.docker_local.build import build_network
from dockyard.schedulers.docker_local.containers import deploy_aliases, parse_restart_policy


def test_names_during_a_redeploy_never_collide() -> None:
    live = L.live_name("shop", "web", 2)
    upcoming = L.upcoming_name("shop", "web", 2, "20260101000000000")
    retired = L.retired_name("shop", "web", 2, "0123456789abcdef")
    assert live == "shop.web.2" and len({live, upcoming, retired}) == 3
    assert L.is_live(live) and L.is_live("/shop.web.2")
    assert not L.is_live(upcoming) and not L.is_live(retired) and not L.is_live("shop.run")


@pytest.mark.parametrize("app", ["1994testapp", "test.dokku.test"])
def test_dokku_app_names_keep_their_live_upcoming_and_retired_names_apart(app: str) -> None:
    assert L.is_live(L.live_name(app, "web", 1))
    assert not L.is_live(L.upcoming_name(app, "web", 1, "20260101000000000"))
    assert not L.is_live(L.retired_name(app, "web", 1, "0123456789abcdef"))


def test_containers_carry_dokkus_labels_beside_dockyards() -> None:
    labels = L.deploy_labels("test.dokku.test", "web", 1, "r1")
    assert labels[L.APP] == labels["com.dokku.app-name"] == "test.dokku.test"
    assert labels["com.dokku.process-type"] == "web" and labels["com.dokku.dyno"] == "web.1"
    assert labels["com.dokku.container-type"] == "deploy" and labels["dokku"] == ""


@pytest.mark.parametrize(("policy", "expected"), [
    ("on-failure:10", {"Name": "on-failure", "MaximumRetryCount": 10}),
    ("on-failure", {"Name": "on-failure", "MaximumRetryCount": 0}),
    ("always", {"Name": "always"}),
    ("no", {"Name": "no"}),
])
def test_restart_policies(policy: str, expected: dict[str, object]) -> None:
    assert parse_restart_policy(policy) == expected


@pytest.mark.parametrize("policy", ["sometimes", "always:3", "on-failure:x", ""])
def test_bad_restart_policies(policy: str) -> None:
    with pytest.raises(ValidationError):
        parse_restart_policy(policy)


def test_aliases_follow_dokku() -> None:
    assert deploy_aliases("shop", "web", None) == ["shop.web"]
    assert deploy_aliases("shop", "worker", "svc.local", "abcdef0123456789") == [
        "shop.worker.svc.local", "abcdef012345.shop.worker.svc.local"]


def test_build_uses_the_first_post_create_network_else_the_initial_one() -> None:
    assert build_network(NetworkSettings(attach_post_create=("a", "b"), initial_network="i")) == "a"
    assert build_network(NetworkSettings(initial_network="i")) == "i"
    assert build_network(NetworkSettings()) is None


def test_parse_scale() -> None:
    assert parse_scale(["web=2", "Worker=0"]) == {"web": 2, "worker": 0}
    for bad in (["web"], ["web=-1"], ["we b=1"], ["web=2x"], [], ["web=100000"]):
        with pytest.raises(ValidationError):
            parse_scale(bad)
