"""auth.credential: which credential a request carries (bearer wins, else the session
cookie), one Authorization header, and the Origin check of cookie-authenticated writes."""

from __future__ import annotations

import typing

import pytest
from flask import Flask, Request

from auth import SESSION_COOKIE_NAME, Credential, CredentialKind, credential
from core.errors import ApiError, CsrfRejected, InvalidToken, MissingToken

app = Flask(__name__)
API_HOST = "api.example.com"
ALLOWED = ("https://app.example.com",)
BEARER = CredentialKind.BEARER
COOKIE = CredentialKind.SESSION_COOKIE


def request(
    method: str = "GET",
    *,
    authorization: list[str] | None = None,
    cookie: str | None = None,
    origin: str | None = None,
    other_cookies: str = "token=not-read; session=not-read",
) -> Request:
    headers: list[tuple[str, str]] = [("Authorization", a) for a in authorization or []]
    session_cookie = f"{SESSION_COOKIE_NAME}={cookie}; " if cookie is not None else ""
    headers.append(("Cookie", session_cookie + other_cookies))
    if origin is not None:
        headers.append(("Origin", origin))
    context = app.test_request_context(
        "/x", method=method, headers=headers, base_url=f"https://{API_HOST}"
    )
    return typing.cast(Request, context.request)


CASES: list[tuple[str, Request, bool, Credential | type[ApiError]]] = [
    ("bearer", request(authorization=["Bearer t1"]), False, Credential(BEARER, "t1")),
    (
        "bearer_wins_over_cookie",
        request("POST", authorization=["Bearer t1"], cookie="c1"),
        False,
        Credential(BEARER, "t1"),
    ),
    ("cookie_without_header", request(cookie="c1"), False, Credential(COOKIE, "c1")),
    ("nothing_is_missing_token", request(), False, MissingToken),
    ("other_cookies_are_never_read", request(cookie=None), False, MissingToken),
    (
        "two_authorization_headers_are_refused",
        request(authorization=["Bearer a", "Bearer b"]),
        False,
        InvalidToken,
    ),
    (
        "cookie_write_from_an_allowed_origin",
        request("DELETE", cookie="c1", origin="https://app.example.com"),
        False,
        Credential(COOKIE, "c1"),
    ),
    (
        "cookie_write_from_the_api_itself",
        request("POST", cookie="c1", origin=f"https://{API_HOST}"),
        False,
        Credential(COOKIE, "c1"),
    ),
    (
        "cookie_write_from_another_origin_is_csrf",
        request("PATCH", cookie="c1", origin="https://evil.example"),
        False,
        CsrfRejected,
    ),
    ("cookie_write_without_origin_is_csrf", request("PUT", cookie="c1"), False, CsrfRejected),
    (
        "cookie_read_needs_no_origin",
        request("HEAD", cookie="c1"),
        False,
        Credential(COOKIE, "c1"),
    ),
    ("bearer_only_ignores_the_cookie", request("POST", cookie="c1"), True, MissingToken),
    (
        "bearer_only_takes_the_bearer",
        request("POST", authorization=["bearer t1"], cookie="c1"),
        True,
        Credential(BEARER, "t1"),
    ),
]


@pytest.mark.parametrize(
    ("given", "bearer_only", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_credential_of_a_request(
    given: Request, bearer_only: bool, expected: Credential | type[ApiError]
) -> None:
    if isinstance(expected, Credential):
        assert credential(given, allowed_origins=ALLOWED, bearer_only=bearer_only) == expected
    else:
        with pytest.raises(expected):
            credential(given, allowed_origins=ALLOWED, bearer_only=bearer_only)


def test_the_value_never_shows_in_a_repr() -> None:
    assert "secret-token" not in repr(Credential(BEARER, "secret-token"))
