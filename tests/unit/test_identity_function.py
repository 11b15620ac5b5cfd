"""The ``identity`` function over HTTP, on the production path, with no emulator.

Blocking tokens are signed RS256 by the test key (``blocking_forge``) and its
certificate is served by the local ``cert_server`` in place of Google's, so the
signature, ``kid``, ``alg`` and times are really checked: the Auth emulator sends
unsigned tokens and could not test them. Every answer is asserted on its HTTP status,
the callable protocol's ``status`` and our stable ``details.code``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, Request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import build_container
from auth import signup_policy
from auth.blocking import KEYS_URL
from auth.keys import PublicKeys
from core.key_fetch import http_fetch
from core.settings import MAX_BODY_BYTES, ConfigError, Settings
from handlers import identity as identity_module
from handlers.identity import IdentityHandler, build
from handlers.responses import SECURITY_HEADERS
from tests.entry_points import serving
from tests.unit import blocking_forge as forge
from tests.unit import tokenforge
from tests.unit.blocking_forge import REMOVE
from tests.unit.tokenforge import CertServer

SETTINGS = Settings(project_id=forge.PROJECT_ID, identity_function_urls=(forge.FUNCTION_URL,))
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

MakeClient = Callable[..., FlaskClient]


@pytest.fixture
def keys(cert_server: CertServer) -> Iterator[PublicKeys]:
    """A fresh (empty) store of the test key's certificate, as Google's would be."""
    cert_server.reset()
    yield PublicKeys(cert_server.url, timeout=5, fetch=http_fetch)
    cert_server.reset()


@pytest.fixture
def make_client(keys: PublicKeys) -> MakeClient:
    """A client of the identity function built from settings (``handlers.identity.build``)."""

    def make(settings: Settings = SETTINGS, *, key_store: PublicKeys | None = None) -> FlaskClient:
        handler = build(settings, keys=key_store or keys)
        app = Flask("identity-test")
        app.add_url_rule(
            "/<path:path>",
            "run",
            lambda path: handler(typing.cast(Request, _request())),
            methods=ALL_METHODS,
        )
        app.add_url_rule(
            "/", "root", lambda: handler(typing.cast(Request, _request())), methods=ALL_METHODS
        )
        return app.test_client()

    return make


@pytest.fixture
def client(make_client: MakeClient) -> FlaskClient:
    return make_client()


def _request() -> Request:
    from flask import request

    return typing.cast(Request, request)


def post(client: FlaskClient, token: str) -> TestResponse:
    return client.post("/", json={"data": {"jwt": token}})


def error_of(response: TestResponse) -> tuple[int, str, str]:
    """(HTTP status, canonical status, our code) of a callable-protocol error."""
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"status", "message", "details"}, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return response.status_code, error["status"], error["details"]["code"]


# --- allowed events ---------------------------------------------------------------------


@pytest.mark.parametrize("event", ["beforeCreate", "beforeSignIn"])
def test_a_valid_event_without_policy_is_allowed_and_changes_nothing(
    client: FlaskClient, event: str
) -> None:
    response = post(client, forge.mint(event_type=event))
    assert response.status_code == 200
    assert response.get_json() == {}
    assert response.mimetype == "application/json"


def test_before_create_stamps_the_default_claims(make_client: MakeClient) -> None:
    settings = Settings(
        project_id=forge.PROJECT_ID,
        identity_function_urls=(forge.FUNCTION_URL,),
        signup_default_claims={"roles": ["auditor"], "tier": "free"},
    )
    response = post(make_client(settings), forge.mint(event_type="beforeCreate"))
    assert response.status_code == 200
    assert response.get_json() == {
        "userRecord": {
            "customClaims": {"roles": ["auditor"], "tier": "free"},
            "updateMask": "customClaims",
        }
    }


def test_before_sign_in_does_not_stamp_claims(make_client: MakeClient) -> None:
    settings = Settings(
        project_id=forge.PROJECT_ID,
        identity_function_urls=(forge.FUNCTION_URL,),
        signup_default_claims={"tier": "free"},
    )
    response = post(make_client(settings), forge.mint(event_type="beforeSignIn"))
    assert (response.status_code, response.get_json()) == (200, {})


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("ann@example.com", (200, None, None)),
        ("ann@EXAMPLE.com", (200, None, None)),
        ("mallory@evil-example.com", (403, "PERMISSION_DENIED", "email_domain_not_allowed")),
        ("mallory@sub.example.com", (403, "PERMISSION_DENIED", "email_domain_not_allowed")),
        (None, (403, "PERMISSION_DENIED", "email_required")),
    ],
    ids=[
        "allowed_domain",
        "allowed_domain_any_case",
        "lookalike_domain_refused",
        "unlisted_subdomain_refused",
        "no_email_refused",
    ],
)
@pytest.mark.parametrize("event", ["beforeCreate", "beforeSignIn"])
def test_domain_allowlist_over_http(
    make_client: MakeClient,
    email: str | None,
    expected: tuple[int, str | None, str | None],
    event: str,
) -> None:
    settings = Settings(
        project_id=forge.PROJECT_ID,
        identity_function_urls=(forge.FUNCTION_URL,),
        signup_allowed_email_domains=("example.com",),
        signup_default_claims={"tier": "free"},
    )
    response = post(make_client(settings), forge.mint(event_type=event, email=email))
    if expected[0] == 200:
        assert response.status_code == 200
        stamped = {"userRecord": {"customClaims": {"tier": "free"}, "updateMask": "customClaims"}}
        assert response.get_json() == (stamped if event == "beforeCreate" else {})
    else:
        assert error_of(response) == expected


# --- tokens that must be refused -----------------------------------------------------------

NOW = time.time()
ANOTHER_FUNCTION = f"https://europe-west1-{forge.PROJECT_ID}.cloudfunctions.net/other"


def _hs256_with_certificate() -> str:
    header = {"alg": "HS256", "kid": tokenforge.DEFAULT_KID, "typ": "JWT"}
    payload = forge.claims()
    secret = tokenforge.signing_key().certificate_pem.encode()
    mac = hmac.new(secret, tokenforge.signing_input(header, payload), hashlib.sha256).digest()
    return tokenforge.assemble(header, payload, mac)


INVALID_TOKENS: dict[str, Callable[[], str]] = {
    "forged_signature": lambda: forge.mint(key=tokenforge.attacker_key()),
    "tampered_email_under_a_valid_signature": lambda: tokenforge.with_payload(
        forge.mint(email="mallory@evil.io"),
        {"user_record": {**forge.claims()["user_record"], "email": "ann@example.com"}},
    ),
    "truncated_signature": lambda: tokenforge.with_truncated_signature(forge.mint(), 20),
    "alg_none": lambda: forge.unsigned(),
    "alg_none_label_on_a_signed_token": lambda: forge.mint(header={"alg": "none"}),
    "hs256_keyed_with_the_certificate": _hs256_with_certificate,
    "no_kid": lambda: forge.mint(header={"kid": REMOVE}),
    "unknown_kid": lambda: forge.mint(header={"kid": "not-a-google-key"}),
    "wrong_audience_another_function": lambda: forge.mint({"aud": ANOTHER_FUNCTION}),
    "wrong_audience_run_app_substring": lambda: forge.mint(
        {"aud": "https://identity-abc123-ew.a.run.app"}
    ),
    "wrong_audience_trailing_slash": lambda: forge.mint({"aud": forge.FUNCTION_URL + "/"}),
    "audience_list": lambda: forge.mint({"aud": [forge.FUNCTION_URL]}),
    "audience_is_the_project_id_token": lambda: tokenforge.mint(),
    "missing_audience": lambda: forge.mint({"aud": REMOVE}),
    "wrong_issuer": lambda: forge.mint({"iss": "https://securetoken.google.com/other-project"}),
    "session_cookie_issuer": lambda: forge.mint({"iss": tokenforge.SESSION_COOKIE_ISSUER}),
    "wrong_event_type_send_email": lambda: forge.mint({"event_type": "beforeSendEmail"}),
    "wrong_event_type_long_form": lambda: forge.mint(
        {"event_type": "providers/cloud.auth/eventTypes/user.beforeCreate"}
    ),
    "missing_event_type": lambda: forge.mint({"event_type": REMOVE}),
    "missing_sub": lambda: forge.mint({"sub": REMOVE}),
    "empty_sub": lambda: forge.mint({"sub": ""}),
    "sub_over_128": lambda: forge.mint({"sub": "u" * 129}),
    "sub_is_not_the_records_uid": lambda: forge.mint({"sub": "someone-else"}),
    "missing_user_record": lambda: forge.mint({"user_record": REMOVE}),
    "user_record_not_an_object": lambda: forge.mint({"user_record": "x"}),
    "email_not_a_string": lambda: forge.mint(record={"email": ["ann@example.com"]}),
    "issued_in_the_future": lambda: forge.mint(now=NOW + 3600),
    "missing_iat": lambda: forge.mint({"iat": REMOVE}),
    "exp_as_text": lambda: forge.mint({"exp": str(int(NOW) + 600)}),
    "exp_as_boolean": lambda: forge.mint({"exp": True}),
    "not_a_jwt": lambda: "not-a-jwt",
    "two_segments": lambda: ".".join(forge.mint().split(".")[:2]),
    "payload_not_an_object": lambda: (
        tokenforge.encode_segment({"alg": "RS256", "kid": tokenforge.DEFAULT_KID})
        + f".{tokenforge.b64url(b'[1,2]')}.{tokenforge.b64url(b'x')}"
    ),
    "header_not_json": lambda: "e30x." + forge.mint().split(".", 1)[1],
    "deeply_nested_payload": lambda: (
        tokenforge.encode_segment({"alg": "RS256", "kid": tokenforge.DEFAULT_KID})
        + "."
        + tokenforge.b64url(b'{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}")
        + ".c2ln"
    )[: MAX_BODY_BYTES - 100],
    "non_ascii": lambda: forge.mint() + "é",
    "lone_surrogate": lambda: forge.mint()[:-1] + "\ud800",
}


@pytest.mark.parametrize("make_token", list(INVALID_TOKENS.values()), ids=list(INVALID_TOKENS))
def test_invalid_tokens_are_refused_unauthenticated(
    client: FlaskClient, make_token: Callable[[], str]
) -> None:
    response = post(client, make_token())
    assert error_of(response) == (401, "UNAUTHENTICATED", "invalid_token")


def test_an_expired_token_is_refused(client: FlaskClient) -> None:
    response = post(client, forge.mint(now=NOW - forge.LIFETIME_SECONDS - 60))
    assert error_of(response) == (401, "UNAUTHENTICATED", "token_expired")


def test_a_token_within_the_clock_skew_is_accepted(client: FlaskClient) -> None:
    """exp passed 2 s ago, iat 2 s ahead: inside TOKEN_CLOCK_SKEW_SECONDS (5)."""
    assert post(client, forge.mint({"exp": int(time.time()) - 2})).status_code == 200
    assert post(client, forge.mint({"iat": int(time.time()) + 2})).status_code == 200


def test_a_second_registered_url_is_accepted(make_client: MakeClient) -> None:
    """The run.app URL may be listed beside the cloudfunctions.net one, exactly."""
    run_app = "https://identity-abc123-ew.a.run.app"
    settings = Settings(
        project_id=forge.PROJECT_ID, identity_function_urls=(forge.FUNCTION_URL, run_app)
    )
    assert post(make_client(settings), forge.mint({"aud": run_app})).status_code == 200


def test_claims_are_checked_before_any_key_is_fetched(
    client: FlaskClient, cert_server: CertServer
) -> None:
    """A token that cannot be valid costs no fetch of Google's keys."""
    for name in ("wrong_audience_another_function", "wrong_issuer", "wrong_event_type_send_email"):
        assert post(client, INVALID_TOKENS[name]()).status_code == 401
    assert cert_server.request_count == 0
    assert post(client, forge.mint()).status_code == 200
    assert cert_server.request_count == 1


