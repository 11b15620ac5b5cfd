"""The HTTP contract with a real token: bodies, media types, sizes, JSON everywhere.

Every rejected request must leave the data as it was.
"""

from __future__ import annotations

import logging

import pytest

from tests.integration.api import Api, error_code
from tests.integration.emulator import EmulatorUser, MakeUser, bearer


@pytest.fixture
def alice(make_user: MakeUser) -> EmulatorUser:
    return make_user()


def post_raw(api: Api, user: EmulatorUser, data: bytes, content_type: str | None) -> object:
    headers = {**bearer(user), **({"Content-Type": content_type} if content_type else {})}
    return api.client.post("/projects", data=data, headers=headers)


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b'{"name": "x"', "application/json", 400, "invalid_json"),
        (b'{"name": "a", "name": "b"}', "application/json", 400, "invalid_json"),
        (b'{"name": NaN}', "application/json", 400, "invalid_json"),
        (b'["name"]', "application/json", 400, "invalid_json"),
        (b"name=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"name": "x"}', "text/plain", 415, "unsupported_media_type"),
        (b'{"name": "x"}', None, 415, "unsupported_media_type"),
        (b'{"name": "' + b"x" * 70_000 + b'"}', "application/json", 413, "payload_too_large"),
    ],
    ids=[
        "truncated",
        "duplicate_key",
        "nan",
        "array",
        "form",
        "text",
        "no_content_type",
        "over_64_kib",
    ],
)
def test_bad_bodies_are_refused_and_create_nothing(
    api: Api,
    alice: EmulatorUser,
    data: bytes,
    content_type: str | None,
    status: int,
    code: str,
) -> None:
    response = post_raw(api, alice, data, content_type)
    assert (response.status_code, error_code(response)) == (status, code)  # type: ignore[attr-defined]
    assert api.call("GET", "/projects", alice).get_json()["items"] == []


def test_html_clients_still_get_json(api: Api, alice: EmulatorUser) -> None:
    response = api.call(
        "GET", "/projects/<script>alert(1)</script>", alice, headers={"Accept": "text/html"}
    )
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert "<script>" not in response.get_data(as_text=True)


def test_unverified_user_cannot_write_but_can_read(
    api: Api, alice: EmulatorUser, make_user: MakeUser
) -> None:
    unverified = make_user(verified=False)
    project = api.create_project(alice)
    api.share(alice, project["id"], unverified.uid, "editor")
    assert api.project_as(unverified, project["id"]).status_code == 200
    edit = api.call("PATCH", f"/projects/{project['id']}", unverified, {"name": "x"})
    assert (edit.status_code, error_code(edit)) == (403, "email_not_verified")


def test_responses_carry_security_headers_and_request_id(api: Api, alice: EmulatorUser) -> None:
    response = api.call("GET", "/me", alice)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    assert response.headers["X-Request-Id"]


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "handlers.http" and hasattr(r, "requestId")]


def test_one_log_line_per_request_names_the_decision_and_rule(
    api: Api, alice: EmulatorUser, make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    viewer = make_user()
    project = api.create_project(alice)
    api.share(alice, project["id"], viewer.uid, "viewer")
    caplog.clear()
    caplog.set_level(logging.INFO)
    secret_name = "body-text-that-must-not-be-logged"
    response = api.call("PATCH", f"/projects/{project['id']}", viewer, {"name": secret_name})
    assert response.status_code == 403
    (line,) = _request_lines(caplog)
    fields = line.__dict__
    assert fields["requestId"] == response.headers["X-Request-Id"]
    assert (fields["uid"], fields["action"], fields["resource"]) == (
        viewer.uid,
        "update",
        f"projects/{project['id']}",
    )
    assert (fields["decision"], fields["rule"], fields["status"]) == ("deny", "forbidden", 403)
    assert isinstance(fields["latencyMs"], float)
    assert viewer.id_token not in caplog.text
    assert secret_name not in caplog.text


def test_log_line_of_an_allowed_request_names_the_granting_rule(
    api: Api, alice: EmulatorUser, make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    admin = make_user(roles=["admin"])
    project = api.create_project(alice)
    caplog.clear()
    caplog.set_level(logging.INFO)
    assert api.project_as(admin, project["id"]).status_code == 200
    (line,) = _request_lines(caplog)
    assert (line.__dict__["decision"], line.__dict__["rule"]) == ("allow", "role:admin")


def test_log_line_of_an_unauthenticated_request(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    api.client.get("/projects", headers={"Authorization": "Bearer not.a.token"})
    (line,) = _request_lines(caplog)
    assert (line.__dict__["decision"], line.__dict__["rule"]) == ("deny", "invalid_token")
    assert "not.a.token" not in caplog.text


def test_log_line_carries_http_request_and_trace(
    api: Api, alice: EmulatorUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    trace = "0af7651916cd43dd8448eb211c80319c"
    api.call("GET", "/me", alice, headers={"traceparent": f"00-{trace}-b7ad6b7169203331-01"})
    (line,) = _request_lines(caplog)
    assert line.__dict__["httpRequest"]["status"] == 200
    assert line.__dict__["httpRequest"]["requestMethod"] == "GET"
    assert line.__dict__["logging.googleapis.com/trace"].endswith(f"/traces/{trace}")
