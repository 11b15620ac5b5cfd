"""Every kind of mobile sign-in on the emulators: phone, anonymous (guest), federated.

The write gate (``auth.declaration.check_write_gate``) over HTTP, with real tokens the
Auth emulator issues for each sign-in method, and ``firestore.rules``' ``isVerified()``
against the same callers (a client app writing to Firestore directly must meet the
same gate). The rule, pinned as a table over claims: ``tests/unit/test_write_gate.py``.

Decided and documented here: a federated sign-in whose provider did not assert the email
(``email_verified: false``, or no email at all) is refused with ``403 email_not_verified``
(what is missing is an email someone vouched for), like a password user's unverified email.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import build_container
from auth import policy
from auth.policy import Action
from auth.principal import Principal, principal_from_claims
from core.errors import AnonymousNotAllowed, EmailNotVerified, PermissionDenied
from core.settings import Settings
from handlers import entry_point
from services import project_changes as changes
from store.models import Project
from store.projects import to_document
from tests.entry_points import flask_app
from tests.integration.api import Api, error_code
from tests.integration.emulator import AuthEmulator, EmulatorUser, FirestoreEmulator, token_claims
from tests.integration.test_rules_parity import (
    ALLOWED,
    DENIED,
    SEEDED_AT,
    _new_id,
    _path,
    new_project,
    read,
    write_create,
    write_delete,
    write_update,
)

PHONE_NUMBER = "+15555550100"

# --- sign-ins -------------------------------------------------------------------------

SignIn = Callable[[AuthEmulator], EmulatorUser]


def _idp(provider: str, *, email: bool = True, verified: bool) -> SignIn:
    def sign_in(auth: AuthEmulator) -> EmulatorUser:
        subject = f"{provider}-{_new_id()}"
        address = f"{subject}@example.com" if email else None
        return auth.sign_in_with_idp(
            provider, subject=subject, email=address, email_verified=verified
        )

    return sign_in


def _password(*, verified: bool) -> SignIn:
    def sign_in(auth: AuthEmulator) -> EmulatorUser:
        email = f"pw-{_new_id()}@example.com"
        auth.sign_up(email, "identity-kinds-password-1")
        if verified:
            uid = auth.sign_in(email, "identity-kinds-password-1").uid
            auth.set_email_verified(uid, True)
        return auth.sign_in(email, "identity-kinds-password-1")

    return sign_in


def _guest_with_verified_email(auth: AuthEmulator) -> EmulatorUser:
    """A guest session whose token says ``email_verified: true``: the guest clause of
    the gate, on its own."""
    guest = auth.sign_up_anonymously()
    auth.set_email(guest.uid, f"guest-{_new_id()}@example.com", verified=True)
    refreshed = auth.refresh(guest)
    claims = token_claims(refreshed.id_token)
    assert (claims["firebase"]["sign_in_provider"], claims["email_verified"]) == ("anonymous", True)
    return refreshed


@dataclasses.dataclass(frozen=True)
class Kind:
    id: str
    sign_in: SignIn
    provider: str
    #: ``None`` when the caller may write, else the error code of the refusal.
    refusal: str | None


WRITES = None
KINDS = [
    Kind("phone_writes", lambda auth: auth.sign_in_with_phone(PHONE_NUMBER), "phone", WRITES),
    Kind("google_asserted_email_writes", _idp("google.com", verified=True), "google.com", WRITES),
    Kind("apple_asserted_email_writes", _idp("apple.com", verified=True), "apple.com", WRITES),
    Kind(
        "microsoft_asserted_email_writes",
        _idp("microsoft.com", verified=True),
        "microsoft.com",
        WRITES,
    ),
    Kind("saml_asserted_email_writes", _idp("saml.corp", verified=True), "saml.corp", WRITES),
    Kind(
        "oidc_unasserted_email_is_email_not_verified",
        _idp("oidc.corp", verified=False),
        "oidc.corp",
        EmailNotVerified.code,
    ),
    Kind(
        "oidc_without_email_is_email_not_verified",
        _idp("oidc.corp", email=False, verified=False),
        "oidc.corp",
        EmailNotVerified.code,
    ),
    Kind("password_verified_writes", _password(verified=True), "password", WRITES),
    Kind(
        "password_unverified_is_email_not_verified",
        _password(verified=False),
        "password",
        EmailNotVerified.code,
    ),
    Kind(
        "anonymous_is_anonymous_not_allowed",
        lambda auth: auth.sign_up_anonymously(),
        "anonymous",
        AnonymousNotAllowed.code,
    ),
    Kind(
        "anonymous_with_verified_email_is_still_anonymous_not_allowed",
        lambda auth: _guest_with_verified_email(auth),
        "anonymous",
        AnonymousNotAllowed.code,
    ),
]


def principal_of(user: EmulatorUser) -> Principal:
    return principal_from_claims(token_claims(user.id_token))


# --- over HTTP ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.id)
def test_create_project_by_sign_in_kind(
    kind: Kind, api: Api, auth_emulator: AuthEmulator, firestore_emulator: FirestoreEmulator
) -> None:
    user = kind.sign_in(auth_emulator)
    me = api.call("GET", "/me", user)
    assert me.status_code == 200, me.get_json()
    assert me.get_json()["signInProvider"] == kind.provider

    response = api.call("POST", "/projects", user, {"name": "Mobile", "description": ""})
    stored = firestore_emulator.list_documents("projects")
    if kind.refusal is WRITES:
        assert response.status_code == 201, response.get_json()
        assert stored[response.get_json()["id"]]["ownerId"] == user.uid
    else:
        assert (response.status_code, error_code(response)) == (403, kind.refusal)
        assert stored == {}


def test_phone_user_me_has_no_email(api: Api, auth_emulator: AuthEmulator) -> None:
    user = auth_emulator.sign_in_with_phone(PHONE_NUMBER)
    body = api.call("GET", "/me", user).get_json()
    assert (body["uid"], body["email"], body["emailVerified"]) == (user.uid, None, False)
    assert principal_of(user).phone_number == PHONE_NUMBER


@pytest.fixture
def owner(auth_emulator: AuthEmulator) -> EmulatorUser:
    return _password(verified=True)(auth_emulator)


@pytest.fixture
def guest(auth_emulator: AuthEmulator) -> EmulatorUser:
    return auth_emulator.sign_up_anonymously()


class TestGuest:
    """An anonymous user reads what is shared with it and changes nothing."""

    def test_me(self, api: Api, guest: EmulatorUser) -> None:
        response = api.call("GET", "/me", guest)
        assert response.status_code == 200
        body = response.get_json()
        assert (body["uid"], body["email"], body["signInProvider"]) == (
            guest.uid,
            None,
            "anonymous",
        )

    def test_reads_a_project_shared_with_it(
        self, api: Api, owner: EmulatorUser, guest: EmulatorUser
    ) -> None:
        project = api.create_project(owner)
        api.share(owner, project["id"], guest.uid, "viewer")
        response = api.project_as(guest, project["id"])
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["name"] == project["name"]
        listed = api.call("GET", "/projects", guest).get_json()["items"]
        assert [item["id"] for item in listed] == [project["id"]]

    def test_cannot_create(
        self, api: Api, guest: EmulatorUser, firestore_emulator: FirestoreEmulator
    ) -> None:
        response = api.call("POST", "/projects", guest, {"name": "Mine", "description": ""})
        assert (response.status_code, error_code(response)) == (403, "anonymous_not_allowed")
        assert firestore_emulator.list_documents("projects") == {}

    def test_editor_cannot_patch_a_shared_project(
        self,
        api: Api,
        owner: EmulatorUser,
        guest: EmulatorUser,
        firestore_emulator: FirestoreEmulator,
    ) -> None:
        project = api.create_project(owner)
        api.share(owner, project["id"], guest.uid, "editor")
        before = firestore_emulator.get_document(f"projects/{project['id']}")
        response = api.call(
            "PATCH", f"/projects/{project['id']}", guest, {"name": "Guest was here"}
        )
        assert (response.status_code, error_code(response)) == (403, "anonymous_not_allowed")
        assert firestore_emulator.get_document(f"projects/{project['id']}") == before

    def test_cannot_add_tasks_to_a_shared_project(
        self, api: Api, owner: EmulatorUser, guest: EmulatorUser
    ) -> None:
        project = api.create_project(owner)
        api.share(owner, project["id"], guest.uid, "editor")
        response = api.call("POST", f"/projects/{project['id']}/tasks", guest, {"title": "t"})
        assert (response.status_code, error_code(response)) == (403, "anonymous_not_allowed")
        listed = api.call("GET", f"/projects/{project['id']}/tasks", owner).get_json()
        assert listed["items"] == []

    def test_may_leave_a_project_it_was_added_to(
        self, api: Api, owner: EmulatorUser, guest: EmulatorUser
    ) -> None:
        project = api.create_project(owner)
        api.share(owner, project["id"], guest.uid, "viewer")
        response = api.call("DELETE", f"/projects/{project['id']}/members/{guest.uid}", guest)
        assert response.status_code == 200, response.get_json()
        assert api.project_as(guest, project["id"]).status_code == 404

    def test_writes_when_anonymous_writes_are_allowed(self, guest: EmulatorUser) -> None:
        settings = dataclasses.replace(Settings.from_env(), allow_anonymous_writes=True)
        client: FlaskClient = flask_app(
            entry_point("local", build_container(settings))
        ).test_client()
        response = Api(client).call(
            "POST", "/projects", guest, {"name": "Guest", "description": ""}
        )
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["ownerId"] == guest.uid


# --- the same gate in firestore.rules --------------------------------------------------


def _owned_by(uid: str, *, viewers: tuple[str, ...] = (), editors: tuple[str, ...] = ()) -> Project:
    return Project(
        id=_new_id(),
        name="Kinds",
        description="Seeded by test_identity_kinds.",
        owner_id=uid,
        editors=editors,
        viewers=viewers,
        created_at=SEEDED_AT,
        updated_at=SEEDED_AT,
        version=1,
    )


def _seed(fs: FirestoreEmulator, project: Project) -> Project:
    fs.set_document(_path(project.id), to_document(project))
    return project


def _python(decide: Callable[[], Any]) -> str:
    try:
        decide()
    except PermissionDenied:
        return DENIED
    return ALLOWED


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.id)
def test_rules_gate_writes_like_the_backend(
    kind: Kind, auth_emulator: AuthEmulator, firestore_emulator: FirestoreEmulator
) -> None:
    """Create, update and delete of the caller's own project: only the gate can refuse."""
    fs = firestore_emulator
    user = kind.sign_in(auth_emulator)
    principal = principal_of(user)
    expected = ALLOWED if kind.refusal is WRITES else DENIED

    created = new_project(user.uid)
    python = _python(lambda: policy.authorize_create(principal, require_verified_email=True))
    assert (python, write_create(fs, user.id_token, created).outcome) == (expected, expected)
    assert (fs.get_document(_path(created.id)) is not None) is (expected == ALLOWED)

    project = _seed(fs, _owned_by(user.uid))
    seeded = fs.get_document(_path(project.id))

    def authorize(action: Action) -> None:
        policy.authorize(principal, action, project.access, require_verified_email=True)

    renamed = changes.edited(project, now=_now(), name="Renamed")
    updated = write_update(fs, user.id_token, renamed).outcome
    assert (_python(lambda: authorize(Action.UPDATE)), updated) == (expected, expected)
    deleted = write_delete(fs, user.id_token, project.id).outcome
    assert (_python(lambda: authorize(Action.DELETE)), deleted) == (expected, expected)
    if expected == DENIED:
        assert fs.get_document(_path(project.id)) == seeded


