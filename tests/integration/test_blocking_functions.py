"""The ``identity`` function called by the real Auth emulator on sign-up and sign-in.

The emulator's project config has a ``blockingFunctions`` section: with a trigger
registered, every email sign-up POSTs ``{"data": {"jwt": ...}}`` to the trigger's URL
(``beforeCreate``, then ``beforeSignIn``), and every password sign-in ``beforeSignIn``,
and applies the answer (``customClaims``) or refuses the operation when the function
answers an error. The function runs here on a real local HTTP server, built from the
settings with ``handlers.identity.build``; its URL is its ``IDENTITY_FUNCTION_URLS``.

The emulator's tokens are unsigned (``alg: none``), so the function runs in emulator
mode here; the signature, ``kid`` and expiry checks are tested on the production path
in ``tests/unit/test_identity_function.py``.

The registration is project-wide and survives the per-test wipe, so the fixture
removes it afterwards: other tests sign users up through the same emulator.
"""

from __future__ import annotations

import io
import json
import os
import threading
import typing
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import functions_framework
import pytest
import requests
from flask import Flask, Request
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer, make_server

if typing.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from auth import blocking_key_store
from core.key_fetch import http_fetch
from core.settings import Settings
from handlers.identity import IdentityHandler, build
from tests.integration.emulator import (
    OWNER_HEADERS,
    AuthEmulator,
    EmulatorError,
    bearer,
    token_claims,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "blocking-password-1"
ALLOWED_DOMAIN = "allowed.example"
DEFAULT_CLAIMS = '{"roles": ["auditor"], "plan": "free"}'


@dataclass(frozen=True)
class IdentityServer:
    url: str
    handler: IdentityHandler
    #: Every event the function answered, as (event type, HTTP status).
    calls: list[tuple[str, int]]


@pytest.fixture
def identity_server(auth_emulator: AuthEmulator) -> Iterator[IdentityServer]:
    """The identity function on 127.0.0.1 (an OS-chosen port), registered with the Auth
    emulator for beforeCreate and beforeSignIn; unregistered afterwards."""
    app = Flask("identity-under-test")
    server: BaseWSGIServer = make_server("127.0.0.1", 0, _keeping_body(app), threaded=True)
    url = f"http://127.0.0.1:{server.port}/identity"
    settings = Settings.from_env(
        {
            **os.environ,
            "IDENTITY_FUNCTION_URLS": url,
            "SIGNUP_ALLOWED_EMAIL_DOMAINS": ALLOWED_DOMAIN,
            "SIGNUP_DEFAULT_CLAIMS": DEFAULT_CLAIMS,
        }
    )
    assert settings.auth_emulator_host, "expected the Auth emulator (scripts/test starts it)"
    handler = build(
        settings,
        keys=blocking_key_store(timeout=settings.auth_timeout_seconds, fetch=http_fetch),
    )
    calls: list[tuple[str, int]] = []

    def serve(path: str = "") -> Any:
        from flask import request

        response = handler(typing.cast(Request, request))
        calls.append((_event_of(request.environ[_BODY]), response.status_code))
        return response

    app.add_url_rule("/", "root", serve, methods=["POST"])
    app.add_url_rule("/<path:path>", "any", serve, methods=["POST"])

    thread = threading.Thread(target=server.serve_forever, name="identity", daemon=True)
    thread.start()
    _set_triggers(auth_emulator, {"beforeCreate": url, "beforeSignIn": url})
    try:
        yield IdentityServer(url=url, handler=handler, calls=calls)
    finally:
        _set_triggers(auth_emulator, {})
        server.shutdown()
        thread.join(timeout=5)


def _set_triggers(auth_emulator: AuthEmulator, triggers: dict[str, str]) -> None:
    """PATCH the project config's blockingFunctions (admin call, ``Bearer owner``)."""
    config_url = (
        f"{auth_emulator.base_url}/identitytoolkit.googleapis.com/v2/projects/"
        f"{auth_emulator.project_id}/config"
    )
    body = {
        "blockingFunctions": {
            "triggers": {event: {"functionUri": uri} for event, uri in triggers.items()}
        }
    }
    response = requests.patch(
        config_url,
        params={"updateMask": "blockingFunctions"},
        json=body,
        headers=OWNER_HEADERS,
        timeout=10,
    )
    assert response.ok, response.text
    current = requests.get(config_url, headers=OWNER_HEADERS, timeout=10).json()
    registered = current.get("blockingFunctions", {}).get("triggers", {})
    assert {event: t["functionUri"] for event, t in registered.items()} == triggers


_BODY = "test.request_body"


def _keeping_body(app: WSGIApplication) -> WSGIApplication:
    """Keep a copy of each request body (for the test's record), then serve as usual."""

    def middleware(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        environ[_BODY] = body
        return app(environ, start_response)

    return middleware


def _event_of(body: bytes) -> str:
    """The event type of a request (read without verifying: for the test's record only)."""
    try:
        return str(token_claims(json.loads(body)["data"]["jwt"])["event_type"])
    except (KeyError, TypeError, ValueError):
        return "malformed"


def _email(domain: str) -> str:
    return f"user-{uuid.uuid4().hex[:10]}@{domain}"


def _accounts_with_email(auth_emulator: AuthEmulator, email: str) -> list[dict[str, Any]]:
    response = requests.post(
        f"{auth_emulator.base_url}/identitytoolkit.googleapis.com/v1/projects/"
        f"{auth_emulator.project_id}/accounts:lookup",
        json={"email": [email]},
        headers=OWNER_HEADERS,
        timeout=10,
    )
    assert response.ok, response.text
    users: list[dict[str, Any]] = response.json().get("users", [])
    return users


def _create_as_admin(auth_emulator: AuthEmulator, email: str) -> None:
    """An account made with admin credentials, which Identity Platform does not block
    (like an account that existed before the policy)."""
    response = requests.post(
        f"{auth_emulator.base_url}/identitytoolkit.googleapis.com/v1/projects/"
        f"{auth_emulator.project_id}/accounts",
        json={"email": email, "password": PASSWORD},
        headers=OWNER_HEADERS,
        timeout=10,
    )
    assert response.ok, response.text


def test_an_allowed_domain_signs_up_and_the_first_token_carries_the_default_claims(
    auth_emulator: AuthEmulator, identity_server: IdentityServer, client: FlaskClient
) -> None:
    email = _email(ALLOWED_DOMAIN)
    user = auth_emulator.sign_up(email, PASSWORD)

    assert identity_server.calls == [("beforeCreate", 200), ("beforeSignIn", 200)]
    claims = token_claims(user.id_token)
    assert claims["roles"] == ["auditor"]
    assert claims["plan"] == "free"
    stored = auth_emulator.get_user(user.uid)
    assert stored["customAttributes"] == '{"roles":["auditor"],"plan":"free"}'
    # The backend honours the stamped role at once: it is in the token and assigned.
    me = client.get("/me", headers=bearer(user))
    assert me.status_code == 200, me.get_json()
    assert me.get_json()["roles"] == ["auditor"]


def test_a_refused_domain_cannot_sign_up_and_no_account_is_made(
    auth_emulator: AuthEmulator, identity_server: IdentityServer
) -> None:
    email = _email("evil-" + ALLOWED_DOMAIN)
    with pytest.raises(EmulatorError) as refused:
        auth_emulator.sign_up(email, PASSWORD)

    assert refused.value.status == 400
    assert "BLOCKING_FUNCTION_ERROR_RESPONSE" in refused.value.body
    assert "email_domain_not_allowed" in refused.value.body
    assert identity_server.calls == [("beforeCreate", 403)]
    assert _accounts_with_email(auth_emulator, email) == []


def test_an_account_from_before_the_policy_cannot_sign_in(
    auth_emulator: AuthEmulator, identity_server: IdentityServer
) -> None:
    email = _email("elsewhere.example")
    _create_as_admin(auth_emulator, email)
    assert identity_server.calls == [], "admin-made accounts are not blocked"

    with pytest.raises(EmulatorError) as refused:
        auth_emulator.sign_in(email, PASSWORD)

    assert refused.value.status == 400
    assert "email_domain_not_allowed" in refused.value.body
    assert identity_server.calls == [("beforeSignIn", 403)]


def test_an_allowed_user_signs_in_again_and_keeps_the_claims(
    auth_emulator: AuthEmulator, identity_server: IdentityServer
) -> None:
    email = _email(ALLOWED_DOMAIN.upper())
    auth_emulator.sign_up(email, PASSWORD)
    again = auth_emulator.sign_in(email, PASSWORD)

    assert identity_server.calls == [
        ("beforeCreate", 200),
        ("beforeSignIn", 200),
        ("beforeSignIn", 200),
    ]
    assert token_claims(again.id_token)["roles"] == ["auditor"]


def test_the_function_refuses_a_token_for_another_url(
    auth_emulator: AuthEmulator, identity_server: IdentityServer
) -> None:
    """Registered under a URL the function does not know as its own, the emulator's
    tokens name that URL in aud: every sign-up is refused (fail closed)."""
    other = identity_server.url + "-elsewhere"
    # The same server (it serves any path), another aud.
    _set_triggers(auth_emulator, {"beforeCreate": other})
    with pytest.raises(EmulatorError) as refused:
        auth_emulator.sign_up(_email(ALLOWED_DOMAIN), PASSWORD)
    assert refused.value.status == 400
    assert "invalid_token" in refused.value.body
    assert identity_server.calls == [("beforeCreate", 401)]


def test_the_deployed_entry_point_answers_in_the_callable_protocol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """main.py's ``identity`` target, as functions-framework serves it (main.py reads
    the environment at import: the function refuses to start without its URL)."""
    monkeypatch.setenv("IDENTITY_FUNCTION_URLS", "http://localhost/identity")
    app = functions_framework.create_app(  # type: ignore[no-untyped-call]  # untyped upstream
        target="identity", source=str(REPO_ROOT / "main.py")
    )
    response = app.test_client().post("/", json={"data": {}})
    assert response.status_code == 400
    assert response.get_json()["error"]["status"] == "INVALID_ARGUMENT"
    assert response.get_json()["error"]["details"] == {"code": "validation_error"}
    assert "X-Request-Id" in response.headers
