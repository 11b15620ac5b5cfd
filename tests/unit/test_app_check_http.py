"""App Check in the HTTP shell, with no emulator: off, monitor and enforce over HTTP.

Real tokens and a real verifier (the local JWKS server of ``conftest``); the ledger
of spent tokens is in memory here (the Firestore one is tested on the emulators, in
``tests/integration/test_app_check_replay.py``).
"""

from __future__ import annotations

import logging
import typing
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Request, Response
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import build_container
from auth.app_check import AppCheckToken, AppCheckVerifier
from auth.keys import PublicKeys
from auth.principal import Principal
from core.errors import Unavailable
from core.settings import AppCheckMode, Settings
from handlers import FUNCTIONS
from handlers import http as http_module
from handlers.endpoints import NO_POLICY_PUBLIC, PUBLIC, SELF, SIGNED_IN
from handlers.http import (
    APP_CHECK_HEADER,
    APP_CHECK_SINGLE_USE,
    CORS_REQUEST_HEADERS,
    Function,
)
from handlers.responses import json_response
from services.app_check import AppCheckGate
from tests.entry_points import flask_app
from tests.unit import app_check_forge as forge
from tests.unit import tokenforge
from tests.unit.tokenforge import CertServer
from tools.deploy.iam import APP_CHECK_LEDGER_FUNCTIONS

ORIGIN = "https://app.example.com"
SPEND = "/things/spend"


def ok_view(request: Request, needed: object) -> Response:
    return json_response({"ok": True})


def signed_in_view(request: Request, principal: Principal, needed: object) -> Response:
    return json_response({"uid": principal.uid})


class NotCalled(AppCheckGate):
    """With APP_CHECK=off the shell must not even look at the gate."""

    def __init__(self) -> None:
        super().__init__("off")

    def check(self, values: typing.Sequence[str], *, consume: bool = False) -> None:
        raise AssertionError("APP_CHECK=off must not check anything")


@dataclass
class MemoryLedger:
    """Spent replay ids, in memory; ``down`` makes it fail like an unreachable Firestore."""

    spent: set[str] = field(default_factory=set)
    down: bool = False

    def __call__(self, token: AppCheckToken) -> bool:
        if self.down:
            raise Unavailable()
        if token.replay_id in self.spent:
            return False
        self.spent.add(token.replay_id)
        return True


@dataclass
class Backend:
    client: FlaskClient
    ledger: MemoryLedger

    def get(self, path: str = "/things", *tokens: str) -> TestResponse:
        return self.client.get(path, headers=[(APP_CHECK_HEADER, t) for t in tokens])

    def spend(self, *tokens: str) -> TestResponse:
        return self.client.post(SPEND, headers=[(APP_CHECK_HEADER, t) for t in tokens])


@pytest.fixture
def serve(
    monkeypatch: pytest.MonkeyPatch, app_check_keys: PublicKeys, jwks_server: CertServer
) -> typing.Callable[[AppCheckMode], Backend]:
    """A small function (``/things``, single-use ``POST /things/spend``) in a mode."""

    def make(mode: AppCheckMode) -> Backend:
        settings = Settings(
            project_id=forge.PROJECT_ID,
            cors_allowed_origins=(ORIGIN,),
            app_check=mode,
            project_number=forge.PROJECT_NUMBER,
            app_check_jwks_url=jwks_server.url,
        )
        monkeypatch.setattr(http_module, "APP_CHECK_SINGLE_USE", frozenset({("POST", SPEND)}))
        ledger = MemoryLedger()
        gate: AppCheckGate = NotCalled()
        if mode != "off":
            verifier = AppCheckVerifier(
                project_id=forge.PROJECT_ID,
                project_number=forge.PROJECT_NUMBER,
                keys=app_check_keys,
                clock_skew_seconds=5,
            )
            gate = AppCheckGate(mode, verifier, ledger)
        function = Function("things", needs=lambda _: None)
        for method, path, view, access in [
            ("GET", "/things", ok_view, PUBLIC),
            ("POST", SPEND, ok_view, PUBLIC),
            ("GET", "/things/mine", signed_in_view, SIGNED_IN),
        ]:
            function.endpoint(
                method,
                path,
                operation_id=f"op_{method}_{path}",
                summary="",
                access=access,
                policy=NO_POLICY_PUBLIC if access is PUBLIC else SELF,
            )(view)
        app = flask_app(function.bind(build_container(settings, app_check=gate)))
        return Backend(app.test_client(), ledger)

    return make