class TestGuestRules:
    """A guest talking to Firestore directly: reads what is shared, writes nothing."""

    def test_reads_a_project_shared_with_it(
        self, auth_emulator: AuthEmulator, firestore_emulator: FirestoreEmulator
    ) -> None:
        guest = auth_emulator.sign_up_anonymously()
        project = _seed(firestore_emulator, _owned_by("u-owner", viewers=(guest.uid,)))
        assert policy.authorize(
            principal_of(guest), Action.READ, project.access, require_verified_email=True
        ).allowed
        assert read(firestore_emulator, guest.id_token, _path(project.id)).outcome == ALLOWED

    def test_editor_cannot_update(
        self, auth_emulator: AuthEmulator, firestore_emulator: FirestoreEmulator
    ) -> None:
        guest = auth_emulator.sign_up_anonymously()
        project = _seed(firestore_emulator, _owned_by("u-owner", editors=(guest.uid,)))
        seeded = firestore_emulator.get_document(_path(project.id))
        with pytest.raises(AnonymousNotAllowed):
            policy.authorize(
                principal_of(guest), Action.UPDATE, project.access, require_verified_email=True
            )
        state = changes.edited(project, now=_now(), name="Guest was here")
        assert write_update(firestore_emulator, guest.id_token, state).outcome == DENIED
        assert firestore_emulator.get_document(_path(project.id)) == seeded

    def test_may_leave(
        self, auth_emulator: AuthEmulator, firestore_emulator: FirestoreEmulator
    ) -> None:
        guest = auth_emulator.sign_up_anonymously()
        project = _seed(firestore_emulator, _owned_by("u-owner", viewers=(guest.uid,)))
        assert policy.authorize(
            principal_of(guest), Action.LEAVE, project.access, require_verified_email=True
        ).allowed
        state = changes.without_member(project, guest.uid, now=_now())
        assert write_update(firestore_emulator, guest.id_token, state).outcome == ALLOWED
