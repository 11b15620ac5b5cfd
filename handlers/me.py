"""``/me``: who the caller is, and signing out everywhere."""

from __future__ import annotations

from flask import Request, Response

from auth import Authenticator, Principal
from core import request_log
from handlers.endpoints import SELF, SIGNED_IN
from handlers.http import Function
from handlers.responses import empty_response, json_response
from handlers.wire import MeJson

me = Function("me", needs=lambda container: container.authenticator)


@me.endpoint(
    "GET",
    "/me",
    operation_id="get_me",
    summary="Who the caller is (from the verified ID token).",
    access=SIGNED_IN,
    policy=SELF,
    response=MeJson,
)
def get_me(request: Request, principal: Principal, auth: Authenticator) -> Response:
    request_log.note_decision("me.read", f"users/{principal.uid}", allowed=True, rule="self")
    body: MeJson = {
        "uid": principal.uid,
        "email": principal.email,
        "emailVerified": principal.email_verified,
        "roles": sorted(role.value for role in principal.roles),
        "signInProvider": principal.sign_in_provider,
        "authTime": principal.auth_time,
        "secondFactor": principal.second_factor,
        "tenant": principal.tenant,
    }
    return json_response(body)


@me.endpoint(
    "POST",
    "/me/revoke-sessions",
    operation_id="revoke_sessions",
    summary="Sign the caller out everywhere; this very token is refused from now on.",
    access=SIGNED_IN,
    policy=SELF,
    status=204,
)
def sign_out_everywhere(request: Request, principal: Principal, auth: Authenticator) -> Response:
    request_log.note_decision(
        "sessions.revoke", f"users/{principal.uid}", allowed=True, rule="self"
    )
    auth.sign_out_everywhere(principal)
    return empty_response(204)
