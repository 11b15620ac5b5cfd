"""Cookie sessions for browsers: a fresh ID token becomes an httpOnly session cookie,
verified like a token, with revocation, and an Origin check on every write."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.integration.api import error_code
from tests.integration.emulator import EmulatorUser, MakeUser
from tests.integration.test_identity import reforge

COOKIE = "__session"
API_ORIGIN = "http://localhost"  # the Flask test client's host


@pytest.fixture
def browser(client: FlaskClient) -> FlaskClient:
    """A fresh cookie jar on the shared app (cookies must not leak between tests)."""
    return client.application.test_client()


def start_session(browser: FlaskClient, user: EmulatorUser) -> TestResponse:
    return browser.post("/session", headers={"Authorization": f"Bearer {user.id_token}"})


def test_a_fresh_token_becomes_a_strict_httponly_cookie(
    browser: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user()
    response = start_session(browser, user)
    assert response.status_code == 204
    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=432000"):
        assert attribute in set_cookie
    me = browser.get("/me")  # the cookie alone, no Authorization header
    assert me.status_code == 200
    assert me.get_json()["uid"] == user.uid


def test_an_old_sign_in_cannot_start_a_session(browser: FlaskClient, make_user: MakeUser) -> None:
    user = make_user()
    stale = reforge(user.id_token, auth_time=int(time.time()) - 600)
    response = browser.post("/session", headers={"Authorization": f"Bearer {stale}"})
    assert (response.status_code, error_code(response)) == (401, "recent_sign_in_required")
    assert "Set-Cookie" not in response.headers


def test_a_session_needs_a_bearer_token(browser: FlaskClient) -> None:
    response = browser.post("/session")
    assert (response.status_code, error_code(response)) == (401, "missing_token")


@pytest.mark.parametrize(
    ("origin", "status", "code"),
    [
        (None, 403, "csrf_rejected"),
        ("https://evil.example", 403, "csrf_rejected"),
        (API_ORIGIN, 201, None),
        # Audit finding: only the host was compared.
        ("https://localhost", 403, "csrf_rejected"),
        ("ftp://localhost", 403, "csrf_rejected"),
        ("http://localhost:8080", 403, "csrf_rejected"),
        ("http://localhost/path", 403, "csrf_rejected"),
    ],
    ids=[
        "no_origin",
        "foreign_origin",
        "same_origin",
        "same_host_other_scheme",
        "same_host_ftp",
        "same_host_other_port",
        "same_origin_with_path",
    ],
)
def test_cookie_writes_need_an_allowed_origin(
    browser: FlaskClient, make_user: MakeUser, origin: str | None, status: int, code: str | None
) -> None:
    user = make_user()
    start_session(browser, user)
    headers = {"Origin": origin} if origin else {}
    response = browser.post("/projects", json={"name": "via cookie"}, headers=headers)
    assert (response.status_code, error_code(response)) == (status, code)
    listed = browser.get("/projects").get_json()["items"]
    assert len(listed) == (1 if status == 201 else 0)


def test_ending_the_session_clears_the_cookie_and_revokes(
    browser: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user()
    start_session(browser, user)
    cookie = browser.get_cookie(COOKIE)
    assert cookie is not None
    ended = browser.delete("/session", headers={"Origin": API_ORIGIN})
    assert ended.status_code == 204
    assert f"{COOKIE}=;" in ended.headers["Set-Cookie"]
    assert browser.get_cookie(COOKIE) is None
    # The old cookie (say, copied elsewhere) is refused, and so is the old token.
    browser.set_cookie(COOKIE, cookie.value)
    again = browser.get("/me")
    assert (again.status_code, error_code(again)) == (401, "token_revoked")
    token = browser.get("/me", headers={"Authorization": f"Bearer {user.id_token}"})
    assert (token.status_code, error_code(token)) == (401, "token_revoked")


def test_an_id_token_is_not_a_session_cookie(browser: FlaskClient, make_user: MakeUser) -> None:
    user = make_user()
    browser.set_cookie(COOKIE, user.id_token)
    response = browser.get("/me")
    assert (response.status_code, error_code(response)) == (401, "invalid_token")


def test_the_bearer_header_wins_over_a_cookie(browser: FlaskClient, make_user: MakeUser) -> None:
    alice, bob = make_user(), make_user()
    start_session(browser, alice)
    response = browser.get("/me", headers={"Authorization": f"Bearer {bob.id_token}"})
    assert response.get_json()["uid"] == bob.uid


def test_role_bearing_cookies_are_checked_fresh(
    browser: FlaskClient, make_user: MakeUser, client: FlaskClient
) -> None:
    admin, target = make_user(roles=["admin"]), make_user(roles=["auditor"])
    start_session(browser, target)
    assert browser.get("/admin/audit").status_code == 200
    demote = client.put(
        f"/admin/users/{target.uid}/roles",
        json={"roles": []},
        headers={"Authorization": f"Bearer {admin.id_token}"},
    )
    assert demote.status_code == 200
    response = browser.get("/admin/audit")
    assert (response.status_code, error_code(response)) == (401, "token_revoked")


def _segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


#: Audit finding: these were 500s with a logged traceback as cookies (before anyone is
#: authenticated), where as bearer tokens they were 401s.
CRAFTED = {
    "legacy_shape_with_null_d": "eyJhbGciOiJIUzI1NiJ9.eyJ2IjowLCJkIjpudWxsfQ.AA",
    "payload_nested_1100_deep": _segment(b'{"alg":"none"}') + "." + _segment(b"[" * 1100) + ".",
    "header_nested_1100_deep": _segment(b"[" * 1100) + "." + _segment(b"{}") + ".",
}


@pytest.mark.parametrize("credential", ["cookie", "bearer"])
@pytest.mark.parametrize("crafted", CRAFTED.values(), ids=CRAFTED.keys())
@pytest.mark.parametrize("method", ["GET", "POST"], ids=["read", "write"])
def test_crafted_credentials_are_401_never_500(
    browser: FlaskClient,
    crafted: str,
    credential: str,
    method: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"Origin": API_ORIGIN}
    if credential == "cookie":
        browser.set_cookie(COOKIE, crafted)
    else:
        headers["Authorization"] = f"Bearer {crafted}"
    path = "/me" if method == "GET" else "/me/revoke-sessions"
    response = browser.open(path, method=method, headers=headers)
    assert (response.status_code, error_code(response)) == (401, "invalid_token")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert crafted not in caplog.text