def test_building_the_function_fetches_nothing(cert_server: CertServer) -> None:
    build(SETTINGS, keys=PublicKeys(cert_server.url, timeout=5, fetch=http_fetch))
    assert cert_server.request_count == 0


def test_google_keys_unreachable_is_unavailable_not_unauthenticated(
    make_client: MakeClient, unreachable_cert_url: str
) -> None:
    client = make_client(key_store=PublicKeys(unreachable_cert_url, timeout=1, fetch=http_fetch))
    response = post(client, forge.mint())
    assert error_of(response) == (503, "UNAVAILABLE", "auth_unavailable")
    assert response.headers["Retry-After"].isdigit()


def test_the_emulators_unsigned_tokens_pass_only_in_emulator_mode(
    make_client: MakeClient,
) -> None:
    token = forge.unsigned()
    assert error_of(post(make_client(), token))[2] == "invalid_token"
    emulated = Settings(
        project_id=forge.PROJECT_ID,
        identity_function_urls=(forge.FUNCTION_URL,),
        auth_emulator_host="127.0.0.1:9099",
        signup_allowed_email_domains=("example.com",),
    )
    client = make_client(emulated)
    assert post(client, token).status_code == 200
    # Every other check still applies to the emulator's tokens.
    assert error_of(post(client, forge.unsigned({"aud": ANOTHER_FUNCTION})))[0] == 401
    refused = post(client, forge.unsigned(email="m@evil.io"))
    assert error_of(refused)[2] == "email_domain_not_allowed"


