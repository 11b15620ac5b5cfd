"""Step-up for privileged operations and the sign-in provider allowlist, with no emulator.

The decision (``auth.step_up``) as tables; its settings; the RFC 9470 challenge; and the
HTTP shell on the production token path: real RS256 tokens signed by the test key
(``tests.unit.tokenforge``), with and without a second factor, signed in long ago or
just now, up to the exact boundary (the authenticator's clock is frozen).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import firebase_admin
import pytest
from flask import Request, Response
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import build_container
from auth.identity import Authenticator
from auth.principal import Principal
from auth.revocation import RevocationChecker
from auth.step_up import (
    Shortfall,
    StepUpPolicy,
    require_allowed_provider,
    require_step_up,
    shortfall,
)
from core.errors import ProviderNotAllowed, StepUpRequired
from core.operations import OPERATION_IDS
from core.settings import ConfigError, Settings
from handlers import FUNCTIONS
from handlers.endpoints import PRIVILEGED, SELF, SIGNED_IN, Access
from handlers.http import Function
from handlers.responses import error_response, json_response
from tests.entry_points import flask_app
from tests.unit import tokenforge as forge
from tests.unit.conftest import key_store, verified_cache
from tests.unit.test_tokens_production import FakeDirectory, user

NOW = 1_800_000_000.0
UID = forge.DEFAULT_UID

# --- the decision ------------------------------------------------------------------


def principal(*, factor: str | None = None, auth_age: int | None = 0) -> Principal:
    """A caller who signed in ``auth_age`` seconds before ``NOW`` (``None``: no auth_time)."""
    auth_time = None if auth_age is None else int(NOW) - auth_age
    return Principal(uid=UID, second_factor=factor, auth_time=auth_time)


FACTOR = StepUpPolicy(require_second_factor=True)
AGE = StepUpPolicy(max_auth_age_seconds=300)
BOTH = StepUpPolicy(require_second_factor=True, max_auth_age_seconds=300)


@pytest.mark.parametrize(
    ("policy", "caller", "expected"),
    [
        (StepUpPolicy(), principal(auth_age=10**6), Shortfall()),
        (FACTOR, principal(factor="phone"), Shortfall()),
        (FACTOR, principal(factor="totp", auth_age=10**6), Shortfall()),
        (FACTOR, principal(), Shortfall(second_factor=True)),
        (AGE, principal(auth_age=0), Shortfall()),
        (AGE, principal(auth_age=299), Shortfall()),
        (AGE, principal(auth_age=300), Shortfall()),
        (AGE, principal(auth_age=301), Shortfall(too_old=True)),
        (AGE, principal(auth_age=-3), Shortfall()),
        (AGE, principal(auth_age=None), Shortfall(too_old=True)),
        (BOTH, principal(factor="phone", auth_age=300), Shortfall()),
        (BOTH, principal(factor="phone", auth_age=301), Shortfall(too_old=True)),
        (BOTH, principal(auth_age=1), Shortfall(second_factor=True)),
        (BOTH, principal(auth_age=301), Shortfall(second_factor=True, too_old=True)),
    ],
    ids=[
        "no_policy_anything_goes",
        "factor_required_phone_ok",
        "factor_required_age_ignored",
        "factor_required_password_only_falls_short",
        "age_just_signed_in_ok",
        "age_under_limit_ok",
        "age_exactly_at_limit_ok",
        "age_one_second_over_falls_short",
        "age_auth_time_within_skew_ahead_ok",
        "age_without_auth_time_falls_short",
        "both_met_at_limit",
        "both_factor_but_too_old",
        "both_recent_but_no_factor",
        "both_missing",
    ],
)
def test_shortfall(policy: StepUpPolicy, caller: Principal, expected: Shortfall) -> None:
    assert shortfall(caller, policy, NOW) == expected
    assert bool(expected) is (expected != Shortfall())


@pytest.mark.parametrize(
    ("policy", "operation_id", "privileged", "applies"),
    [
        (BOTH, "put_roles", True, True),
        (BOTH, "get_me", False, False),
        (replace(BOTH, operations=frozenset({"delete_project"})), "delete_project", False, True),
        (replace(BOTH, operations=frozenset({"delete_project"})), "patch_project", False, False),
    ],
    ids=["privileged_always", "ordinary_never", "listed_operation", "unlisted_operation"],
)
def test_which_operations_the_rules_bind(
    policy: StepUpPolicy, operation_id: str, privileged: bool, applies: bool
) -> None:
    assert policy.applies_to(operation_id, privileged=privileged) is applies
    weak = principal(auth_age=10**6)
    if applies:
        with pytest.raises(StepUpRequired):
            require_step_up(weak, policy, NOW, operation_id=operation_id, privileged=privileged)
    else:
        require_step_up(weak, policy, NOW, operation_id=operation_id, privileged=privileged)


@pytest.mark.parametrize(
    ("policy", "caller", "max_age", "says"),
    [
        (FACTOR, principal(), None, "second factor"),
        (AGE, principal(auth_age=301), 300, "last 300 seconds"),
        (BOTH, principal(auth_age=301), 300, "second factor"),
        (BOTH, principal(factor="phone", auth_age=301), 300, "last 300 seconds"),
        (BOTH, principal(auth_age=3), None, "second factor"),
    ],
    ids=[
        "factor_only_no_max_age",
        "age_only_max_age",
        "both_short_max_age",
        "too_old_with_factor_max_age",
        "factor_missing_recent_no_max_age",
    ],
)
def test_the_error_says_what_is_missing(
    policy: StepUpPolicy, caller: Principal, max_age: int | None, says: str
) -> None:
    with pytest.raises(StepUpRequired) as raised:
        require_step_up(caller, policy, NOW, operation_id="put_roles", privileged=True)
    assert raised.value.max_age == max_age
    assert says in raised.value.message


@pytest.mark.parametrize(
    ("allowed", "provider", "ok"),
    [
        (None, "anonymous", True),
        (None, None, True),
        (frozenset({"password", "google.com"}), "google.com", True),
        (frozenset({"password"}), "anonymous", False),
        (frozenset({"password"}), None, False),
        (frozenset({"oidc.corp"}), "oidc.other", False),
    ],
    ids=[
        "unset_allows_all",
        "unset_allows_no_provider_claim",
        "listed_provider",
        "unlisted_provider",
        "no_provider_claim_when_restricted",
        "other_oidc_provider",
    ],
)
def test_provider_allowlist(allowed: frozenset[str] | None, provider: str | None, ok: bool) -> None:
    caller = Principal(uid=UID, sign_in_provider=provider)
    if ok:
        require_allowed_provider(caller, allowed)
    else:
        with pytest.raises(ProviderNotAllowed):
            require_allowed_provider(caller, allowed)


# --- the challenge -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "challenge"),
    [
        (
            StepUpRequired("Sign in again with your second factor."),
            'Bearer error="insufficient_user_authentication", '
            'error_description="Sign in again with your second factor."',
        ),
        (
            StepUpRequired("Too old.", max_age=300),
            'Bearer error="insufficient_user_authentication", '
            'error_description="Too old.", max_age="300"',
        ),
        (
            StepUpRequired('Say "hi"\\\r\n'),
            'Bearer error="insufficient_user_authentication", error_description="Say hi"',
        ),
    ],
    ids=["factor", "age_with_max_age", "description_cannot_break_the_quoting"],
)
def test_step_up_challenge(error: StepUpRequired, challenge: str) -> None:
    response = error_response(error)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge
    assert response.get_json()["error"]["code"] == "step_up_required"


def test_provider_not_allowed_is_a_403_without_a_challenge() -> None:
    response = error_response(ProviderNotAllowed())
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers
    assert response.get_json()["error"]["code"] == "provider_not_allowed"


# --- settings ------------------------------------------------------------------------

BASE = {"GOOGLE_CLOUD_PROJECT": "demo-x"}


def test_defaults_demand_nothing() -> None:
    settings = Settings.from_env(BASE)
    assert settings.admin_require_second_factor is False
    assert settings.admin_max_auth_age_seconds is None
    assert settings.step_up_operations == frozenset()
    assert settings.allowed_sign_in_providers is None


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ({"ADMIN_REQUIRE_SECOND_FACTOR": "true"}, "admin_require_second_factor", True),
        ({"ADMIN_MAX_AUTH_AGE_SECONDS": "300"}, "admin_max_auth_age_seconds", 300),
        ({"ADMIN_MAX_AUTH_AGE_SECONDS": ""}, "admin_max_auth_age_seconds", None),
        (
            {"STEP_UP_OPERATIONS": " delete_project, transfer_project ,"},
            "step_up_operations",
            frozenset({"delete_project", "transfer_project"}),
        ),
        (
            {"ALLOWED_SIGN_IN_PROVIDERS": "password, google.com,oidc.corp,saml.corp"},
            "allowed_sign_in_providers",
            frozenset({"password", "google.com", "oidc.corp", "saml.corp"}),
        ),
        ({"ALLOWED_SIGN_IN_PROVIDERS": " , "}, "allowed_sign_in_providers", None),
    ],
    ids=[
        "second_factor_on",
        "max_age",
        "max_age_empty_is_unset",
        "operations_trimmed",
        "providers_built_in_and_configured",
        "providers_empty_is_all",
    ],
)
def test_values(env: dict[str, str], field: str, expected: object) -> None:
    assert getattr(Settings.from_env({**BASE, **env}), field) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ADMIN_REQUIRE_SECOND_FACTOR": "maybe"}, "true or false"),
        ({"ADMIN_MAX_AUTH_AGE_SECONDS": "0"}, "1..31536000"),
        ({"ADMIN_MAX_AUTH_AGE_SECONDS": "5m"}, "integer"),
        ({"STEP_UP_OPERATIONS": "delete_project,delete_projekt"}, "delete_projekt"),
        ({"ALLOWED_SIGN_IN_PROVIDERS": "password,gogle.com"}, "gogle.com"),
        ({"ALLOWED_SIGN_IN_PROVIDERS": "oidc."}, "oidc."),
    ],
    ids=[
        "bad_bool",
        "max_age_zero",
        "max_age_not_int",
        "unknown_operation_refused_at_start",
        "unknown_provider_refused_at_start",
        "configured_provider_without_name",
    ],
)
def test_bad_values_fail_at_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**BASE, **env})


def test_known_operation_ids_are_the_declared_ones() -> None:
    """``STEP_UP_OPERATIONS`` is checked against ``core.operations`` at start-up (before
    any handler is imported); this keeps that list equal to the declared endpoints."""
    declared = {endpoint.operation_id for function in FUNCTIONS for endpoint in function.endpoints}
    assert declared == OPERATION_IDS


def test_privileged_endpoints_are_the_admin_routes() -> None:
    """The step-up rules bind every privileged endpoint: the /admin routes, role changes
    among them."""
    privileged = {
        endpoint.operation_id
        for function in FUNCTIONS
        for endpoint in function.endpoints
        if endpoint.access.privileged
    }
    assert privileged == {"find_user", "get_roles", "put_roles", "list_audit"}


# --- over HTTP, on the production token path ------------------------------------------


def uid_view(request: Request, principal: Principal, needed: object) -> Response:
    return json_response({"uid": principal.uid, "secondFactor": principal.second_factor})


#: (method, path, operation id, access) of the small function served here.
ROUTES: list[tuple[str, str, str, Access]] = [
    ("PUT", "/things/roles", "put_thing_roles", PRIVILEGED),
    ("DELETE", "/things/one", "delete_thing", SIGNED_IN),
    ("GET", "/things/one", "get_thing", SIGNED_IN),
]


@dataclass
class Served:
    client: FlaskClient
    directory: FakeDirectory
    now: float

    def call(self, method: str, path: str, claims: Mapping[str, Any] | None = None) -> TestResponse:
        token = forge.mint(dict(claims or {}), now=self.now)
        return self.client.open(path, method=method, headers={"Authorization": f"Bearer {token}"})


Serve = Callable[..., Served]


@pytest.fixture
def serve(production_app: firebase_admin.App) -> Serve:
    """The small function under ``settings`` (a container with a production-path
    authenticator whose clock is frozen, and an in-memory user directory)."""

    def make(**changes: Any) -> Served:
        settings = replace(Settings(project_id=forge.PROJECT_ID), **changes)
        directory = FakeDirectory(user(roles=["admin"]))
        revocation = RevocationChecker(directory, max_age_seconds=60, max_entries=10)
        now = float(int(time.time()))  # whole seconds, like auth_time: exact boundaries
        authenticator = Authenticator(
            settings,
            production_app,
            directory,
            revocation,
            clock=lambda: now,
            keys=key_store(production_app),
            verified_tokens=verified_cache(production_app),
        )
        function = Function("things", needs=lambda _: None)
        for method, path, operation_id, access in ROUTES:
            function.endpoint(
                method, path, operation_id=operation_id, summary="", access=access, policy=SELF
            )(uid_view)
        container = build_container(settings, authenticator=authenticator)
        return Served(flask_app(function.bind(container)).test_client(), directory, now)

    return make


def firebase(provider: str = "password", factor: str | None = None) -> dict[str, Any]:
    claims: dict[str, Any] = {"identities": {}, "sign_in_provider": provider}
    if factor is not None:
        claims["sign_in_second_factor"] = factor
        claims["second_factor_identifier"] = "enr1"
    return claims


def admin(*, factor: str | None = None, auth_age: int = 0, now: float) -> dict[str, Any]:
    """An admin's claims: signed in ``auth_age`` seconds before ``now``, token issued now."""
    return {
        "roles": ["admin"],
        "auth_time": int(now) - auth_age,
        "firebase": firebase(factor=factor),
    }


