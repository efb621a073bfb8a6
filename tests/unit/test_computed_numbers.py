"""computed_float / computed_int: numeric settings read app -> global -> default, with one clear error."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.core.errors import ValidationError
from dockyard.core.names import GLOBAL_SCOPE
from dockyard.core.plan import read_checks
from dockyard.core.properties import computed_float, computed_int


def test_app_value_beats_global_beats_default(file_store: Any) -> None:
    assert computed_float(file_store, "p", "a", "t", 1.5) == 1.5
    file_store.set("p", GLOBAL_SCOPE, "t", "2.5")
    assert computed_float(file_store, "p", "a", "t", 1.5) == 2.5
    file_store.set("p", "a", "t", "0.25")
    assert computed_float(file_store, "p", "a", "t", 1.5) == 0.25
    assert computed_float(file_store, "p", None, "t", 1.5) == 2.5


def test_not_a_number_names_the_property(file_store: Any) -> None:
    file_store.set("p", "a", "t", "soon")
    with pytest.raises(ValidationError, match=r"invalid p property t 'soon': expected a number"):
        computed_float(file_store, "p", "a", "t", 1.0)


def test_counts_must_be_whole_and_at_least_the_minimum(file_store: Any) -> None:
    file_store.set("p", "a", "n", "7")
    assert computed_int(file_store, "p", "a", "n", 5, minimum=1) == 7
    file_store.set("p", "a", "n", "2.5")
    with pytest.raises(ValidationError, match="expected a whole number"):
        computed_int(file_store, "p", "a", "n", 5)
    file_store.set("p", "a", "n", "0")
    with pytest.raises(ValidationError, match="must be at least 1"):
        computed_int(file_store, "p", "a", "n", 5, minimum=1)


def test_checks_settings_refuse_a_negative_wait(file_store: Any) -> None:
    file_store.set("checks", "a", "wait", "-1")
    with pytest.raises(ValidationError, match="checks property wait '-1': must be at least 0"):
        read_checks(file_store, "a")
    file_store.set("checks", "a", "wait", "3")
    file_store.set("checks", "a", "attempts", "2")
    got = read_checks(file_store, "a")
    assert (got.wait, got.attempts) == (3.0, 2)
