"""Shared fixtures. Each service's fixtures live in their own module under tests/fixtures."""

pytest_plugins = [
    "tests.fixtures.cli",
    "tests.fixtures.stores",
    "tests.fixtures.docker",
    "tests.fixtures.nginx",
    "tests.fixtures.acme",
    "tests.doubles.fixtures",
]
