"""The Firebase callable protocol (``handlers.callables``), with no emulator: the error
table, the envelopes, how ``data`` becomes the REST request, and what is refused.

Views here echo what the shell handed them, so each test sees the REST request a call
was turned into; the real endpoints run over the emulators in
``tests/integration/test_callables.py`` (and with the Firebase JS SDK in
``tests/integration/test_callable_sdk.py``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Request, Response
from werkzeug.test import TestResponse

from app import build_container
from core import errors, fields
from core.settings import Settings
from handlers import CALLABLES, FUNCTION_MODULES, FUNCTIONS, callable_functions, callables
from handlers.bodies import parse_body
from handlers.endpoints import NO_POLICY_PUBLIC, PUBLIC, SELF, SIGNED_IN, Param
from handlers.http import Function
from handlers.responses import SECURITY_HEADERS, empty_response, json_response
from handlers.schemas import Body
from tests.entry_points import flask_app

ORIGIN = "https://app.example.com"
SETTINGS = Settings(project_id="demo-unit", cors_allowed_origins=(ORIGIN,))
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Any Authorization header: the PUBLIC test endpoints do not read it, but a callable
#: without one is refused whatever the endpoint.
TOKEN = {"Authorization": "Bearer not-read-here"}
#: google.rpc code.proto's canonical names (firebase-js-sdk error.ts ``errorCodeMap``).
CANONICAL = set(callables.HTTP_STATUS) | {"OK"}


def all_errors() -> list[type[errors.ApiError]]:
    found: list[type[errors.ApiError]] = [errors.ApiError]
    for cls in found:
        found.extend(sub for sub in cls.__subclasses__() if sub not in found)
    return found


def make(cls: type[errors.ApiError]) -> errors.ApiError:
    return cls(["GET"]) if cls is errors.MethodNotAllowed else cls()  # type: ignore[call-arg]


class Thing(Body):
    name: str
    note: str | None = None


def echo(request: Request, needed: object, body: Any = None, **path: str) -> Response:
    return json_response(
        {
            "method": request.method,
            "path": request.path,
            "query": dict(request.args),
            "body": body,
            "ifMatch": request.headers.get("If-Match"),
            "idempotencyKey": request.headers.get("Idempotency-Key"),
            "cookie": request.headers.get("Cookie"),
            "args": path,
        },
        201 if request.method == "POST" else 200,
        {"ETag": '"7"'},
    )


def echo_valid(request: Request, needed: object, **path: str) -> Response:
    # As a real view does: the model decides the body fields.
    body = parse_body(request, Thing).model_dump(exclude_unset=True)
    return echo(request, needed, body, **path)


def nothing(request: Request, needed: object, **path: str) -> Response:
    return empty_response(204)


def fail(request: Request, needed: object, name: str) -> Response:
    raise make(next(cls for cls in all_errors() if cls.__name__ == name))


def boom(request: Request, needed: object) -> Response:
    raise RuntimeError("secret detail")


def signed_in(request: Request, principal: object, needed: object) -> Response:
    raise AssertionError("never reached without a token")


@pytest.fixture(scope="module")
def things() -> Function[None]:
    function = Function("things", needs=lambda _: None)
    query = (Param("limit", fields.LIMIT, "n"),)

    def declare(*args: Any, **kwargs: Any) -> Any:
        public = kwargs["access"] is PUBLIC
        return function.endpoint(*args, policy=NO_POLICY_PUBLIC if public else SELF, **kwargs)

    declare("GET", "/things", operation_id="list_things", summary="", access=PUBLIC, query=query)(
        echo
    )
    declare(
        "POST",
        "/things",
        operation_id="create_thing",
        summary="",
        access=PUBLIC,
        request=Thing,
        idempotent=True,
    )(echo_valid)
    declare(
        "PATCH",
        "/things/<thing_id>",
        operation_id="patch_thing",
        summary="",
        access=PUBLIC,
        request=Thing,
        if_match=True,
    )(echo_valid)
    declare("DELETE", "/things/<thing_id>", operation_id="delete_thing", summary="", access=PUBLIC)(
        nothing
    )
    declare("GET", "/things/fail/<name>", operation_id="fail", summary="", access=PUBLIC)(fail)
    declare("GET", "/things/boom", operation_id="boom", summary="", access=PUBLIC)(boom)
    declare("GET", "/things/mine", operation_id="mine", summary="", access=SIGNED_IN)(signed_in)
    return function


@pytest.fixture(scope="module")
def app(things: Function[None]) -> Flask:
    return flask_app(callables.bind("call", [things], build_container(SETTINGS)))


def call(app: Flask, operation: str, data: Any, **headers: str) -> TestResponse:
    return app.test_client().post(
        f"/call/{operation}", json={"data": data}, headers={**TOKEN, **headers}
    )


def error_of(response: TestResponse) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"status", "message", "details"}
    return error


# --- the one table -----------------------------------------------------------------


@pytest.mark.parametrize("cls", all_errors(), ids=lambda cls: cls.__name__)
def test_every_api_error_has_a_canonical_status(cls: type[errors.ApiError]) -> None:
    assert cls in callables.CANONICAL_STATUS, f"add {cls.__name__} to CANONICAL_STATUS"
    assert callables.CANONICAL_STATUS[cls] in callables.HTTP_STATUS


def test_one_code_one_canonical_status() -> None:
    by_code: dict[str, set[str]] = {}
    for cls, status in callables.CANONICAL_STATUS.items():
        by_code.setdefault(cls.code, set()).add(status)
    assert {code: s for code, s in by_code.items() if len(s) > 1} == {}


def test_the_protocol_table_is_code_proto() -> None:
    """firebase-functions-python's ``_error_code_map`` (and the JS SDK's reading of it)."""
    assert callables.HTTP_STATUS == {
        "CANCELLED": 499,
        "UNKNOWN": 500,
        "INVALID_ARGUMENT": 400,
        "DEADLINE_EXCEEDED": 504,
        "NOT_FOUND": 404,
        "ALREADY_EXISTS": 409,
        "PERMISSION_DENIED": 403,
        "UNAUTHENTICATED": 401,
        "RESOURCE_EXHAUSTED": 429,
        "FAILED_PRECONDITION": 400,
        "ABORTED": 409,
        "OUT_OF_RANGE": 400,
        "UNIMPLEMENTED": 501,
        "INTERNAL": 500,
        "UNAVAILABLE": 503,
        "DATA_LOSS": 500,
    }


def test_the_readme_table_is_the_table() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    rows = set(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \| `([A-Z_]+)` \| (\d{3}) \|", readme, re.M))
    expected = {
        (cls.code, str(cls.status), status, str(callables.HTTP_STATUS[status]))
        for cls, status in callables.CANONICAL_STATUS.items()
        if cls is not errors.ApiError
    }
    assert rows == expected


# --- errors over HTTP: each class -> HTTP status, canonical status, details.code --------


@pytest.mark.parametrize(
    "cls", [c for c in all_errors() if c is not errors.ApiError], ids=lambda c: c.__name__
)
def test_each_error_arrives_in_the_callable_shape(app: Flask, cls: type[errors.ApiError]) -> None:
    response = call(app, "fail", {"name": cls.__name__})
    status = callables.CANONICAL_STATUS[cls]
    assert response.status_code == callables.HTTP_STATUS[status]
    error = error_of(response)
    assert error["status"] == status
    assert error["details"]["code"] == cls.code
    if cls is errors.InternalError:  # the shell's generic 500: a request id, nothing else
        assert response.headers["X-Request-Id"] in error["message"]
    else:
        assert error["message"] == make(cls).message
    retry = make(cls).headers.get("Retry-After")
    assert error["details"].get("retryAfter") == (int(retry) if retry else None)


# --- success -----------------------------------------------------------------------


def test_data_becomes_path_body_and_headers(app: Flask) -> None:
    data = {"thing_id": "t1", "name": "n", "note": None, "ifMatch": 3}
    response = call(app, "patch_thing", data, Cookie="__session=x")
    assert response.status_code == 200
    assert response.get_json() == {
        "result": {
            "method": "PATCH",
            "path": "/things/t1",
            "query": {},
            "body": {"name": "n", "note": None},
            "ifMatch": '"3"',
            "idempotencyKey": None,
            "cookie": None,  # a callable carries a bearer token; the cookie is never read
            "args": {"thing_id": "t1"},
        }
    }
    assert response.headers["ETag"] == '"7"'
    assert response.headers["X-Request-Id"]
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


@pytest.mark.parametrize(
    ("data", "query"),
    [(None, {}), ({}, {}), ({"limit": 5}, {"limit": "5"}), ({"limit": "7"}, {"limit": "7"})],
    ids=["null_data", "empty_data", "integer_query", "string_query"],
)
def test_query_parameters(app: Flask, data: Any, query: dict[str, str]) -> None:
    response = call(app, "list_things", data)
    assert response.status_code == 200
    assert response.get_json()["result"]["query"] == query


def test_a_201_is_a_200_and_the_idempotency_key_a_header(app: Flask) -> None:
    response = call(app, "create_thing", {"name": "n", "idempotencyKey": "k-1"})
    assert response.status_code == 200
    result = response.get_json()["result"]
    assert (result["body"], result["idempotencyKey"]) == ({"name": "n"}, "k-1")


def test_a_204_is_a_null_result(app: Flask) -> None:
    response = call(app, "delete_thing", {"thing_id": "t1"})
    assert (response.status_code, response.get_json()) == (200, {"result": None})


def test_an_if_match_string_is_sent_as_is(app: Flask) -> None:
    response = call(app, "patch_thing", {"thing_id": "t", "name": "n", "ifMatch": '"9"'})
    assert response.get_json()["result"]["ifMatch"] == '"9"'


# --- refused -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "data", "fields"),
    [
        ("patch_thing", {"name": "n"}, {"thing_id"}),
        ("patch_thing", {"thing_id": "", "name": "n"}, {"thing_id"}),
        ("patch_thing", {"thing_id": "a/b", "name": "n"}, {"thing_id"}),
        ("patch_thing", {"thing_id": 5, "name": "n"}, {"thing_id"}),
        ("patch_thing", {"thing_id": "t", "name": "n", "ifMatch": [1]}, {"ifMatch"}),
        ("patch_thing", {"thing_id": "t", "name": "n", "ifMatch": -1}, {"ifMatch"}),
        ("patch_thing", {"thing_id": "t", "name": 5}, {"name"}),
        ("patch_thing", {"thing_id": "t", "name": "n", "ownerId": "x"}, {"ownerId"}),
        ("create_thing", {"name": "n", "idempotencyKey": 5}, {"idempotencyKey"}),
        ("create_thing", {"name": "n", "ifMatch": 1}, {"ifMatch"}),
        ("list_things", {"limit": {"a": 1}}, {"limit"}),
        ("list_things", {"limit": 1.5}, {"limit"}),
        ("list_things", {"name": "x"}, {"name"}),
        ("delete_thing", {"thing_id": "t", "ifMatch": 1}, {"ifMatch"}),
    ],
    ids=[
        "missing_path_param",
        "empty_path_param",
        "slash_in_path_param",
        "number_path_param",
        "if_match_list",
        "if_match_negative",
        "body_type",
        "unknown_body_field",
        "idempotency_key_number",
        "if_match_where_not_honoured",
        "query_object",
        "query_float",
        "unknown_field_without_body",
        "if_match_on_delete_without_it",
    ],
)
def test_bad_data_is_invalid_argument_naming_the_field(
    app: Flask, operation: str, data: dict[str, Any], fields: set[str]
) -> None:
    response = call(app, operation, data)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["status"], error["details"]["code"]) == ("INVALID_ARGUMENT", "validation_error")
    assert set(error["details"]["fields"]) == fields


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b'{"nodata": 1}', "application/json", "validation_error"),
        (b'{"data": {}, "extra": 1}', "application/json", "validation_error"),
        (b'{"data": [1]}', "application/json", "validation_error"),
        (b'{"data": "x"}', "application/json", "validation_error"),
        (b"[]", "application/json", "invalid_json"),
        (b"{", "application/json", "invalid_json"),
        (b'{"data": {}, "data": {}}', "application/json", "invalid_json"),
        (b'{"data": NaN}', "application/json", "invalid_json"),
        (b"\xff", "application/json", "invalid_json"),
        (b"", "application/json", "invalid_json"),
        (b'{"data": {}}', "text/plain", "unsupported_media_type"),
        (b'{"data": {"x": "' + b"a" * 70_000 + b'"}}', "application/json", "payload_too_large"),
    ],
    ids=[
        "no_data",
        "extra_key",
        "data_list",
        "data_string",
        "not_an_object",
        "truncated",
        "duplicate_key",
        "nan",
        "not_utf8",
        "empty",
        "text_plain",
        "too_large",
    ],
)
def test_a_body_that_is_not_a_call_is_invalid_argument(
    app: Flask, body: bytes, content_type: str, code: str
) -> None:
    response = app.test_client().post(
        "/call/list_things", data=body, content_type=content_type, headers=TOKEN
    )
    assert response.status_code == 400
    error = error_of(response)
    assert (error["status"], error["details"]["code"]) == ("INVALID_ARGUMENT", code)
    assert response.headers["X-Request-Id"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/call/nope", "/call/", "/call", "/nope", "/call/fail/x"], ids=lambda p: p
)
def test_an_unknown_operation_is_not_found(app: Flask, path: str) -> None:
    response = app.test_client().post(path, json={"data": {}}, headers=TOKEN)
    assert response.status_code == 404
    assert error_of(response)["status"] == "NOT_FOUND"
    assert error_of(response)["details"]["code"] == "not_found"


def test_the_name_may_be_stripped_as_cloud_functions_does(app: Flask) -> None:
    response = app.test_client().post("/list_things", json={"data": None}, headers=TOKEN)
    assert response.status_code == 200
    assert response.get_json()["result"]["path"] == "/things"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_only_post_calls(app: Flask, method: str) -> None:
    response = app.test_client().open("/call/list_things", method=method, headers=TOKEN)
    assert response.status_code == 400
    assert error_of(response)["details"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "OPTIONS, POST"


def test_without_a_token_it_is_unauthenticated(app: Flask) -> None:
    for operation in ("mine", "list_things"):  # signed in, and even a public endpoint
        response = app.test_client().post(f"/call/{operation}", json={"data": {}})
        assert response.status_code == 401, operation
        error = error_of(response)
        assert (error["status"], error["details"]["code"]) == ("UNAUTHENTICATED", "missing_token")


def test_a_session_cookie_does_not_count(app: Flask) -> None:
    response = app.test_client().post(
        "/call/mine", json={"data": {}}, headers={"Cookie": "__session=a.b.c"}
    )
    assert error_of(response)["details"]["code"] == "missing_token"


def test_an_unexpected_failure_is_internal_and_says_nothing(app: Flask) -> None:
    response = call(app, "boom", None)
    assert response.status_code == 500
    error = error_of(response)
    assert (error["status"], error["details"]) == ("INTERNAL", {"code": "internal"})
    assert "secret" not in response.get_data(as_text=True)
    assert response.headers["X-Request-Id"] in error["message"]


def test_cors_preflight_and_call_for_allowed_origins_only(app: Flask) -> None:
    client = app.test_client()
    preflight = client.options(
        "/call/list_things",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-firebase-appcheck",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "x-firebase-appcheck"} <= set(allowed.split(", "))
    answered = call(app, "list_things", {}, Origin=ORIGIN)
    assert answered.headers["Access-Control-Allow-Origin"] == ORIGIN
    stranger = call(app, "list_things", {}, Origin="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_one_log_line_per_call(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="handlers.http")
    call(app, "delete_thing", {"thing_id": "t1"})
    app.test_client().post("/call/nope", json={"data": {}}, headers=TOKEN)
    lines = [r for r in caplog.records if r.name == "handlers.http"]
    assert [(r.method, r.path, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("DELETE", "/things/t1", 204),
        ("POST", "/call/nope", 404),
    ]


# --- the real API ------------------------------------------------------------------


def test_every_endpoint_of_the_api_is_a_callable_with_distinct_field_names() -> None:
    by_id = callables.operations(FUNCTIONS, lambda function: lambda request: Response())
    declared = {e.operation_id for f in FUNCTIONS for e in f.endpoints}
    assert set(by_id) == declared
    for operation in by_id.values():
        body = set(operation.endpoint.request.model_fields) if operation.endpoint.request else set()
        assert not body & set(operation.fields), operation.endpoint.operation_id


def test_every_function_is_served_by_exactly_one_callable_function() -> None:
    groups = [served for group in CALLABLES.values() for served in group]
    assert sorted(groups) == sorted(FUNCTION_MODULES)


def test_the_admin_operations_have_a_callable_function_of_their_own() -> None:
    """Whoever reaches ``call`` (every signed-in user) reaches no code path that needs
    ``admin``'s roles (tools/deploy/iam.py gives each callable its group's roles)."""
    serving_admin = [name for name, group in CALLABLES.items() if "admin" in group]
    assert serving_admin == ["admincall"]
    assert CALLABLES["admincall"] == ("admin",)
    assert "admin" not in CALLABLES["call"]


def test_each_callable_function_serves_exactly_its_groups_operations() -> None:
    served = {
        name: set(callables.operations(callable_functions(name), lambda f: Response))
        for name in CALLABLES
    }
    admin = {e.operation_id for f in FUNCTIONS if f.name == "admin" for e in f.endpoints}
    assert served["admincall"] == admin
    assert not served["call"] & admin
    assert set().union(*served.values()) == {e.operation_id for f in FUNCTIONS for e in f.endpoints}


#: (rule id, entry point, path, status, code): each callable function answers its own
#: group's operations (here refused for want of a token, so no emulator is needed) and
#: NOT_FOUND for the other group's, like any unknown operation.
GROUPS = [
    ("call_serves_me", "call", "/call/get_me", 401, "missing_token"),
    ("call_serves_projects", "call", "/call/list_projects", 401, "missing_token"),
    ("call_serves_session", "call", "/call/end_session", 401, "missing_token"),
    ("call_refuses_admin_ops", "call", "/call/put_roles", 404, "not_found"),
    ("call_refuses_admin_ops_stripped", "call", "/put_roles", 404, "not_found"),
    ("call_refuses_the_admincall_prefix", "call", "/admincall/get_roles", 404, "not_found"),
    ("admincall_serves_admin", "admincall", "/admincall/put_roles", 401, "missing_token"),
    ("admincall_serves_admin_stripped", "admincall", "/get_roles", 401, "missing_token"),
    ("admincall_refuses_me", "admincall", "/admincall/get_me", 404, "not_found"),
    ("admincall_refuses_projects", "admincall", "/admincall/list_projects", 404, "not_found"),
    ("admincall_refuses_the_call_prefix", "admincall", "/call/get_roles", 404, "not_found"),
    ("local_call", "local", "/call/get_me", 401, "missing_token"),
    ("local_call_refuses_admin_ops", "local", "/call/put_roles", 404, "not_found"),
    ("local_admincall", "local", "/admincall/put_roles", 401, "missing_token"),
    ("local_admincall_refuses_me", "local", "/admincall/get_me", 404, "not_found"),
]


@pytest.mark.parametrize(
    ("entry", "path", "status", "code"), [g[1:] for g in GROUPS], ids=[g[0] for g in GROUPS]
)
def test_each_callable_function_serves_its_group_only(
    entry: str, path: str, status: int, code: str
) -> None:
    from tests.entry_points import serving

    # The path parameters the admin operations need, none for the others'.
    data = {"uid": "u1"} if path.endswith("_roles") else {}
    client = serving(entry, build_container(SETTINGS)).test_client()
    response = client.post(path, json={"data": data})
    assert response.status_code == status
    error = error_of(response)
    expected = "NOT_FOUND" if status == 404 else "UNAUTHENTICATED"
    assert (error["status"], error["details"]["code"]) == (expected, code)


def test_the_readme_lists_every_callable_with_its_data_fields() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    pattern = r"^\| `/(\w+)/(\w+)` \| `([A-Z]+) (\S+)` \| (.+) \|$"
    rows = {row for row in re.findall(pattern, readme, re.M) if row[0] in CALLABLES}
    expected = set()
    for name in CALLABLES:
        by_id = callables.operations(callable_functions(name), lambda f: Response)
        for operation_id, operation in by_id.items():
            endpoint = operation.endpoint
            body = list(endpoint.request.model_fields) if endpoint.request else []
            names = [*operation.path_params, *operation.query_params, *body]
            names += [n for n in operation.fields if n not in names]
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", endpoint.path)
            listed = ", ".join(f"`{n}`" for n in names) or "—"
            expected.add((name, operation_id, endpoint.method, path, listed))
    assert rows == expected