def logged(caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    """The App Check fields of the one request line."""
    lines = [r for r in caplog.records if r.name == "handlers.http"]
    assert len(lines) == 1
    return {name: getattr(lines[0], name, None) for name in ("appCheck", "appId", "rule")}


def error_code(response: TestResponse) -> str | None:
    body = response.get_json(silent=True) or {}
    code = (body.get("error") or {}).get("code")
    return code if isinstance(code, str) else None


# --- the mode table ------------------------------------------------------------------

VALID = "valid"
TOKENS: dict[str, typing.Callable[[], list[str]]] = {
    "none": list,
    "empty": lambda: [""],
    "garbage": lambda: ["not-a-token"],
    "valid": lambda: [forge.mint()],
    "forged": lambda: [forge.mint(key=tokenforge.attacker_key())],
    "expired": lambda: [forge.mint(now=1_000_000_000)],
    "alg_none": lambda: [forge.unsigned()],
    "two_headers": lambda: [forge.mint(), forge.mint()],
}


@pytest.mark.parametrize(
    ("mode", "sent", "status", "code", "outcome"),
    [
        ("off", "none", 200, None, None),
        ("off", "garbage", 200, None, None),
        ("off", "forged", 200, None, None),
        ("monitor", "none", 200, None, "missing"),
        ("monitor", "empty", 200, None, "missing"),
        ("monitor", "garbage", 200, None, "invalid"),
        ("monitor", "forged", 200, None, "invalid"),
        ("monitor", "expired", 200, None, "invalid"),
        ("monitor", "valid", 200, None, VALID),
        ("enforce", "none", 401, "app_check_failed", "missing"),
        ("enforce", "empty", 401, "app_check_failed", "missing"),
        ("enforce", "garbage", 401, "app_check_failed", "invalid"),
        ("enforce", "forged", 401, "app_check_failed", "invalid"),
        ("enforce", "expired", 401, "app_check_failed", "invalid"),
        ("enforce", "alg_none", 401, "app_check_failed", "invalid"),
        ("enforce", "two_headers", 401, "app_check_failed", "invalid"),
        ("enforce", "valid", 200, None, VALID),
    ],
    ids=lambda v: str(v),
)
def test_modes(
    serve: typing.Callable[[AppCheckMode], Backend],
    caplog: pytest.LogCaptureFixture,
    mode: AppCheckMode,
    sent: str,
    status: int,
    code: str | None,
    outcome: str | None,
) -> None:
    backend = serve(mode)
    tokens = TOKENS[sent]()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = backend.get("/things", *tokens)
    assert response.status_code == status, response.get_json()
    assert error_code(response) == code
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    line = logged(caplog)
    assert line["appCheck"] == outcome
    assert line["appId"] == (forge.APP_ID if outcome == VALID else None)
    for token in tokens:
        for segment in (s for s in token.split(".") if len(s) > 8):
            assert segment not in caplog.text, "the token is never logged"


def test_app_check_comes_before_authentication(
    serve: typing.Callable[[AppCheckMode], Backend],
) -> None:
    backend = serve("enforce")
    without = backend.get("/things/mine")
    assert (without.status_code, error_code(without)) == (401, "app_check_failed")
    with_app_check = backend.get("/things/mine", forge.mint())
    assert (with_app_check.status_code, error_code(with_app_check)) == (401, "missing_token")


def test_preflight_is_never_checked(
    serve: typing.Callable[[AppCheckMode], Backend], caplog: pytest.LogCaptureFixture
) -> None:
    backend = serve("enforce")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = backend.client.options(
            "/things",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, x-firebase-appcheck",
            },
        )
    assert response.status_code == 204
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "x-firebase-appcheck" in allowed
    assert logged(caplog)["appCheck"] is None


