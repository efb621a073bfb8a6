"""Nomad's official OpenAPI description as the judge of the Nomad double's traffic.

There is no real Nomad here (from 1.7 on it is not open source), so the double is only as
trustworthy as its agreement with Nomad's API. Every request the nomad driver sends and every
response the double returns is validated with ``openapi-core`` against
``shared/reference/specs/nomad-openapi-v1.yaml`` (hashicorp/nomad-openapi, supported up to
Nomad 1.7): path, method, query parameters, request body and response body.

A few endpoints the driver uses are not in that document at all; they are listed in
``NOT_IN_SPEC`` with what is checked instead (a response body against the component schema
the real endpoint returns, where there is one), so nothing passes unchecked by omission.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

from tests.doubles.http import Req

#: where the spec is: shared/ beside the repository (a worktree, a CI clone) or DOCKYARD_NOMAD_SPEC
SPEC_NAME = "nomad-openapi-v1.yaml"
HOST = "http://127.0.0.1:4646"

#: endpoints the driver calls that the 2023 spec does not describe -> the component schema of
#: the response body, or None for a body with no schema (plain-text logs, an empty object)
NOT_IN_SPEC: dict[tuple[str, str], str | None] = {
    # Nomad-native service registrations (Nomad 1.3+): the spec has /allocation/{id}/services only
    ("GET", r"/v1/job/[^/]+/services"): "ServiceRegistration[]",
    # the client API (served by a client agent, not the servers the spec describes)
    ("GET", r"/v1/client/fs/logs/[^/]+"): None,
    ("POST", r"/v1/client/allocation/[^/]+/restart"): None,
    ("PUT", r"/v1/client/allocation/[^/]+/restart"): None,
    # the event stream is newline-delimited JSON, not one document
    ("GET", r"/v1/event/stream"): None,
}

#: properties the generated spec types as a plain object or array that Nomad's Go structs
#: hold as a nil slice, map or pointer without ``omitempty``, so the real API sends ``null``
#: (encoding/json); the spec is widened for exactly these, nothing else
NULL_IN_GO: tuple[tuple[str, str], ...] = (
    ("JobVersionsResponse", "Diffs"),        # []*JobDiff, nil unless ?diffs=true
    ("Evaluation", "FailedTGAllocs"),        # map[string]*AllocationMetric, nil when all placed
    ("AllocationListStub", "DeploymentStatus"),  # *AllocDeploymentStatus, nil until health is set
    ("Allocation", "DeploymentStatus"),          # the same pointer on the full Allocation
)


def spec_path() -> Path:
    """The vendored spec (tests/doubles/specs/), unless ``DOCKYARD_NOMAD_SPEC`` names another.

    It lives in the repository so a clean clone in any folder finds it; nothing outside the
    checkout is read.
    """
    env = os.environ.get("DOCKYARD_NOMAD_SPEC")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "specs" / SPEC_NAME


@functools.cache
def _spec() -> tuple[Any, dict[str, Any]]:
    import yaml
    from openapi_core import OpenAPI

    raw = yaml.safe_load(spec_path().read_text())
    schemas = raw["components"]["schemas"]
    for schema, prop in NULL_IN_GO:
        current = schemas[schema]["properties"][prop]
        if "$ref" in current:  # OpenAPI 3.0 ignores a $ref's siblings: inline its target
            current = dict(schemas[current["$ref"].rsplit("/", 1)[-1]])
        schemas[schema]["properties"][prop] = {**current, "nullable": True}
    return OpenAPI.from_dict(raw), raw


def _not_in_spec(method: str, path: str) -> tuple[bool, str | None]:
    for (m, pattern), schema in NOT_IN_SPEC.items():
        if m == method and re.fullmatch(pattern, path):
            return True, schema
    return False, None


def _component_errors(schema_ref: str, body: Any) -> list[str]:
    from openapi_schema_validator import OAS30Validator

    _, raw = _spec()
    many = schema_ref.endswith("[]")
    name = schema_ref.removesuffix("[]")
    ref = {"$ref": f"#/components/schemas/{name}"}
    schema = {"type": "array", "items": ref} if many else ref
    # the components ride along in the root schema, so "#/components/..." resolves in it
    validator = OAS30Validator({**schema, "components": raw["components"]})
    return [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


def exchange_errors(req: Req, status: int, content_type: str, body: Any,
                    headers: dict[str, str] | None = None, acl: bool = False) -> list[str]:
    """Everything in one request/response pair that the official spec does not allow.

    The spec puts ``X-Nomad-Token`` on every operation, which is what a cluster with ACLs
    enabled demands; with ACLs off (``acl`` False, the double's default, a dev agent) Nomad
    serves anonymous requests, so then a missing token is stood in for. With ACLs on, a
    request without a token is still a well-formed one when Nomad refuses it with 403 (that
    is the exchange a user without ``NOMAD_TOKEN`` has); only a served one is a violation."""
    from openapi_core.testing import MockRequest, MockResponse

    openapi, _ = _spec()
    where = f"{req.method} {req.path}"
    skip, schema_ref = _not_in_spec(req.method, req.path)
    if skip:
        if schema_ref and 200 <= status < 300:
            return [f"{where} -> {status}: {e}" for e in _component_errors(schema_ref, body)]
        return []
    args = {k: v[-1] for k, v in (req.query or {}).items()}
    data = json.dumps(req.body).encode() if req.body is not None else None
    sent = {k.title(): v for k, v in (headers or {}).items()}
    if "X-Nomad-Token" not in sent and (not acl or status == 403):
        sent["X-Nomad-Token"] = "anonymous"
    request = MockRequest(HOST, req.method.lower(), req.path, args=args, data=data, headers=sent)
    errors: list[str] = []
    for err in openapi.iter_request_errors(request):
        errors.append(f"{where} (request): {_explain(err)}")
    if errors or not 200 <= status < 300:
        # Nomad's errors are plain text and the spec describes only the successful answers
        return errors
    payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    response = MockResponse(payload, status_code=status, content_type=content_type)
    for err in openapi.iter_response_errors(request, response):
        errors.append(f"{where} -> {status} (response): {_explain(err)}")
    return errors


def _explain(err: BaseException) -> str:
    causes = []
    seen: BaseException | None = err
    while seen is not None:
        extra = getattr(seen, "schema_errors", None)
        if extra:
            causes.extend(f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in extra)
        seen = seen.__cause__
    if causes:  # the schema's own complaints, not the whole (long) value
        return f"{type(err).__name__}: " + "; ".join(causes[:8])
    return str(err)[:300]


def event_errors(message: dict[str, Any]) -> list[str]:
    """One event-stream message: the stream is not in the spec, but an Allocation event's
    payload is the Allocation the spec describes."""
    errors: list[str] = []
    for event in message.get("Events") or []:
        alloc = (event.get("Payload") or {}).get("Allocation")
        if event.get("Topic") == "Allocation" and alloc is not None:
            errors.extend(f"event {event.get('Type')} {event.get('Key')}: {e}"
                          for e in _component_errors("Allocation", alloc))
    return errors


def traffic_errors(double: Any) -> list[str]:
    """Every violation in everything a NomadApiDouble was sent and answered."""
    errors: list[str] = []
    for req, status, content_type, body in double.responses:
        errors.extend(exchange_errors(req, status, content_type, body, double.headers.get(req.seq),
                                      acl=double.token is not None))
    for message in double.events:
        errors.extend(event_errors(message))
    return errors
