"""Sign out everywhere without the right to change users, on the emulators.

``me`` and ``session`` record the sign-out in Firestore (they may not revoke refresh
tokens: that permission also sets custom claims); every instance refuses the user's
earlier sessions from then on; the ``signouts`` event function then revokes the
refresh tokens in Firebase Auth. Each "instance" here is its own container, with its
own revocation cache, as separate Cloud Functions instances have.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest

from app import Container, build_container
from auth import RevocationChecker
from core.errors import TokenRevoked
from handlers import event_entry_point
from services.sign_outs import KEEP_APPLIED, Outcome
from store.sign_outs import SignOut
from tests.integration.api import Api, error_code
from tests.integration.emulator import AuthEmulator, FirestoreEmulator, MakeUser, token_claims
from tests.integration.sign_outs import created_event, records_of


def instance(*, ahead_seconds: float = 0) -> Container:
    """A fresh function instance: its own revocation cache, the shared backends; its
    revocation clock ``ahead_seconds`` ahead."""
    if not ahead_seconds:
        return build_container()
    base = build_container()
    revocation = RevocationChecker(
        base.directory,
        max_age_seconds=60,
        max_entries=100,
        clock=lambda: time.time() + ahead_seconds,
        sign_outs=lambda: base.sign_outs,
    )
    return build_container(directory=base.directory, revocation=revocation)


def valid_since(auth_emulator: AuthEmulator, uid: str) -> int | None:
    value = auth_emulator.get_user(uid).get("validSince")
    return None if value is None else int(value)


def now() -> datetime:
    return datetime.now(UTC)


def test_records_keep_the_latest_second_and_one_per_second(
    firestore_emulator: FirestoreEmulator,
) -> None:
    records = instance().sign_outs
    assert records.latest("alice") is None
    records.record("alice", 1_800_000_100, now=now())
    records.record("alice", 1_800_000_200, now=now())
    records.record("alice", 1_800_000_200, now=now())  # a concurrent request, same second
    records.record("bob/with:odd.chars", 1_800_000_050, now=now())
    assert records.latest("alice") == 1_800_000_200
    assert records.latest("bob/with:odd.chars") == 1_800_000_050
    assert sorted(records_of(firestore_emulator, "alice")) == ["001800000100", "001800000200"]


def test_a_sign_out_on_one_instance_ends_the_old_sessions_on_every_instance(
    make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    user = make_user()
    before = valid_since(auth_emulator, user.uid)
    # The user's session began this second or earlier; the sign-out is a second later
    # (Firebase times are whole seconds: a session begun in the sign-out's own second
    # survives on other instances, as it would Firebase's validSince).
    asking, other = instance(ahead_seconds=1), instance()
    assert other.authenticator.authenticate_token(user.id_token).uid == user.uid  # cached
    asking.authenticator.sign_out_everywhere(asking.authenticator.authenticate_token(user.id_token))

    with pytest.raises(TokenRevoked):  # the token that asked, on the instance that answered
        asking.authenticator.authenticate_token(user.id_token)
    with pytest.raises(TokenRevoked):  # a privileged request reads the record fresh
        other.authenticator.authenticate_token(user.id_token, privileged=True)
    with pytest.raises(TokenRevoked):  # any instance that has not cached the user
        instance().authenticator.authenticate_token(user.id_token)
    # A token refreshed from the old session after the sign-out (nothing has revoked
    # the refresh token yet): new iat, the old auth_time: refused.
    refreshed = auth_emulator.refresh(user)
    assert token_claims(refreshed.id_token)["auth_time"] == token_claims(user.id_token)["auth_time"]
    with pytest.raises(TokenRevoked):
        instance().authenticator.authenticate_token(refreshed.id_token)
    # me and session never touch the user record: only signouts revokes in Firebase.
    assert valid_since(auth_emulator, user.uid) == before


def test_a_sign_out_recorded_before_the_session_began_does_not_end_it(
    make_user: MakeUser,
) -> None:
    user = make_user()
    began = int(token_claims(user.id_token)["auth_time"])
    records = instance().sign_outs
    records.record(user.uid, began - 5, now=now())
    assert instance().authenticator.authenticate_token(user.id_token, privileged=True)
    records.record(user.uid, began + 1, now=now())
    with pytest.raises(TokenRevoked):
        instance().authenticator.authenticate_token(user.id_token)


def test_applying_a_record_revokes_in_firebase_once(
    make_user: MakeUser, auth_emulator: AuthEmulator, firestore_emulator: FirestoreEmulator
) -> None:
    user = make_user()
    at = int(time.time())
    container = instance()
    path = container.sign_outs.record(user.uid, at, now=now())

    assert container.sign_out_service.apply(path) is Outcome.REVOKED
    revoked = valid_since(auth_emulator, user.uid)
    assert revoked is not None
    assert revoked >= at
    stored = records_of(firestore_emulator, user.uid)[f"{at:012d}"]
    assert stored["uid"] == user.uid
    assert stored["expiresAt"] - stored["appliedAt"] == KEEP_APPLIED  # type: ignore[operator]

    assert container.sign_out_service.apply(path) is Outcome.ALREADY_APPLIED


def test_a_user_revoked_since_the_sign_out_is_not_revoked_again(
    make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    """A redelivered event must not end a session begun after the sign-out."""
    user = make_user()
    at = int(time.time()) - 30
    container = instance()
    path = container.sign_outs.record(user.uid, at, now=now())
    container.directory.revoke_refresh_tokens(user.uid)
    revoked = valid_since(auth_emulator, user.uid)
    assert container.sign_out_service.apply(path) is Outcome.ALREADY_REVOKED
    assert valid_since(auth_emulator, user.uid) == revoked
    assert container.sign_outs.get(path) == SignOut(path=path, uid=user.uid, at=at, applied=True)


def test_a_deleted_user_or_a_missing_record_is_nothing_to_revoke(
    auth_emulator: AuthEmulator,
) -> None:
    at = int(time.time())
    container = instance()
    path = container.sign_outs.record("gone", at, now=now())
    assert container.sign_out_service.apply(path) is Outcome.USER_DELETED
    assert container.sign_outs.get(path) == SignOut(path, "gone", at, applied=True)
    missing = path.rsplit("/", 1)[0] + "/000000000001"
    assert container.sign_out_service.apply(missing) is Outcome.MISSING
    with pytest.raises(
        ValueError, match="signOuts/<sha256>/signOutEvents/<second> in the store's realm"
    ):
        container.sign_out_service.apply("projects/abc")


def test_the_event_function_applies_the_record_it_is_told_about(
    make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    user = make_user()
    at = int(time.time())
    container = instance()
    path = container.sign_outs.record(user.uid, at, now=now())
    event_entry_point("signouts", container)(created_event(f"documents/{path}"))
    assert (valid_since(auth_emulator, user.uid) or 0) >= at
    assert container.sign_outs.get(path) == SignOut(path, user.uid, at, applied=True)


@pytest.mark.parametrize(
    "subject",
    [
        "documents/projects/abc",
        "signOuts/x/signOutEvents/1",
        "",
        "documents/signOuts/../signOutEvents/1",
    ],
    ids=["other_collection", "no_prefix", "empty", "traversal"],
)
def test_the_event_function_drops_events_that_name_no_record(
    subject: str, caplog: pytest.LogCaptureFixture
) -> None:
    container = instance()
    with caplog.at_level(logging.WARNING, logger="handlers.sign_outs"):
        event_entry_point("signouts", container)(created_event(subject))
    assert "expected a sign-out record" in caplog.text
    assert "sign_out_service" not in container.built


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/me/revoke-sessions"), ("DELETE", "/session")],
    ids=["me", "session"],
)
def test_the_api_records_the_sign_out_and_leaves_the_user_record_alone(
    api: Api, make_user: MakeUser, auth_emulator: AuthEmulator, method: str, path: str
) -> None:
    user = make_user()
    before = valid_since(auth_emulator, user.uid)
    headers = {"Authorization": f"Bearer {user.id_token}", "Origin": "http://localhost"}
    response = api.client.open(path, method=method, headers=headers)
    assert response.status_code == 204
    assert instance().sign_outs.latest(user.uid) is not None
    assert valid_since(auth_emulator, user.uid) == before
    again = api.client.get("/me", headers={"Authorization": f"Bearer {user.id_token}"})
    assert (again.status_code, error_code(again)) == (401, "token_revoked")
