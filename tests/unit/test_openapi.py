"""The OpenAPI document: generated from the code, checked in, complete and valid."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Request, Response
from openapi_spec_validator import validate
from schemathesis.core.result import Err, Ok

from core import errors
from handlers import FUNCTIONS, schemas
from handlers.endpoints import NO_POLICY_PUBLIC, PUBLIC, SELF, SIGNED_IN_WITH_BEARER
from handlers.http import Function
from tools.openapi import build_document, error_codes, render, request_models

CHECKED_IN = Path(__file__).resolve().parents[2] / "openapi.json"
REGENERATE = "regenerate it: .venv/bin/python -m tools.openapi > openapi.json"
ENDPOINTS = [endpoint for function in FUNCTIONS for endpoint in function.endpoints]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def routed() -> Iterator[tuple[str, str]]:
    """(METHOD, OpenAPI path) of every route, read from the route table itself."""
    for function in FUNCTIONS:
        for route in function.routes:
            path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", route.pattern)
            for method in route.endpoints:
                yield method, path


def refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs(item)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method.upper(), path, operation


def test_checked_in_document_is_the_generated_one() -> None:
    assert CHECKED_IN.exists(), f"openapi.json is missing; {REGENERATE}"
    assert CHECKED_IN.read_text(encoding="utf-8") == render(), (
        f"openapi.json is stale; {REGENERATE}"
    )


def test_every_route_and_method_is_documented(document: dict[str, Any]) -> None:
    documented = {(method, path) for method, path, _ in operations(document)}
    assert documented == set(routed())


def test_operation_ids_are_the_declared_ones(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert sorted(ids) == sorted(endpoint.operation_id for endpoint in ENDPOINTS)
    assert len(ids) == len(set(ids))


def test_every_request_model_is_declared_by_an_endpoint() -> None:
    defined = {
        model
        for model in vars(schemas).values()
        if isinstance(model, type) and issubclass(model, schemas.Body) and model is not schemas.Body
    }
    assert set(request_models(ENDPOINTS)) == defined


@pytest.mark.parametrize("model", request_models(ENDPOINTS), ids=lambda model: model.__name__)
def test_every_request_model_is_a_request_body(document: dict[str, Any], model: type[Any]) -> None:
    ref = f"#/components/schemas/{model.__name__}"
    bodies = [op["requestBody"] for _, _, op in operations(document) if "requestBody" in op]
    assert ref in {r for body in bodies for r in refs(body)}
    schema = document["components"]["schemas"][model.__name__]
    generated = model.model_json_schema()
    assert set(schema["properties"]) == set(generated["properties"])
    assert schema.get("required", []) == generated.get("required", [])
    assert schema["additionalProperties"] is False


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    for ref in set(refs(document)):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def test_every_error_code_is_documented_under_its_status(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    documented = {
        code
        for name, schema in schemas.items()
        if re.fullmatch(r"Error\d{3}", name)
        for code in schema["properties"]["error"]["properties"]["code"]["enum"]
    }
    leaves = {cls.code for cls in _all_errors()}
    assert leaves <= documented
    assert error_codes(401) == sorted(
        {cls.code for cls in _all_errors() if issubclass(cls, errors.AuthenticationFailed)}
    )


@pytest.mark.parametrize(
    "status", [401, 500, 503], ids=["unauthenticated", "internal", "unavailable"]
)
def test_every_operation_documents_auth_and_failure_statuses(
    document: dict[str, Any], status: int
) -> None:
    for method, path, operation in operations(document):
        assert str(status) in operation["responses"], f"{method} {path} lacks {status}"
    headers = document["components"]["responses"]["Error401"]["headers"]
    assert headers["WWW-Authenticate"] == {"$ref": "#/components/headers/WWW-Authenticate"}


def test_operations_with_a_body_document_body_errors(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(operation["responses"]), f"{method} {path}"


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(json.loads(render()))


def test_schemathesis_loads_every_operation(document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(document)
    results = list(schema.get_all_operations())
    failed = [result.err() for result in results if isinstance(result, Err)]
    assert not failed
    labels = {result.ok().label for result in results if isinstance(result, Ok)}
    assert labels == {f"{method} {path}" for method, path in routed()}


def _all_errors() -> Iterator[type[errors.ApiError]]:
    pending: list[type[errors.ApiError]] = [errors.ApiError]
    while pending:
        cls = pending.pop()
        yield cls
        pending.extend(cls.__subclasses__())


# --- access levels -----------------------------------------------------------------


def _view(request: Request) -> Response:
    return Response()


def test_public_and_bearer_only_endpoints_are_documented_as_such() -> None:
    things = Function("things", needs=lambda _: None)
    things.endpoint(
        "GET",
        "/things",
        operation_id="list_things",
        summary="s",
        access=PUBLIC,
        policy=NO_POLICY_PUBLIC,
    )(_view)
    things.endpoint(
        "POST",
        "/things",
        operation_id="make_thing",
        summary="s",
        access=SIGNED_IN_WITH_BEARER,
        policy=SELF,
    )(_view)
    paths = build_document([things])["paths"]
    public, bearer = paths["/things"]["get"], paths["/things"]["post"]
    assert public["security"] == []
    assert set(public["responses"]) == {"200", "429", "500", "503"}
    assert bearer["security"] == [{"bearerAuth": []}]
    # 403 for provider_not_allowed (any authenticated endpoint), not CSRF: no cookie.
    assert set(bearer["responses"]) == {"200", "401", "403", "429", "500", "503"}