def test_the_production_key_url_is_googles() -> None:
    """firebase-admin-node's CLIENT_CERT_URL; firebase-functions-python's ID_TOKEN_CERT_URI."""
    assert KEYS_URL == (
        "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
    )


# --- malformed requests -------------------------------------------------------------------

JWT = forge.mint()


def _send(**kwargs: Any) -> Callable[[FlaskClient], TestResponse]:
    method = kwargs.pop("method", "POST")
    return lambda client: client.open("/", method=method, **kwargs)


MALFORMED: dict[str, tuple[Callable[[FlaskClient], TestResponse], str]] = {
    "get": (_send(method="GET"), "method_not_allowed"),
    "put": (_send(method="PUT", json={"data": {"jwt": JWT}}), "method_not_allowed"),
    "no_body": (_send(), "unsupported_media_type"),
    "text_plain": (
        _send(data=json.dumps({"data": {"jwt": JWT}}), content_type="text/plain"),
        "unsupported_media_type",
    ),
    "form": (_send(data={"data": "x"}), "unsupported_media_type"),
    "empty_json_body": (_send(data=b"", content_type="application/json"), "invalid_json"),
    "invalid_json": (_send(data=b"{", content_type="application/json"), "invalid_json"),
    "not_utf8": (_send(data=b'{"data":"\xff"}', content_type="application/json"), "invalid_json"),
    "deeply_nested": (
        _send(data=b"[" * 20_000 + b"]" * 20_000, content_type="application/json"),
        "invalid_json",
    ),
    "json_array": (_send(json=[{"data": {"jwt": JWT}}]), "validation_error"),
    "json_string": (_send(json=JWT), "validation_error"),
    "missing_data": (_send(json={"jwt": JWT}), "validation_error"),
    "data_not_an_object": (_send(json={"data": JWT}), "validation_error"),
    "extra_top_level_field": (
        _send(json={"data": {"jwt": JWT}, "extra": 1}),
        "validation_error",
    ),
    "missing_jwt": (_send(json={"data": {}}), "validation_error"),
    "jwt_not_a_string": (_send(json={"data": {"jwt": 42}}), "validation_error"),
    "jwt_null": (_send(json={"data": {"jwt": None}}), "validation_error"),
    "empty_jwt": (_send(json={"data": {"jwt": ""}}), "validation_error"),
    "too_large": (
        _send(json={"data": {"jwt": "x" * (MAX_BODY_BYTES + 1)}}),
        "payload_too_large",
    ),
}


