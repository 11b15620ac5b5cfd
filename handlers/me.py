"""``/me``: who the caller is, and signing out everywhere."""

from __future__ import annotations

from flask import Request, Response

from auth import Principal
from core import request_log
from handlers.http import Function, authenticated, route
from handlers.responses import empty_response, json_response
from services import context


@authenticated()
def get_me(request: Request, principal: Principal) -> Response:
    request_log.note_decision("me.read", f"users/{principal.uid}", allowed=True, rule="self")
    return json_response(
        {
            "uid": principal.uid,
            "email": principal.email,
            "emailVerified": principal.email_verified,
            "roles": sorted(role.value for role in principal.roles),
            "signInProvider": principal.sign_in_provider,
            "authTime": principal.auth_time,
            "secondFactor": principal.second_factor,
            "tenant": principal.tenant,
        }
    )


@authenticated()
def revoke_sessions(request: Request, principal: Principal) -> Response:
    """Sign the caller out everywhere; this very token is refused from now on."""
    request_log.note_decision(
        "sessions.revoke", f"users/{principal.uid}", allowed=True, rule="self"
    )
    context.authenticator().sign_out_everywhere(principal.uid)
    return empty_response(204)


me = Function(
    "me",
    [
        route("/me", get=get_me),
        route("/me/revoke-sessions", post=revoke_sessions),
    ],
)
