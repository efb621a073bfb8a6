"""schedulers.base.platform_name: one collision-free mapping of Dokku names onto a platform's rule."""

from __future__ import annotations

import re

import pytest

from dockyard.schedulers.kubernetes.render import object_name
from dockyard.schedulers.names import platform_name

DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def test_a_name_that_fits_is_unchanged() -> None:
    assert platform_name("web-web", DNS_1035) == "web-web"
    assert object_name("shop", "web") == "shop-web"


@pytest.mark.parametrize("name", ["test.dokku.test-web", "1994testapp-web", "a" * 70, "x.y"])
def test_a_name_that_does_not_fit_is_mapped_into_the_rule(name: str) -> None:
    mapped = platform_name(name, DNS_1035)
    assert DNS_1035.fullmatch(mapped) and len(mapped) <= 63
    assert platform_name(name, DNS_1035) == mapped  # pure: same input, same name


def test_no_two_names_meet() -> None:
    dotted = platform_name("a.b-web", DNS_1035)
    assert dotted != platform_name("a-b-web", DNS_1035) == "a-b-web"
    # a valid name that looks like a mapped one is mapped too, so it cannot take another's name
    assert platform_name(dotted, DNS_1035) != dotted
    names = [f"app{i}.x-web" for i in range(2000)] + [f"{i}app-web" for i in range(2000)]
    assert len({platform_name(n, DNS_1035) for n in names}) == len(names)


def test_kubernetes_service_names_for_dokku_app_names() -> None:
    assert DNS_1035.fullmatch(object_name("test.dokku.test", "web"))
    assert DNS_1035.fullmatch(object_name("1994testapp", "web"))


def test_nomad_service_names_for_dokku_app_names() -> None:
    from dockyard.schedulers.nomad.render import service_name

    rfc1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    assert service_name("1994testapp", "web") == "1994testapp-web"  # fits: unchanged
    dotted = service_name("test.dokku.test", "web")
    assert rfc1123.fullmatch(dotted) and "." not in dotted
    assert rfc1123.fullmatch(service_name("a" * 63, "worker")) and len(service_name("a" * 63, "worker")) <= 63
