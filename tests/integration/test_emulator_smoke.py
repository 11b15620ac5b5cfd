"""The emulator tier's own plumbing works, independently of the backend's code."""

from __future__ import annotations

from datetime import UTC, datetime

import firebase_admin
import pytest
from firebase_admin import auth
from google.cloud import firestore

from tests.integration.emulator import (
    AuthEmulator,
    EmulatorError,
    FirestoreEmulator,
    MakeUser,
    token_claims,
)


def test_auth_sign_up_refresh_claims_and_wipe(auth_emulator: AuthEmulator) -> None:
    user = auth_emulator.sign_up("smoke@example.com", "smoke-password")
    assert token_claims(user.id_token)["user_id"] == user.uid

    auth_emulator.set_custom_claims(user.uid, {"roles": ["admin"]})
    auth_emulator.set_email_verified(user.uid, True)
    assert "roles" not in token_claims(user.id_token), "claims reach only new tokens"

    refreshed = auth_emulator.refresh(user)
    claims = token_claims(refreshed.id_token)
    assert claims["roles"] == ["admin"]
    assert claims["email_verified"] is True

    auth_emulator.disable(user.uid)
    assert auth_emulator.get_user(user.uid)["disabled"] is True

    auth_emulator.wipe()
    with pytest.raises(EmulatorError) as excinfo:
        auth_emulator.sign_in("smoke@example.com", "smoke-password")
    assert excinfo.value.status == 400


def test_make_user_tokens_carry_roles_and_verification(make_user: MakeUser) -> None:
    admin, plain, unverified = make_user(roles=["admin"]), make_user(), make_user(verified=False)
    assert token_claims(admin.id_token)["roles"] == ["admin"]
    assert token_claims(plain.id_token)["email_verified"] is True
    assert "roles" not in token_claims(plain.id_token)
    assert token_claims(unverified.id_token)["email_verified"] is False
    assert len({admin.email, plain.email, unverified.email}) == 3


def test_firestore_rest_round_trip_and_wipe(firestore_emulator: FirestoreEmulator) -> None:
    created = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    data = {"name": "p", "members": ["a", "b"], "count": 3, "meta": {"ok": True}, "at": created}
    firestore_emulator.set_document("smoke/doc1", data)

    assert firestore_emulator.get_document("smoke/doc1") == data
    assert firestore_emulator.list_documents("smoke") == {"doc1": data}

    firestore_emulator.wipe()
    assert firestore_emulator.get_document("smoke/doc1") is None


def test_firestore_rules_apply_to_user_tokens(
    firestore_emulator: FirestoreEmulator, make_user: MakeUser
) -> None:
    firestore_emulator.set_document("smoke/doc1", {"name": "p"})
    with pytest.raises(EmulatorError) as excinfo:
        firestore_emulator.request("GET", "smoke/doc1", token=make_user().id_token)
    assert excinfo.value.status == 403


def test_python_sdks_reach_the_emulators(
    project_id: str, firestore_emulator: FirestoreEmulator, make_user: MakeUser
) -> None:
    """The SDKs the backend uses find the emulators through the environment alone."""
    firestore.Client(project=project_id).document("smoke/sdk").set({"via": "sdk"})
    assert firestore_emulator.get_document("smoke/sdk") == {"via": "sdk"}

    user = make_user(roles=["editor"])
    app = firebase_admin.initialize_app(options={"projectId": project_id}, name="smoke")
    try:
        decoded = auth.verify_id_token(user.id_token, app=app)
    finally:
        firebase_admin.delete_app(app)
    assert decoded["uid"] == user.uid
    assert decoded["roles"] == ["editor"]