@pytest.mark.parametrize(("send", "code"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_requests_are_invalid_argument(
    client: FlaskClient, send: Callable[[FlaskClient], TestResponse], code: str
) -> None:
    response = send(client)
    assert error_of(response) == (400, "INVALID_ARGUMENT", code)


def test_charset_parameter_is_accepted(client: FlaskClient) -> None:
    response = client.post(
        "/",
        data=json.dumps({"data": {"jwt": forge.mint()}}),
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 200


def test_every_answer_carries_the_standard_headers(client: FlaskClient) -> None:
    for response in (post(client, forge.mint()), post(client, "x"), client.get("/")):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert len(response.headers["X-Request-Id"]) == 32


def test_an_unexpected_failure_is_a_generic_internal_error(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(identity_module, "decide_signup", broken)
    response = post(client, forge.mint())
    status, canonical, code = error_of(response)
    assert (status, canonical, code) == (500, "INTERNAL", "internal")
    assert "secret detail" not in response.get_data(as_text=True)
    assert response.headers["X-Request-Id"] in response.get_json()["error"]["message"]


def test_one_log_line_per_event_without_token_or_email(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = forge.mint(email="mallory@evil-example.com")
    with caplog.at_level(logging.INFO, logger="handlers.identity"):
        post(client, token)
    lines = [r for r in caplog.records if r.name == "handlers.identity"]
    assert len(lines) == 1
    line = lines[0]
    assert line.uid == forge.UID  # type: ignore[attr-defined]
    assert line.action == "identity.beforeCreate"  # type: ignore[attr-defined]
    assert line.decision == "allow"  # type: ignore[attr-defined]
    assert line.rule == "any_domain"  # type: ignore[attr-defined]
    text = line.getMessage() + repr(line.__dict__)
    assert token not in text
    assert token.split(".")[2] not in text
    assert "mallory" not in text


def test_the_local_router_serves_identity() -> None:
    """``--target local`` routes /identity to the function (the Auth emulator calls it)."""
    seen: list[str] = []

    class Fake(IdentityHandler):
        def __init__(self) -> None:
            pass

        def __call__(self, request: Request) -> Any:
            seen.append(request.path)
            from handlers.responses import json_response

            return json_response({})

    container = build_container(Settings(project_id="demo-unit"), identity=Fake())
    client = serving("local", container).test_client()
    assert client.post("/identity", json={}).status_code == 200
    assert seen == ["/identity"]


# --- the function's settings -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/identity",
        "https:///identity",
        "https://x.cloudfunctions.net/identity?x=1",
        "https://x.cloudfunctions.net/identity#f",
        "https://x.cloudfunctions.net/ide ntity",
        "europe-west1-p.cloudfunctions.net/identity",
    ],
    ids=["other_scheme", "no_host", "query", "fragment", "space", "no_scheme"],
)
def test_identity_function_urls_must_be_plain_urls(url: str) -> None:
    with pytest.raises(ConfigError, match="IDENTITY_FUNCTION_URLS"):
        Settings.from_env({"FIREBASE_PROJECT_ID": "demo-x", "IDENTITY_FUNCTION_URLS": url})


def test_the_identity_function_needs_its_urls() -> None:
    env = {"FIREBASE_PROJECT_ID": "my-project", "FUNCTION_TARGET": "identity", "K_SERVICE": "x"}
    with pytest.raises(ConfigError, match="IDENTITY_FUNCTION_URLS: required"):
        Settings.from_env(env)
    url = "https://europe-west1-my-project.cloudfunctions.net/identity"
    settings = Settings.from_env({**env, "IDENTITY_FUNCTION_URLS": f" {url} , "})
    assert settings.identity_function_urls == (url,)
    # Other functions do not need them.
    assert Settings.from_env({**env, "FUNCTION_TARGET": "me"}).identity_function_urls == ()


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({"FIREBASE_PROJECT_ID": "demo-x"}, False),
        ({"FIREBASE_PROJECT_ID": "my-project"}, True),
        ({"FIREBASE_PROJECT_ID": "demo-x", "K_SERVICE": "identity"}, True),
    ],
    ids=["local_demo_project", "real_project", "deployed"],
)
def test_plain_http_urls_only_locally_with_a_demo_project(
    env: dict[str, str], refused: bool
) -> None:
    env = {**env, "IDENTITY_FUNCTION_URLS": "http://127.0.0.1:8000/identity"}
    if refused:
        with pytest.raises(ConfigError, match="expected https"):
            Settings.from_env(env)
    else:
        assert Settings.from_env(env).identity_function_urls == ("http://127.0.0.1:8000/identity",)


def test_the_policy_module_names_the_events_the_verifier_accepts() -> None:
    assert signup_policy.EVENTS == ("beforeCreate", "beforeSignIn")
