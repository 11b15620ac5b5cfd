"""``/session``: httpOnly cookie sessions for browsers, beside bearer tokens."""

from __future__ import annotations

from flask import Request, Response

from auth import SESSION_COOKIE_NAME, Principal, credential
from core import request_log
from handlers.http import Function, authenticated, route
from handlers.responses import empty_response
from services import context


def create_session(request: Request) -> Response:
    """Exchange a fresh ID token (``Authorization: Bearer``) for a session cookie."""
    bearer = credential(request, bearer_only=True)
    authenticator = context.authenticator()
    principal = authenticator.authenticate_credential(bearer)
    request_log.note_uid(principal.uid)
    cookie = authenticator.issue_session_cookie(bearer.value, principal)
    request_log.note_decision(
        "session.create", f"users/{principal.uid}", allowed=True, rule="recent_sign_in"
    )
    response = empty_response(204)
    response.set_cookie(
        SESSION_COOKIE_NAME,
        cookie.value,
        max_age=cookie.max_age_seconds,
        path=cookie.path,
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    return response


@authenticated()
def end_session(request: Request, principal: Principal) -> Response:
    """Sign out everywhere: revoke the user's sessions and clear the cookie."""
    request_log.note_decision("session.delete", f"users/{principal.uid}", allowed=True, rule="self")
    authenticator = context.authenticator()
    authenticator.sign_out_everywhere(principal.uid)
    response = empty_response(204)
    response.delete_cookie(
        SESSION_COOKIE_NAME,
        path=authenticator.session_cookie_path,
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    return response


session = Function("session", [route("/session", post=create_session, delete=end_session)])
