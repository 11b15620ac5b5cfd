"""Session cookies on the production path: a cookie is client input read before anyone
is authenticated, so it passes the structural checks of bearer tokens and nothing the
verifier raises becomes a 500 (audit finding: crafted cookies were 500s with a logged
traceback, where the same strings as bearer tokens were 401s)."""

from __future__ import annotations

import logging
from typing import Any

import firebase_admin
import pytest
from flask import Flask
from google.auth.credentials import AnonymousCredentials

from app import build_container
from auth import keys as keys_module
from auth import session_cookies, tokens
from auth.identity import Authenticator
from auth.revocation import RevocationChecker
from core.errors import InternalError, InvalidToken
from core.key_fetch import http_fetch
from tests.entry_points import serving
from tests.unit import tokenforge as forge
from tests.unit.test_tokens_production import SETTINGS, FakeDirectory, assert_not_logged, user

SKEW = SETTINGS.clock_skew_seconds

#: Each would reach firebase-admin's decoder and make it raise something other than
#: its invalid-cookie error; as bearer tokens they are all 401s.
CRAFTED: dict[str, str] = {
    # {"alg":"HS256"} . {"v":0,"d":null}: firebase-admin's legacy-token test does
    # ``'uid' in payload.get('d', {})``, a TypeError on null.
    "legacy_shape_with_null_d": "eyJhbGciOiJIUzI1NiJ9.eyJ2IjowLCJkIjpudWxsfQ.AA",
    "legacy_shape_with_numeric_d": forge.encode_segment({"alg": "HS256"})
    + "."
    + forge.encode_segment({"v": 0, "d": 7})
    + ".AA",
    "payload_nested_1100_deep": forge.encode_segment({"alg": "RS256", "kid": "k"})
    + "."
    + forge.b64url(b"[" * 1100)
    + ".AA",
    "header_nested_1100_deep": forge.b64url(b"[" * 1100) + "." + forge.encode_segment({}) + ".AA",
    "payload_a_list": forge.encode_segment({"alg": "RS256"}) + "." + forge.b64url(b"[]") + ".AA",
    "two_segments": "eyJhbGciOiJIUzI1NiJ9.eyJ2IjowfQ",
    "oversized": "a" * 9000 + ".b.c",
    "not_ascii": "é.é.é",
}


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app on the production path (no emulator); no cookie here gets as far as a
    certificate fetch."""
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    app = firebase_admin.initialize_app(
        AnonymousCredentials(),  # type: ignore[no-untyped-call]
        options={"projectId": forge.PROJECT_ID},
        name="session-cookie-unit",
    )
    yield app
    firebase_admin.delete_app(app)


def verify(cookie: str, app: firebase_admin.App) -> dict[str, Any]:
    return session_cookies.verify(cookie, app=app, clock_skew_seconds=SKEW)


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("cookie", CRAFTED.values(), ids=CRAFTED.keys())
def test_crafted_cookie_is_invalid_not_a_500(
    cookie: str, app: firebase_admin.App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidToken) as raised:
        verify(cookie, app)
    assert raised.value.status == 401
    assert raised.value.message == "The session cookie is invalid."
    assert_not_logged(cookie, caplog)
    assert_no_traceback(caplog)


@pytest.mark.parametrize("cookie", CRAFTED.values(), ids=CRAFTED.keys())
def test_the_same_strings_as_bearer_tokens_are_invalid(
    cookie: str, app: firebase_admin.App
) -> None:
    """The reference: what the cookie path must match."""
    with pytest.raises(InvalidToken):
        tokens.verify_id_token(
            cookie,
            app=app,
            clock_skew_seconds=SKEW,
            keys=keys_module.for_app(app, fetch=http_fetch),
        )


@pytest.mark.parametrize(
    "error",
    [TypeError, KeyError, AttributeError, RecursionError, ValueError],
    ids=["type_error", "key_error", "attribute_error", "recursion_error", "value_error"],
)
def test_any_unexpected_verifier_failure_is_invalid_and_logged_without_the_cookie(
    error: type[Exception],
    app: firebase_admin.App,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cookie = forge.mint()  # well formed, so it reaches the verifier

    def failing(token: str, **kwargs: Any) -> Any:
        raise error(f"could not handle {token}")

    monkeypatch.setattr(session_cookies.fb_auth, "verify_session_cookie", failing)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidToken):
        verify(cookie, app)
    assert f"raised {error.__name__}" in caplog.text
    assert_not_logged(cookie, caplog)
    assert_no_traceback(caplog)


def test_misconfiguration_is_still_a_500(app: firebase_admin.App) -> None:
    """Checked before the cookie is looked at, so it is never blamed on the client."""
    with pytest.raises(InternalError):
        session_cookies.verify(CRAFTED["two_segments"], app=app, clock_skew_seconds=61)


# --- over HTTP, through the real functions -----------------------------------


@pytest.fixture
def backend(app: firebase_admin.App) -> Flask:
    """Every function, authenticating on the production path with an in-memory
    directory (no emulator, no Firestore)."""
    directory = FakeDirectory(user())
    revocation = RevocationChecker(directory, max_age_seconds=60, max_entries=100)
    authenticator = Authenticator(
        SETTINGS, app, directory, revocation, keys=keys_module.for_app(app, fetch=http_fetch)
    )
    container = build_container(
        SETTINGS,
        firebase_app=app,
        directory=directory,  # type: ignore[typeddict-item]  # a fake of the same shape
        revocation=revocation,
        authenticator=authenticator,
    )
    return serving("local", container)


@pytest.mark.parametrize(
    "cookie",
    [CRAFTED[name] for name in ("legacy_shape_with_null_d", "payload_nested_1100_deep")],
    ids=["legacy_shape_with_null_d", "payload_nested_1100_deep"],
)
@pytest.mark.parametrize("method", ["GET", "POST"], ids=["read", "write"])
def test_crafted_cookie_over_http_is_401_invalid_token(
    cookie: str, method: str, backend: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = backend.test_client()
    client.set_cookie(session_cookies.SESSION_COOKIE_NAME, cookie)
    path = "/me" if method == "GET" else "/me/revoke-sessions"
    response = client.open(path, method=method, headers={"Origin": "http://localhost"})
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "invalid_token"
    assert_not_logged(cookie, caplog)
    assert_no_traceback(caplog)