@pytest.mark.parametrize(
    ("settings", "factor", "auth_age", "status", "max_age"),
    [
        ({}, None, 10**5, 200, None),
        ({"admin_require_second_factor": True}, "phone", 0, 200, None),
        ({"admin_require_second_factor": True}, None, 0, 401, None),
        ({"admin_max_auth_age_seconds": 300}, None, 300, 200, None),
        ({"admin_max_auth_age_seconds": 300}, None, 301, 401, 300),
        ({"admin_max_auth_age_seconds": 300}, None, 3 * 3600, 401, 300),
        (
            {"admin_require_second_factor": True, "admin_max_auth_age_seconds": 300},
            "phone",
            299,
            200,
            None,
        ),
        (
            {"admin_require_second_factor": True, "admin_max_auth_age_seconds": 300},
            "phone",
            301,
            401,
            300,
        ),
    ],
    ids=[
        "off_by_default",
        "factor_present",
        "factor_absent",
        "age_at_boundary",
        "age_one_over_boundary",
        "age_old_sign_in_fresh_token",
        "both_met",
        "factor_but_too_old",
    ],
)
def test_privileged_endpoint(
    serve: Serve,
    settings: dict[str, Any],
    factor: str | None,
    auth_age: int,
    status: int,
    max_age: int | None,
) -> None:
    served = serve(**settings)
    response = served.call(
        "PUT", "/things/roles", admin(factor=factor, auth_age=auth_age, now=served.now)
    )
    assert response.status_code == status, response.get_json()
    if status == 200:
        assert response.get_json()["secondFactor"] == factor
        return
    assert response.get_json()["error"]["code"] == "step_up_required"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(
        'Bearer error="insufficient_user_authentication", error_description="'
    )
    assert ("max_age=" in challenge) is (max_age is not None)
    if max_age is not None:
        assert challenge.endswith(f'max_age="{max_age}"')


