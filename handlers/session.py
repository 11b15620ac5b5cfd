"""``/session``: browsers sign in with an httpOnly session cookie instead of bearer
tokens (``POST``), and sign out everywhere (``DELETE``)."""

from __future__ import annotations

from flask import Request, Response

from auth import SESSION_COOKIE_NAME, Authenticator, Principal, credential
from core import request_log
from handlers.endpoints import SELF, SIGNED_IN, SIGNED_IN_WITH_BEARER
from handlers.http import Function
from handlers.responses import empty_response

session = Function("session", needs=lambda container: container.authenticator)


@session.endpoint(
    "POST",
    "/session",
    operation_id="create_session",
    summary="Exchange a fresh ID token (a sign-in of the last five minutes) for a session cookie.",
    access=SIGNED_IN_WITH_BEARER,
    policy=SELF,
    status=204,
    errors=(400,),
    cookie=True,
)
def create_session(request: Request, principal: Principal, auth: Authenticator) -> Response:
    token = credential(request, bearer_only=True).value  # verified by the shell already
    cookie = auth.issue_session_cookie(token, principal)
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


@session.endpoint(
    "DELETE",
    "/session",
    operation_id="end_session",
    summary="Sign out everywhere: end the caller's sessions and clear the cookie.",
    access=SIGNED_IN,
    policy=SELF,
    status=204,
    cookie=True,
)
def end_session(request: Request, principal: Principal, auth: Authenticator) -> Response:
    request_log.note_decision("session.delete", f"users/{principal.uid}", allowed=True, rule="self")
    auth.sign_out_everywhere(principal)
    response = empty_response(204)
    response.delete_cookie(
        SESSION_COOKIE_NAME,
        path=auth.session_cookie_path,
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    return response
