"""The Nomad spec check itself: it must catch what Nomad's OpenAPI description forbids, or
the conformance suite's clean run against the double would prove nothing."""

from __future__ import annotations

from typing import Any

from tests.doubles.http import Req
from tests.doubles.nomad_spec import event_errors, exchange_errors

JOB = {"Job": {"ID": "web", "Name": "web", "Type": "service", "TaskGroups": [
    {"Name": "web", "Count": 1, "Tasks": [{"Name": "web", "Driver": "docker", "Config": {"image": "x"}}]}]}}


def req(method: str, path: str, body: Any = None, **query: str) -> Req:
    return Req(1, method, path, {k: [v] for k, v in query.items()}, body)


def test_a_valid_register_passes() -> None:
    answer = {"EvalID": "e", "EvalCreateIndex": 3, "JobModifyIndex": 3, "Warnings": "", "Index": 3}
    assert exchange_errors(req("POST", "/v1/jobs", JOB), 200, "application/json", answer) == []


def test_a_request_body_of_the_wrong_type_is_caught() -> None:
    bad = {"Job": {**JOB["Job"], "TaskGroups": [{**JOB["Job"]["TaskGroups"][0], "Count": "one"}]}}
    errors = exchange_errors(req("POST", "/v1/jobs", bad), 200, "application/json", {})
    assert errors and "request" in errors[0] and "Count" in errors[0]


def test_a_response_of_the_wrong_shape_is_caught() -> None:
    errors = exchange_errors(req("GET", "/v1/job/web/allocations"), 200, "application/json",
                             [{"ID": "a", "ClientStatus": 3}])
    assert errors and "response" in errors[0] and "ClientStatus" in errors[0]


def test_a_query_parameter_of_the_wrong_type_is_caught() -> None:
    errors = exchange_errors(req("DELETE", "/v1/job/web", purge="maybe"), 200, "application/json",
                             {"EvalID": "e", "EvalCreateIndex": 1, "JobModifyIndex": 1})
    assert errors and "purge" in " ".join(errors)


def test_an_endpoint_nomad_does_not_have_is_caught() -> None:
    errors = exchange_errors(req("GET", "/v1/job/web/no-such-thing"), 200, "application/json", {})
    assert errors and "not found" in errors[0].lower()


def test_a_token_is_required_when_acls_are_on() -> None:
    errors = exchange_errors(req("GET", "/v1/jobs"), 200, "application/json", [], headers={}, acl=True)
    assert errors and "X-Nomad-Token" in errors[0]
    assert exchange_errors(req("GET", "/v1/jobs"), 200, "application/json", [],
                           headers={"X-Nomad-Token": "t"}, acl=True) == []


def test_endpoints_outside_the_spec_check_their_component_schema() -> None:
    good = [{"ID": "_nomad-task-a-web", "ServiceName": "web", "Address": "10.0.0.1", "Port": 5000}]
    assert exchange_errors(req("GET", "/v1/job/web/services"), 200, "application/json", good) == []
    errors = exchange_errors(req("GET", "/v1/job/web/services"), 200, "application/json", [{"Port": "80"}])
    assert errors and "Port" in errors[0]


def test_allocation_events_are_checked_against_the_allocation_schema() -> None:
    ok = {"Index": 5, "Events": [{"Topic": "Allocation", "Type": "AllocationUpdated", "Key": "a",
                                  "Payload": {"Allocation": {"ID": "a", "DeploymentStatus": None}}}]}
    assert event_errors(ok) == []
    bad = {"Index": 6, "Events": [{"Topic": "Allocation", "Type": "AllocationUpdated", "Key": "a",
                                   "Payload": {"Allocation": {"ID": "a", "TaskStates": []}}}]}
    assert event_errors(bad)
