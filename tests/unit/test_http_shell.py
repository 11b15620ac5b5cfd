"""The HTTP shell, with no emulator: routing, 405/404, CORS, headers, generic 500s."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask, Request, Response

from app import Container, build_container
from auth import check_origin
from core.errors import CsrfRejected, InternalError, NotFound
from core.settings import Settings
from handlers import FUNCTIONS
from handlers.endpoints import NO_POLICY_PUBLIC, PUBLIC, SELF, SIGNED_IN, View
from handlers.http import Function
from handlers.responses import SECURITY_HEADERS, json_response
from tests.entry_points import flask_app, serving

ALLOWED_ORIGIN = "https://app.example.com"
SETTINGS = Settings(project_id="demo-unit", cors_allowed_origins=(ALLOWED_ORIGIN,))


@pytest.fixture
def container() -> Container:
    return build_container(SETTINGS)


def ok_view(request: Request, needed: object, **kwargs: str) -> Response:
    return json_response({"ok": True, **kwargs})


def boom(request: Request, needed: object) -> Response:
    raise RuntimeError("database password is hunter2")


def internal(request: Request, needed: object) -> Response:
    raise InternalError("misconfigured: secret detail")


def public(function: Function[None], method: str, path: str, view: View) -> None:
    operation_id = f"op{len(function.endpoints)}"
    function.endpoint(
        method, path, operation_id=operation_id, summary="", access=PUBLIC, policy=NO_POLICY_PUBLIC
    )(view)


@pytest.fixture
def things(container: Container) -> Flask:
    function = Function("things", needs=lambda _: None)
    public(function, "GET", "/things", ok_view)
    public(function, "POST", "/things", ok_view)
    public(function, "GET", "/things/<thing_id>", ok_view)
    public(function, "DELETE", "/things/<thing_id>", ok_view)
    public(function, "GET", "/things/boom/now", boom)
    public(function, "GET", "/things/boom/internal", internal)
    return flask_app(function.bind(container))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/things", {"ok": True}),
        ("/things/", {"ok": True}),
        ("/things/a1", {"ok": True, "thing_id": "a1"}),
        ("/a1", {"ok": True, "thing_id": "a1"}),  # Cloud Functions stripped the name
        ("/", {"ok": True}),
    ],
    ids=["collection", "trailing_slash", "item", "stripped_prefix", "stripped_root"],
)
def test_routes_with_and_without_the_function_prefix(
    things: Flask, path: str, expected: dict[str, object]
) -> None:
    response = things.test_client().get(path)
    assert response.status_code == 200
    assert response.get_json() == expected


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/things", "GET, HEAD, OPTIONS, POST"),
        ("PUT", "/things/a1", "DELETE, GET, HEAD, OPTIONS"),
        ("PATCH", "/things/a1", "DELETE, GET, HEAD, OPTIONS"),
    ],
    ids=["delete_collection", "put_item", "patch_item"],
)
def test_unsupported_method_is_405_with_allow(
    things: Flask, method: str, path: str, allow: str
) -> None:
    response = things.test_client().open(path, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_unknown_route_is_json_404(things: Flask) -> None:
    response = things.test_client().get("/things/a/b/c")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert response.mimetype == "application/json"


def test_every_response_has_the_security_headers(things: Flask) -> None:
    client = things.test_client()
    for response in (client.get("/things"), client.get("/nope/x/y"), client.put("/things")):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert len(response.headers["X-Request-Id"]) == 32
        assert "Origin" in response.headers["Vary"]


def test_unexpected_errors_are_generic_500s(
    things: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    response = things.test_client().get("/things/boom/now", headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "internal"
    assert response.headers["X-Request-Id"] in body["error"]["message"]
    text = response.get_data(as_text=True)
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert "RuntimeError" in caplog.text  # the detail goes to the log only


def test_internal_api_errors_also_hide_detail_and_name_the_request(things: Flask) -> None:
    response = things.test_client().get("/things/boom/internal")
    assert response.status_code == 500
    body = response.get_json()["error"]
    assert body["code"] == "internal"
    assert response.headers["X-Request-Id"] in body["message"]
    assert "secret" not in response.get_data(as_text=True)


def test_preflight_from_an_allowed_origin(things: Flask) -> None:
    response = things.test_client().options(
        "/things/a1",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    for header in ("authorization", "content-type", "if-match"):
        assert header in allowed_headers
    assert "DELETE" in response.headers["Access-Control-Allow-Methods"]
    assert "Origin" in response.headers["Vary"]


def test_other_origins_get_no_cors_headers(things: Flask) -> None:
    client = things.test_client()
    for response in (
        client.get("/things", headers={"Origin": "https://evil.example"}),
        client.options(
            "/things",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        ),
        client.get("/things"),
    ):
        assert not [name for name, _ in response.headers if name.startswith("Access-Control-")]
        assert "Origin" in response.headers["Vary"]


def test_simple_request_from_an_allowed_origin_exposes_headers(things: Flask) -> None:
    response = things.test_client().get("/things", headers={"Origin": ALLOWED_ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]


# --- the real functions ------------------------------------------------------


# flask-cors reads strings with regex characters as patterns anchored at the start
# only; the shell hands it exact-match patterns, so no allowlist entry is ever a regex.
EXACT_MATCH: list[tuple[str, str, bool]] = [
    ("http://[::1]:8080", "http://[::1]:8080", True),
    ("http://[::1]:8080", "http://1:8080", False),
    ("http://[::1]:8080", "http://::8080", False),
    ("https://*.example.com", "https://evil.example.com", False),
    ("https://*.example.com", "https://*.example.com", True),
    ("https://app.example.com", "https://app.example.com.evil.net", False),
    ("https://app.example.com", "https://appXexample.com", False),
    ("https://app.example.com", "https://app.example.com:8443", False),
    ("https://app.example.com", "http://app.example.com", False),
    ("https://app.example.com", "https://APP.example.com", False),
    ("https://app.example.com", "https://app.example.com/", False),
]


@pytest.mark.parametrize(
    ("allowed", "origin", "matches"),
    EXACT_MATCH,
    ids=[
        "ipv6_exact",
        "ipv6_brackets_not_a_character_class",
        "ipv6_brackets_not_a_character_class_either",
        "wildcard_is_not_a_pattern",
        "wildcard_is_a_literal",
        "no_prefix_match",
        "dot_is_not_any_character",
        "other_port",
        "other_scheme",
        "other_case",
        "trailing_slash",
    ],
)
def test_cors_allowlist_matches_exact_origins_only(
    allowed: str, origin: str, matches: bool
) -> None:
    """Settings built directly (not from the environment) skip its validation, so
    the shell must be safe on its own."""
    configured = Settings(project_id="demo-unit", cors_allowed_origins=(allowed,))
    function = Function("things", needs=lambda _: None)
    public(function, "GET", "/things", ok_view)
    client = flask_app(function.bind(build_container(configured))).test_client()
    for response in (
        client.get("/things", headers={"Origin": origin}),
        client.options(
            "/things", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
        ),
    ):
        assert response.headers.get("Access-Control-Allow-Origin") == (origin if matches else None)


# --- the Origin check of cookie-authenticated writes (CSRF) ---------------------
# Audit finding: only the host was compared, so http://, ftp:// and https://host/path
# origins passed as the API's own. Scheme, host and port must match exactly.

API = "http://api.test:8000"  # where the test request is sent (scheme and Host)
DEPLOYED_API = "http://fn-abc.a.run.app"  # what a deployed function sees behind HTTPS


@dataclass(frozen=True)
class OriginCase:
    origin: str | None
    allowed: bool
    api: str = API
    deployed: bool = False


ORIGIN_CASES: dict[str, OriginCase] = {
    "same_origin": OriginCase("http://api.test:8000", True),
    "same_origin_host_header_in_upper_case": OriginCase(
        "http://api.test:8000", True, api="http://API.test:8000"
    ),
    "allowlisted": OriginCase(ALLOWED_ORIGIN, True),
    "no_origin": OriginCase(None, False),
    "other_scheme": OriginCase("https://api.test:8000", False),
    "ftp_scheme": OriginCase("ftp://api.test:8000", False),
    "other_port": OriginCase("http://api.test:8001", False),
    "no_port": OriginCase("http://api.test", False),
    "path": OriginCase("http://api.test:8000/path", False),
    "trailing_slash": OriginCase("http://api.test:8000/", False),
    "user_info": OriginCase("http://evil@api.test:8000", False),
    "other_host": OriginCase("http://evil.test:8000", False),
    "host_suffix": OriginCase("http://api.test.evil.net:8000", False),
    "null": OriginCase("null", False),
    "empty": OriginCase("", False),
    "garbage": OriginCase("http://api.test:8000 http://x", False),
    "allowlisted_with_path": OriginCase(ALLOWED_ORIGIN + "/app", False),
    "allowlisted_with_trailing_slash": OriginCase(ALLOWED_ORIGIN + "/", False),
    "allowlisted_over_http": OriginCase("http://app.example.com", False),
    "allowlisted_other_port": OriginCase(ALLOWED_ORIGIN + ":8443", False),
    "allowlisted_explicit_default_port": OriginCase(ALLOWED_ORIGIN + ":443", False),
    "allowlisted_in_upper_case": OriginCase("https://APP.example.com", False),
    "deployed_same_origin_is_https": OriginCase(
        "https://fn-abc.a.run.app", True, api=DEPLOYED_API, deployed=True
    ),
    "deployed_plain_http_origin": OriginCase(
        "http://fn-abc.a.run.app", False, api=DEPLOYED_API, deployed=True
    ),
    "deployed_https_with_path": OriginCase(
        "https://fn-abc.a.run.app/x", False, api=DEPLOYED_API, deployed=True
    ),
}


@pytest.mark.parametrize("case", ORIGIN_CASES.values(), ids=ORIGIN_CASES.keys())
def test_cookie_write_origin_check(case: OriginCase) -> None:
    headers = {} if case.origin is None else {"Origin": case.origin}
    with Flask("origin-test").test_request_context(
        "/projects", method="POST", base_url=case.api, headers=headers
    ) as context:
        if case.allowed:
            check_origin(context.request, (ALLOWED_ORIGIN,), deployed=case.deployed)
        else:
            with pytest.raises(CsrfRejected) as raised:
                check_origin(context.request, (ALLOWED_ORIGIN,), deployed=case.deployed)
            assert (raised.value.status, raised.value.code) == (403, "csrf_rejected")


@pytest.fixture
def backend(container: Container) -> Flask:
    return serving("local", container)


PID = "AbCdEfGhIjKlMnOpQrSt"
ROUTES = {
    "/me": "GET, HEAD, OPTIONS",
    "/me/revoke-sessions": "OPTIONS, POST",
    "/projects": "GET, HEAD, OPTIONS, POST",
    "/projects/AbCdEfGhIjKlMnOpQrSt": "DELETE, GET, HEAD, OPTIONS, PATCH",
    "/projects/AbCdEfGhIjKlMnOpQrSt/members": "OPTIONS, POST",
    "/projects/AbCdEfGhIjKlMnOpQrSt/members/u1": "DELETE, OPTIONS, PUT",
    "/projects/AbCdEfGhIjKlMnOpQrSt/tasks": "GET, HEAD, OPTIONS, POST",
    f"/projects/{PID}/tasks/{PID}": "DELETE, GET, HEAD, OPTIONS, PATCH",
    "/projects/AbCdEfGhIjKlMnOpQrSt/transfer": "OPTIONS, POST",
    "/admin/users": "GET, HEAD, OPTIONS",
    "/admin/users/u1/roles": "GET, HEAD, OPTIONS, PUT",
    "/admin/audit": "GET, HEAD, OPTIONS",
    "/session": "DELETE, OPTIONS, POST",
}
VERBS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@pytest.mark.parametrize("path", ROUTES, ids=list(ROUTES))
def test_every_route_answers_options_with_its_methods(backend: Flask, path: str) -> None:
    response = backend.test_client().options(path)
    assert response.status_code == 204
    assert response.headers["Allow"] == ROUTES[path]


@pytest.mark.parametrize(
    ("path", "verb"),
    [(p, v) for p in ROUTES for v in VERBS],
    ids=[f"{v}_{p}" for p in ROUTES for v in VERBS],
)
def test_every_verb_on_every_route_is_401_or_405(backend: Flask, path: str, verb: str) -> None:
    """Without a token nothing gets past authentication; wrong verbs are 405 first."""
    response = backend.test_client().open(path, method=verb)
    if verb in ROUTES[path]:
        assert (response.status_code, response.get_json()["error"]["code"]) == (
            401,
            "missing_token",
        )
    else:
        assert response.status_code == 405
        assert response.headers["Allow"] == ROUTES[path]


@pytest.mark.parametrize(
    "path", ["/", "/debug", "/console", "/robots.txt", "/projectsx", "/admin"], ids=str
)
def test_no_stray_routes(backend: Flask, path: str) -> None:
    response = backend.test_client().get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_functions_are_me_projects_admin() -> None:
    assert [f.name for f in FUNCTIONS] == ["me", "projects", "admin", "session"]


def test_not_found_is_an_api_error() -> None:
    assert NotFound().status == 404


# --- declarations ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "operation_id", "error"),
    [
        ("GET", "/things", "other", "declared twice"),
        ("POST", "/things", "first", "operation id 'first' is declared twice"),
        ("OPTIONS", "/things/x", "third", "expected a method"),
        ("GET", "/elsewhere", "fourth", "expected a path under /things"),
    ],
    ids=["same_method_and_path", "same_operation_id", "unrouted_method", "outside_the_prefix"],
)
def test_endpoints_are_checked_when_declared(
    method: str, path: str, operation_id: str, error: str
) -> None:
    function = Function("things", needs=lambda _: None)
    function.endpoint(
        "GET", "/things", operation_id="first", summary="", access=PUBLIC, policy=NO_POLICY_PUBLIC
    )(ok_view)
    with pytest.raises(ValueError, match=error):
        function.endpoint(
            method, path, operation_id=operation_id, summary="", access=SIGNED_IN, policy=SELF
        )(ok_view)


def test_signed_in_endpoints_refuse_requests_without_credentials(container: Container) -> None:
    """The shell authenticates before the view runs (401: the view never called, and
    nothing built that it or the authentication would need)."""
    called: list[str] = []

    def view(request: Request, principal: object, needed: object) -> Response:
        called.append("view")
        return json_response({})

    def needs(container: Container) -> None:
        called.append("needs")

    function = Function("things", needs=needs)
    function.endpoint(
        "GET", "/things", operation_id="op", summary="", access=SIGNED_IN, policy=SELF
    )(view)
    app = flask_app(function.bind(container))
    response = app.test_client().get("/things", headers={"Cookie": "token=not-read"})
    assert (response.status_code, response.get_json()["error"]["code"]) == (401, "missing_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert called == []
    # Only the abuse limiter (in memory, no I/O), which comes before everything else.
    assert container.built == frozenset({"rate_limits"})
