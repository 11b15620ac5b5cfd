"""The stale-claims signal over HTTP: a principal whose token is older than its user
record gets ``X-Claims-Stale: 1`` on the response (errors included), readable
cross-origin, and the request's log line says so."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, Request, Response

from app import build_container
from auth import Principal
from auth.credentials import Credential
from auth.identity import Admit, Authenticator
from core.errors import PermissionDenied
from core.settings import Settings
from handlers.endpoints import SELF, SIGNED_IN
from handlers.http import CLAIMS_STALE_HEADER, Function
from handlers.responses import json_response
from tests.entry_points import flask_app

ORIGIN = "https://app.example.com"
SETTINGS = Settings(project_id="demo-unit", cors_allowed_origins=(ORIGIN,))


class FixedCaller(Authenticator):
    """Authenticates every credential as one principal (the shell is under test here)."""

    def __init__(self, principal: Principal) -> None:  # no app, directory or keys needed
        self.principal = principal

    def authenticate_credential(
        self, credential: Credential, *, privileged: bool = False, admit: Admit | None = None
    ) -> Principal:
        return self.principal

    def require_step_up(self, principal: Principal, *, operation_id: str, privileged: bool) -> None:
        """No step-up rules here (``tests/unit/test_step_up.py`` covers them)."""


def ok(request: Request, principal: Principal, needed: object) -> Response:
    return json_response({"uid": principal.uid})


def refused(request: Request, principal: Principal, needed: object) -> Response:
    raise PermissionDenied("needs the auditor role")


def app_for(principal: Principal) -> Flask:
    function = Function("things", needs=lambda _: None)
    for path, operation_id, view in (("/things", "ok", ok), ("/things/x", "no", refused)):
        function.endpoint(
            "GET", path, operation_id=operation_id, summary="", access=SIGNED_IN, policy=SELF
        )(view)
    container = build_container(SETTINGS, authenticator=FixedCaller(principal))
    return flask_app(function.bind(container))


HEADERS = {"Authorization": "Bearer a.b.c", "Origin": ORIGIN}


@pytest.mark.parametrize(
    ("path", "status"), [("/things", 200), ("/things/x", 403)], ids=["success", "error"]
)
def test_stale_principal_marks_the_response(
    path: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.http")
    response = (
        app_for(Principal(uid="u1", claims_stale=True)).test_client().get(path, headers=HEADERS)
    )
    assert response.status_code == status
    assert response.headers[CLAIMS_STALE_HEADER] == "1"
    exposed = response.headers["Access-Control-Expose-Headers"].lower()
    assert CLAIMS_STALE_HEADER.lower() in exposed, "a browser may read it"
    (line,) = [r for r in caplog.records if r.name == "handlers.http"]
    assert getattr(line, "claimsStale", None) is True
    assert "claimsStale=True" in line.getMessage()


def test_current_principal_is_not_marked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="handlers.http")
    response = app_for(Principal(uid="u1")).test_client().get("/things", headers=HEADERS)
    assert response.status_code == 200
    assert CLAIMS_STALE_HEADER not in response.headers
    (line,) = [r for r in caplog.records if r.name == "handlers.http"]
    assert not hasattr(line, "claimsStale")