def test_listed_operations_step_up_and_others_do_not(serve: Serve) -> None:
    served = serve(admin_require_second_factor=True, step_up_operations=frozenset({"delete_thing"}))
    password_only = admin(now=served.now)
    assert served.call("GET", "/things/one", password_only).status_code == 200
    refused = served.call("DELETE", "/things/one", password_only)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "step_up_required"
    with_factor = admin(factor="totp", now=served.now)
    assert served.call("DELETE", "/things/one", with_factor).status_code == 200


def test_an_invalid_token_is_not_asked_to_step_up(serve: Serve) -> None:
    """Authentication comes first: a forged token is ``invalid_token``, never a step-up."""
    served = serve(admin_require_second_factor=True)
    claims = admin(now=served.now)
    token = forge.mint(claims, key=forge.attacker_key(), now=served.now)
    response = served.client.put("/things/roles", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("provider", "status"),
    [("password", 200), ("google.com", 200), ("anonymous", 403), ("oidc.other", 403)],
    ids=["password_listed", "google_listed", "anonymous_refused", "other_oidc_refused"],
)
def test_provider_allowlist_over_http(serve: Serve, provider: str, status: int) -> None:
    served = serve(allowed_sign_in_providers=frozenset({"password", "google.com"}))
    response = served.call("GET", "/things/one", {"firebase": firebase(provider)})
    assert response.status_code == status, response.get_json()
    if status == 403:
        assert response.get_json()["error"]["code"] == "provider_not_allowed"
        # Refused right after verification: no user record was read for it.
        assert served.directory.calls == 0