def test_cors_lets_browsers_send_the_header() -> None:
    assert APP_CHECK_HEADER in CORS_REQUEST_HEADERS


# --- replay ------------------------------------------------------------------------


def test_enforce_refuses_a_spent_token_on_single_use_operations(
    serve: typing.Callable[[AppCheckMode], Backend], caplog: pytest.LogCaptureFixture
) -> None:
    backend = serve("enforce")
    token = forge.mint()
    assert backend.spend(token).status_code == 200
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = backend.spend(token)
    assert (again.status_code, error_code(again)) == (401, "app_check_replayed")
    assert logged(caplog) == {
        "appCheck": "replayed",
        "appId": forge.APP_ID,
        "rule": "app_check_replayed",
    }
    assert backend.spend(forge.mint()).status_code == 200, "a new token is accepted"


def test_monitor_logs_a_replay_and_lets_it_through(
    serve: typing.Callable[[AppCheckMode], Backend], caplog: pytest.LogCaptureFixture
) -> None:
    backend = serve("monitor")
    token = forge.mint()
    assert backend.spend(token).status_code == 200
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = backend.spend(token)
    assert again.status_code == 200
    assert logged(caplog)["appCheck"] == "replayed"


def test_other_operations_accept_a_token_many_times_and_spend_nothing(
    serve: typing.Callable[[AppCheckMode], Backend],
) -> None:
    backend = serve("enforce")
    token = forge.mint()
    for _ in range(3):
        assert backend.get("/things", token).status_code == 200
    assert backend.ledger.spent == set()
    assert backend.spend(token).status_code == 200, "not spent by the reads"


def test_invalid_tokens_are_not_spent(serve: typing.Callable[[AppCheckMode], Backend]) -> None:
    backend = serve("monitor")
    assert backend.spend(forge.mint(key=tokenforge.attacker_key())).status_code == 200
    assert backend.ledger.spent == set()


# --- outages: enforce fails closed, monitor goes on ---------------------------------


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [("enforce", 503, "auth_unavailable"), ("monitor", 200, None)],
    ids=["enforce_fails_closed", "monitor_goes_on"],
)
def test_unreachable_key_set(
    serve: typing.Callable[[AppCheckMode], Backend],
    jwks_server: CertServer,
    caplog: pytest.LogCaptureFixture,
    mode: AppCheckMode,
    status: int,
    code: str | None,
) -> None:
    backend = serve(mode)
    jwks_server.fail_with(500)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = backend.get("/things", forge.mint())
    assert (response.status_code, error_code(response)) == (status, code)
    assert logged(caplog)["appCheck"] == "unavailable"


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [("enforce", 503, "unavailable"), ("monitor", 200, None)],
    ids=["enforce_fails_closed", "monitor_goes_on"],
)
def test_unreachable_ledger(
    serve: typing.Callable[[AppCheckMode], Backend],
    mode: AppCheckMode,
    status: int,
    code: str | None,
) -> None:
    backend = serve(mode)
    backend.ledger.down = True
    response = backend.spend(forge.mint())
    assert (response.status_code, error_code(response)) == (status, code)
    if status == 503:
        assert response.headers["Retry-After"]


# --- the real route table ---------------------------------------------------------


def test_single_use_operations_are_served() -> None:
    served = {
        (method, r.pattern): function.name
        for function in FUNCTIONS
        for r in function.routes
        for method in r.endpoints
    }
    assert {
        ("POST", "/session"),
        ("POST", "/me/revoke-sessions"),
        ("PUT", "/admin/users/<uid>/roles"),
    } == APP_CHECK_SINGLE_USE
    assert served.keys() >= APP_CHECK_SINGLE_USE, "a renamed route would lose its protection"
    owners = {served[operation] for operation in APP_CHECK_SINGLE_USE}
    assert owners == set(APP_CHECK_LEDGER_FUNCTIONS), "tools/deploy/iam.py grants the ledger"
