"""Step-up and sign-in providers on the Auth emulator, with real sign-ins.

A real second factor: MFA is enabled on the emulator's project, an SMS factor is
enrolled, and the admin signs in with password and then the code the emulator "sent";
the token carries ``firebase.sign_in_second_factor`` and the role change goes through,
while the same admin's password-only token is asked to step up. Then every sign-in
kind the emulator offers becomes the same ``Principal`` shape, and
``ALLOWED_SIGN_IN_PROVIDERS`` admits or refuses each.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app import build_container
from core.settings import Settings
from tests.entry_points import serving
from tests.integration.api import Api, error_code
from tests.integration.conftest import PASSWORD
from tests.integration.emulator import AuthEmulator, EmulatorUser, MakeUser, token_claims


def backend(**changes: Any) -> Api:
    """A fresh instance of the whole backend, on the emulators, with settings changed."""
    settings = dataclasses.replace(Settings.from_env(), **changes)
    return Api(serving("local", build_container(settings)).test_client())


@pytest.fixture
def mfa(auth_emulator: AuthEmulator) -> Iterator[None]:
    """Multi-factor sign-in enabled on the emulator's project for one test."""
    auth_emulator.set_mfa(True)
    try:
        yield
    finally:
        auth_emulator.set_mfa(False)


def stored_roles(auth_emulator: AuthEmulator, uid: str) -> Any:
    return json.loads(auth_emulator.get_user(uid).get("customAttributes") or "{}").get("roles")


@pytest.mark.usefixtures("mfa")
def test_role_change_needs_a_second_factor_sign_in(
    auth_emulator: AuthEmulator, make_user: MakeUser
) -> None:
    api = backend(admin_require_second_factor=True)
    admin = make_user(roles=["admin"])
    target = make_user()
    path = f"/admin/users/{target.uid}/roles"

    refused = api.call("PUT", path, admin, {"roles": ["auditor"]})
    assert refused.status_code == 401, refused.get_json()
    assert error_code(refused) == "step_up_required"
    assert refused.headers["WWW-Authenticate"].startswith(
        'Bearer error="insufficient_user_authentication", error_description="'
    )
    assert "max_age" not in refused.headers["WWW-Authenticate"]
    assert stored_roles(auth_emulator, target.uid) is None  # nothing changed

    auth_emulator.enrol_phone_factor(admin.uid, "+15555550111")
    stepped_up = auth_emulator.sign_in_with_second_factor(admin.email, PASSWORD)
    firebase = token_claims(stepped_up.id_token)["firebase"]
    assert firebase["sign_in_second_factor"] == "phone"
    assert token_claims(stepped_up.id_token)["roles"] == ["admin"]

    # The password-only token is still refused; the stepped-up one changes the role.
    assert api.call("PUT", path, admin, {"roles": ["auditor"]}).status_code == 401
    allowed = api.call("PUT", path, stepped_up, {"roles": ["auditor"]})
    assert allowed.status_code == 200, allowed.get_json()
    assert allowed.get_json()["roles"] == ["auditor"]
    assert stored_roles(auth_emulator, target.uid) == ["auditor"]
    me = api.call("GET", "/me", stepped_up).get_json()
    assert me["secondFactor"] == "phone"


def test_listed_operation_steps_up_and_recent_sign_in_passes(make_user: MakeUser) -> None:
    """``STEP_UP_OPERATIONS`` binds an ordinary endpoint; a sign-in of just now meets an
    age limit (the emulator's ``auth_time`` is the sign-in)."""
    owner = make_user()
    recent = backend(
        admin_max_auth_age_seconds=300, step_up_operations=frozenset({"delete_project"})
    )
    project = recent.create_project(owner)
    assert recent.call("DELETE", f"/projects/{project['id']}", owner).status_code == 204

    strict = backend(
        admin_require_second_factor=True, step_up_operations=frozenset({"delete_project"})
    )
    project = strict.create_project(owner)  # create is not listed
    refused = strict.call("DELETE", f"/projects/{project['id']}", owner)
    assert (refused.status_code, error_code(refused)) == (401, "step_up_required")
    assert strict.project_as(owner, project["id"]).status_code == 200  # still there


# --- sign-in providers -----------------------------------------------------------------


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def _idp(provider: str) -> Callable[[AuthEmulator], EmulatorUser]:
    return lambda emulator: emulator.sign_in_with_idp(
        provider,
        subject=f"{provider}-{uuid.uuid4().hex[:8]}",
        email=_email(),
        email_verified=True,
    )


#: provider id -> how to sign in with it on the emulator.
SIGN_INS: dict[str, Callable[[AuthEmulator], EmulatorUser]] = {
    "password": lambda emulator: emulator.sign_up(_email(), PASSWORD),
    "phone": lambda emulator: emulator.sign_in_with_phone("+15555550100"),
    "anonymous": lambda emulator: emulator.sign_up_anonymously(),
    "google.com": _idp("google.com"),
    "apple.com": _idp("apple.com"),
    "microsoft.com": _idp("microsoft.com"),
    "oidc.corp": _idp("oidc.corp"),
    "saml.corp": _idp("saml.corp"),
}
ALLOWED = frozenset({"password", "google.com", "oidc.corp"})
ME_KEYS = {
    "uid",
    "email",
    "emailVerified",
    "roles",
    "signInProvider",
    "authTime",
    "secondFactor",
    "tenant",
}


@pytest.mark.parametrize("provider", list(SIGN_INS), ids=list(SIGN_INS))
def test_every_provider_is_the_same_principal_and_is_allowed_or_refused(
    auth_emulator: AuthEmulator, provider: str
) -> None:
    user = SIGN_INS[provider](auth_emulator)
    assert token_claims(user.id_token)["firebase"]["sign_in_provider"] == provider

    everyone = backend()
    me = everyone.call("GET", "/me", user)
    assert me.status_code == 200, me.get_json()
    body = me.get_json()
    assert set(body) == ME_KEYS
    assert body["uid"] == user.uid
    assert body["signInProvider"] == provider
    assert isinstance(body["authTime"], int)
    assert (body["roles"], body["secondFactor"], body["tenant"]) == ([], None, None)
    assert body["email"] == (user.email or None)

    restricted = backend(allowed_sign_in_providers=ALLOWED)
    answer = restricted.call("GET", "/me", user)
    if provider in ALLOWED:
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json() == body
    else:
        assert (answer.status_code, error_code(answer)) == (403, "provider_not_allowed")
