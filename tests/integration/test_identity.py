"""Identity on the emulators: /me, token failures, revocation, disabled users."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from tests.integration.api import Api, error_code
from tests.integration.emulator import AuthEmulator, MakeUser, token_claims


def reforge(id_token: str, **changes: Any) -> str:
    """An emulator-style (unsigned) token with some claims changed or removed (None)."""
    header, _, _ = id_token.split(".")
    claims = {**token_claims(id_token), **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}."


def me(api: Api, token: str | None, scheme: str = "Bearer") -> Any:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return api.client.get("/me", headers=headers)


def test_me_returns_the_principal(api: Api, make_user: MakeUser) -> None:
    user = make_user(roles=["auditor"])
    response = me(api, user.id_token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["uid"] == user.uid
    assert body["email"] == user.email
    assert body["emailVerified"] is True
    assert body["roles"] == ["auditor"]
    assert body["signInProvider"] == "password"
    assert body["secondFactor"] is None
    assert isinstance(body["authTime"], int)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_bearer_scheme_is_case_insensitive(api: Api, make_user: MakeUser, scheme: str) -> None:
    assert me(api, make_user().id_token, scheme).status_code == 200


def test_missing_token_is_401_without_error_param(api: Api) -> None:
    response = me(api, None)
    assert (response.status_code, error_code(response)) == (401, "missing_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_roles_in_a_token_are_ignored(api: Api, make_user: MakeUser) -> None:
    user = make_user(roles=["superuser", "admin "])
    assert me(api, user.id_token).get_json()["roles"] == []


NOW = int(time.time())


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"exp": NOW - 3600, "iat": NOW - 7200, "auth_time": NOW - 7200}, "token_expired"),
        ({"aud": "demo-another-project"}, "invalid_token"),
        ({"iss": "https://securetoken.google.com/demo-another-project"}, "invalid_token"),
        ({"iat": NOW + 3600}, "invalid_token"),
        ({"sub": ""}, "invalid_token"),
        ({"sub": "x" * 129}, "invalid_token"),
        ({"exp": None}, "invalid_token"),
        (
            {
                "aud": "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"
            },
            "invalid_token",
        ),
    ],
    ids=[
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "issued_in_the_future",
        "empty_subject",
        "long_subject",
        "no_expiry",
        "custom_token_audience",
    ],
)
def test_bad_tokens_are_401(
    api: Api, make_user: MakeUser, changes: dict[str, Any], code: str
) -> None:
    token = reforge(make_user().id_token, **changes)
    response = me(api, token)
    assert (response.status_code, error_code(response)) == (401, code)
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert token not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.!!!.", "x" * 9000],
    ids=["no_dots", "garbage_segments", "bad_base64_payload", "oversized"],
)
def test_garbled_tokens_are_invalid(api: Api, token: str) -> None:
    response = me(api, token)
    assert (response.status_code, error_code(response)) == (401, "invalid_token")


def test_revoke_sessions_rejects_the_current_token_at_once(
    api: Api, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    user = make_user()
    assert me(api, user.id_token).status_code == 200  # now cached as valid
    response = api.client.post(
        "/me/revoke-sessions", headers={"Authorization": f"Bearer {user.id_token}"}
    )
    assert response.status_code == 204
    again = me(api, user.id_token)
    assert (again.status_code, error_code(again)) == (401, "token_revoked")
    # Firebase also refuses the refresh token now; the Auth emulator does not
    # implement that, so it is not asserted here.


def test_disabled_user_is_refused(
    api: Api, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    user = make_user()
    auth_emulator.disable(user.uid)
    response = me(api, user.id_token)
    assert (response.status_code, error_code(response)) == (401, "user_disabled")


def test_disabling_a_privileged_user_applies_at_once(
    api: Api, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    admin = make_user(roles=["admin"])
    assert me(api, admin.id_token).status_code == 200  # cached
    auth_emulator.disable(admin.uid)
    response = me(api, admin.id_token)  # a role-bearing token is always checked fresh
    assert (response.status_code, error_code(response)) == (401, "user_disabled")


def test_deleted_user_token_is_revoked(
    api: Api, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    user = make_user()
    auth_emulator.wipe()
    response = me(api, user.id_token)
    assert (response.status_code, error_code(response)) == (401, "token_revoked")
