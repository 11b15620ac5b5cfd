"""``/session``: httpOnly cookie sessions for browsers, beside bearer tokens."""

from __future__ import annotations

from datetime import timedelta

from flask import Request, Response

from auth import session_cookies
from auth.bearer import bearer_token
from auth.firebase_app import get_app
from auth.principal import Principal
from core import request_log
from handlers.http import Function, authenticated, route, single_authorization
from handlers.responses import empty_response
from services import context


def create_session(request: Request) -> Response:
    """Exchange a fresh ID token (``Authorization: Bearer``) for a session cookie."""
    token = bearer_token(single_authorization(request))
    authenticator = context.authenticator()
    principal = authenticator.authenticate_token(token)
    request_log.note_uid(principal.uid)
    settings = context.settings()
    lifetime = timedelta(days=settings.session_cookie_days)
    cookie = session_cookies.create(
        token, auth_time=principal.auth_time, app=get_app(), lifetime=lifetime
    )
    request_log.note_decision(
        "session.create", f"users/{principal.uid}", allowed=True, rule="recent_sign_in"
    )
    response = empty_response(204)
    response.set_cookie(
        session_cookies.COOKIE_NAME,
        cookie,
        max_age=int(lifetime.total_seconds()),
        path=settings.session_cookie_path,
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    return response


@authenticated()
def end_session(request: Request, principal: Principal) -> Response:
    """Sign out everywhere: revoke the user's sessions and clear the cookie."""
    request_log.note_decision("session.delete", f"users/{principal.uid}", allowed=True, rule="self")
    context.authenticator().sign_out_everywhere(principal.uid)
    response = empty_response(204)
    response.delete_cookie(
        session_cookies.COOKIE_NAME,
        path=context.settings().session_cookie_path,
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    return response


session = Function("session", [route("/session", post=create_session, delete=end_session)])
