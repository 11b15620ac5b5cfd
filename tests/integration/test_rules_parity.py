"""``firestore.rules`` and ``auth/policy.py`` agree, case by case, with the ownership table.

For every row of ``tests/policy_table.py`` this test

1. asks the pure Python policy (``auth.policy``) for its decision, and
2. performs the matching read or write against the Firestore emulator's REST API
   with the actor's real Auth-emulator ID token, so that ``firestore.rules`` (loaded
   from ``firebase.json``) decides,

and asserts that both match the table. Writes send exactly what the backend would
store: ``store.projects.to_document`` of the state computed by
``services.project_changes``, with ``createdAt``/``updatedAt`` set by the server
(``REQUEST_TIME`` transforms), as the rules demand ``request.time``.

Rules have one way to refuse (``PERMISSION_DENIED``, 403) where the backend has two
(404 when the caller may not read, 403 otherwise): HIDDEN and FORBIDDEN both expect 403.

Further cases below the table check refusals the table cannot express (unverified
email, forged document shapes, the audit log, other collections).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from auth import policy
from auth.policy import Action
from auth.principal import Principal, Role, principal_from_claims
from core.errors import EmailNotVerified, NotFound, PermissionDenied
from services import project_changes as changes
from services.project_changes import MemberRole
from store.models import Project
from store.projects import COLLECTION, to_document
from tests.integration.emulator import (
    TIMEOUT_SECONDS,
    AuthEmulator,
    EmulatorError,
    EmulatorUser,
    FirestoreEmulator,
    encode_fields,
    token_claims,
)
from tests.policy_table import (
    ALLOWED,
    CASES,
    FORBIDDEN,
    HIDDEN,
    Actor,
    Case,
    Op,
    removal_target,
)

#: What the rules answer for a refused request; they cannot tell 403 from 404.
DENIED = "denied"
#: ``createdAt``/``updatedAt`` of every seeded project (any past instant will do).
SEEDED_AT = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
#: Extra users beyond the table's actors.
UNVERIFIED = "unverified"  # signed in, email not verified, no role
MALFORMED_ROLES = "malformed_roles"  # claim roles = "admin": a string, not a list
PASSWORD = "rules-parity-password-1"

_ROLES: dict[str, list[str] | str] = {
    Actor.ADMIN: [Role.ADMIN.value],
    Actor.AUDITOR: [Role.AUDITOR.value],
    MALFORMED_ROLES: "admin",
}

ACTIONS = {
    Op.READ: Action.READ,
    Op.UPDATE: Action.UPDATE,
    Op.ADD_MEMBER: Action.MANAGE_MEMBERS,
    Op.TRANSFER: Action.TRANSFER,
    Op.DELETE: Action.DELETE,
}


# --- users (made once for the module) ------------------------------------------


@dataclasses.dataclass(frozen=True)
class Caller:
    """One Auth-emulator user and the Principal the backend builds from its token."""

    user: EmulatorUser
    principal: Principal

    @property
    def uid(self) -> str:
        return self.user.uid

    @property
    def token(self) -> str:
        return self.user.id_token


Callers = dict[str, Caller]


def _make_caller(auth_emulator: AuthEmulator, name: str) -> Caller:
    email = f"parity-{name}-{uuid.uuid4().hex[:8]}@example.com"
    created = auth_emulator.sign_up(email, PASSWORD)
    if name != UNVERIFIED:
        auth_emulator.set_email_verified(created.uid, True)
    if name in _ROLES:
        auth_emulator.set_custom_claims(created.uid, {"roles": _ROLES[name]})
    # A new sign-in: only tokens minted after the update carry the claims.
    user = auth_emulator.sign_in(email, PASSWORD)
    return Caller(user, principal_from_claims(token_claims(user.id_token)))


@pytest.fixture(scope="module")
def callers(auth_emulator: AuthEmulator) -> Callers:
    made = {
        name: _make_caller(auth_emulator, name)
        for name in [*(actor.value for actor in Actor), UNVERIFIED, MALFORMED_ROLES]
    }
    # The backend's view of each token is what the table assumes of the actor.
    for name, caller in made.items():
        assert caller.principal.email_verified is (name != UNVERIFIED), name
    assert made[Actor.ADMIN].principal.roles == {Role.ADMIN}
    assert made[Actor.AUDITOR].principal.roles == {Role.AUDITOR}
    assert all(
        not made[name].principal.roles for name in made if name not in (Actor.ADMIN, Actor.AUDITOR)
    )
    return made


@pytest.fixture(autouse=True)
def _wipe_emulators(firestore_emulator: FirestoreEmulator) -> None:
    """Overrides the conftest's wipe: documents go, the module's users stay.

    Making the users once per module keeps this test fast; every case seeds its own
    project under a fresh ID anyway.
    """
    firestore_emulator.wipe()


# --- Firestore REST --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    error_status: str | None  # e.g. PERMISSION_DENIED
    body: Any = None  # the decoded JSON of a 200

    @property
    def outcome(self) -> str:
        """ALLOWED, DENIED, or a description of anything else (which fails the test)."""
        if self.status == 200:
            return ALLOWED
        if self.status == 403 and self.error_status == "PERMISSION_DENIED":
            return DENIED
        return f"unexpected {self.status} {self.error_status}"


def _new_id() -> str:
    """A Firestore auto-ID look-alike (``store.ids.is_document_id``)."""
    return uuid.uuid4().hex[:20]


def _path(project_id: str) -> str:
    return f"{COLLECTION}/{project_id}"


def _document_name(fs: FirestoreEmulator, path: str) -> str:
    return f"projects/{fs.project_id}/databases/(default)/documents/{path}"


def _answer(call: Callable[[], requests.Response]) -> Answer:
    try:
        response = call()
    except EmulatorError as error:
        try:
            status_name = json.loads(error.body)["error"]["status"]
        except (ValueError, KeyError, TypeError):
            status_name = None
        return Answer(error.status, status_name)
    return Answer(200, None, response.json())


def _post(fs: FirestoreEmulator, token: str, method: str, body: dict[str, Any]) -> Answer:
    """``POST documents:<method>`` (a URL ``FirestoreEmulator.request`` cannot build,
    as it puts a slash before its path), presenting ``token``."""

    def call() -> requests.Response:
        url = f"{fs.documents_url}:{method}"
        response = requests.post(
            url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_SECONDS
        )
        if not response.ok:
            raise EmulatorError("POST", url, response.status_code, response.text)
        return response

    return _answer(call)


def _commit(fs: FirestoreEmulator, token: str, write: dict[str, Any]) -> Answer:
    """One write through ``documents:commit``."""
    return _post(fs, token, "commit", {"writes": [write]})


def query_projects(
    fs: FirestoreEmulator, token: str, *, field: str | None = None, op: str = "", uid: str = ""
) -> Answer:
    """A client-side list query on ``projects``: all of them, or ``field op uid``."""
    query: dict[str, Any] = {"from": [{"collectionId": COLLECTION}]}
    if field is not None:
        query["where"] = {
            "fieldFilter": {"field": {"fieldPath": field}, "op": op, "value": {"stringValue": uid}}
        }
    return _post(fs, token, "runQuery", {"structuredQuery": query})


def _listed_ids(answer: Answer) -> set[str]:
    return {row["document"]["name"].rsplit("/", 1)[1] for row in answer.body if "document" in row}


def _server_timed(
    fs: FirestoreEmulator, path: str, document: dict[str, Any], server_fields: list[str]
) -> dict[str, Any]:
    """An ``update`` write of ``document`` whose ``server_fields`` the server sets to
    ``request.time`` (what the rules require), as the Admin SDK's SERVER_TIMESTAMP does."""
    fields = {k: v for k, v in document.items() if k not in server_fields}
    return {
        "update": {"name": _document_name(fs, path), "fields": encode_fields(fields)},
        "updateTransforms": [
            {"fieldPath": field, "setToServerValue": "REQUEST_TIME"} for field in server_fields
        ],
    }


def write_create(fs: FirestoreEmulator, token: str, project: Project) -> Answer:
    write = _server_timed(fs, _path(project.id), to_document(project), ["createdAt", "updatedAt"])
    return _commit(fs, token, {**write, "currentDocument": {"exists": False}})


def write_update(
    fs: FirestoreEmulator, token: str, project: Project, *, document: dict[str, Any] | None = None
) -> Answer:
    """Replace the stored project with ``document`` (default: ``to_document(project)``)."""
    document = to_document(project) if document is None else document
    write = _server_timed(fs, _path(project.id), document, ["updatedAt"])
    return _commit(fs, token, {**write, "currentDocument": {"exists": True}})


def write_delete(fs: FirestoreEmulator, token: str, project_id: str) -> Answer:
    write = {"delete": _document_name(fs, _path(project_id)), "currentDocument": {"exists": True}}
    return _commit(fs, token, write)


def read(fs: FirestoreEmulator, token: str, path: str) -> Answer:
    return _answer(lambda: fs.request("GET", path, token=token))


# --- projects as the backend builds them ------------------------------------------


def seed_project(fs: FirestoreEmulator, callers: Callers, *, owner: str = Actor.OWNER) -> Project:
    """Store (as admin, bypassing rules) a project of ``owner`` with the table's editor
    and viewer, at version 1."""
    project = Project(
        id=_new_id(),
        name="Parity",
        description="Seeded by test_rules_parity.",
        owner_id=callers[owner].uid,
        editors=(callers[Actor.EDITOR].uid,),
        viewers=(callers[Actor.VIEWER].uid,),
        created_at=SEEDED_AT,
        updated_at=SEEDED_AT,
        version=1,
    )
    fs.set_document(_path(project.id), to_document(project))
    return project


def new_project(owner_uid: str) -> Project:
    """The state ``ProjectService.create`` stores (timestamps replaced by the server)."""
    return Project(
        id=_new_id(),
        name="Fresh",
        description="",
        owner_id=owner_uid,
        editors=(),
        viewers=(),
        created_at=SEEDED_AT,
        updated_at=SEEDED_AT,
        version=1,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def proposed_state(case: Case, project: Project, callers: Callers) -> Project:
    """The new state the backend would write for one of the table's updates."""
    actor = callers[case.actor]
    if case.op is Op.UPDATE:
        return changes.edited(project, now=_now(), name="Renamed", description="Edited.")
    if case.op is Op.ADD_MEMBER:
        return changes.with_member(project, f"new-{_new_id()}", MemberRole.VIEWER, now=_now())
    if case.op is Op.REMOVE_OTHER:
        target = callers[removal_target(case.actor)].uid
        return changes.without_member(project, target, now=_now())
    if case.op is Op.LEAVE:
        if actor.uid in project.members:
            return changes.without_member(project, actor.uid, now=_now())
        # A non-member "leaving" removes itself from lists it is not in: the lists stay
        # as they are (without_member refuses to build that state, so bump only).
        return changes.edited(project, now=_now())
    if case.op is Op.TRANSFER:
        return changes.transferred(project, callers[Actor.EDITOR].uid, now=_now())
    raise AssertionError(f"not an update: {case.op}")


# --- the Python side ----------------------------------------------------------------


def python_outcome(case: Case, project: Project, callers: Callers) -> str:
    principal = callers[case.actor].principal
    try:
        if case.op is Op.CREATE:
            policy.authorize_create(principal, require_verified_email=True)
        else:
            if case.op is Op.LEAVE:
                action = policy.member_removal_action(principal, principal.uid)
            elif case.op is Op.REMOVE_OTHER:
                target = callers[removal_target(case.actor)].uid
                action = policy.member_removal_action(principal, target)
            else:
                action = ACTIONS[case.op]
            policy.authorize(principal, action, project.access, require_verified_email=True)
    except NotFound:
        return HIDDEN
    except EmailNotVerified:
        raise  # every table actor is verified: this would be a broken fixture
    except PermissionDenied:
        return FORBIDDEN
    return ALLOWED


# --- the table ------------------------------------------------------------------------


def _stored(fs: FirestoreEmulator, project_id: str) -> dict[str, Any] | None:
    return fs.get_document(_path(project_id))


def _assert_updated_to(stored: dict[str, Any] | None, state: Project) -> None:
    """The stored document is ``to_document(state)`` with a server-set ``updatedAt``."""
    assert stored is not None
    assert stored["updatedAt"] > SEEDED_AT
    assert stored == {**to_document(state), "updatedAt": stored["updatedAt"]}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_rules_and_policy_match_the_table(
    case: Case, callers: Callers, firestore_emulator: FirestoreEmulator
) -> None:
    fs = firestore_emulator
    project = seed_project(fs, callers)
    seeded = _stored(fs, project.id)
    actor = callers[case.actor]
    expected_rules = ALLOWED if case.outcome == ALLOWED else DENIED

    python = python_outcome(case, project, callers)

    if case.op is Op.READ:
        answer = read(fs, actor.token, _path(project.id))
        if answer.outcome == ALLOWED:
            assert answer.body["name"] == _document_name(fs, _path(project.id))
    elif case.op is Op.CREATE:
        created = new_project(actor.uid)
        answer = write_create(fs, actor.token, created)
        after = _stored(fs, created.id)
        if answer.outcome == ALLOWED:
            assert after is not None
            assert after["createdAt"] == after["updatedAt"] > SEEDED_AT
            expected = to_document(created)
            assert after == {
                **expected,
                "createdAt": after["createdAt"],
                "updatedAt": after["updatedAt"],
            }
        else:
            assert after is None
    elif case.op is Op.DELETE:
        answer = write_delete(fs, actor.token, project.id)
        after = _stored(fs, project.id)
        assert (after is None) is (answer.outcome == ALLOWED)
    else:
        state = proposed_state(case, project, callers)
        answer = write_update(fs, actor.token, state)
        after = _stored(fs, project.id)
        if answer.outcome == ALLOWED:
            _assert_updated_to(after, state)
        else:
            assert after == seeded

    assert (python, answer.outcome) == (case.outcome, expected_rules), (
        f"table says {case.outcome}; auth/policy.py says {python}; "
        f"firestore.rules answered {answer.status} {answer.error_status}"
    )


# --- beyond the table: refusals rules must make on their own ---------------------------


def _python_refuses(principal: Principal, action: Action, project: Project) -> type[Exception]:
    with pytest.raises(PermissionDenied) as excinfo:
        policy.authorize(principal, action, project.access, require_verified_email=True)
    return excinfo.type


class TestUnverifiedEmail:
    """Writes need a verified email in both places; reading does not."""

    def test_unverified_owner_can_read(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers, owner=UNVERIFIED)
        principal = callers[UNVERIFIED].principal
        assert policy.authorize(
            principal, Action.READ, project.access, require_verified_email=True
        ).allowed
        answer = read(firestore_emulator, callers[UNVERIFIED].token, _path(project.id))
        assert answer.outcome == ALLOWED

    def test_unverified_owner_cannot_update(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers, owner=UNVERIFIED)
        assert (
            _python_refuses(callers[UNVERIFIED].principal, Action.UPDATE, project)
            is EmailNotVerified
        )
        state = changes.edited(project, now=_now(), name="Renamed")
        answer = write_update(firestore_emulator, callers[UNVERIFIED].token, state)
        assert answer.outcome == DENIED

    def test_unverified_user_cannot_create(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        with pytest.raises(EmailNotVerified):
            policy.authorize_create(callers[UNVERIFIED].principal, require_verified_email=True)
        created = new_project(callers[UNVERIFIED].uid)
        answer = write_create(firestore_emulator, callers[UNVERIFIED].token, created)
        assert answer.outcome == DENIED
        assert _stored(firestore_emulator, created.id) is None

    def test_unverified_owner_cannot_delete(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers, owner=UNVERIFIED)
        assert (
            _python_refuses(callers[UNVERIFIED].principal, Action.DELETE, project)
            is EmailNotVerified
        )
        answer = write_delete(firestore_emulator, callers[UNVERIFIED].token, project.id)
        assert answer.outcome == DENIED
        assert _stored(firestore_emulator, project.id) is not None


class TestForgedWrites:
    """Documents the backend never writes, sent by a client directly."""

    def test_editor_cannot_transfer_to_someone_else(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        editor = callers[Actor.EDITOR]
        _python_refuses(editor.principal, Action.TRANSFER, project)
        state = changes.transferred(project, callers[Actor.VIEWER].uid, now=_now())
        assert write_update(firestore_emulator, editor.token, state).outcome == DENIED

    def test_editor_cannot_change_owner_id_with_a_rename(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        """Renaming is an editor's right; it must not carry an ownerId change along."""
        project = seed_project(firestore_emulator, callers)
        editor = callers[Actor.EDITOR]
        transferred = changes.transferred(project, editor.uid, now=_now())
        state = dataclasses.replace(transferred, name="Mine now")
        assert write_update(firestore_emulator, editor.token, state).outcome == DENIED
        # The rename alone is fine: the refusal is about ownerId.
        renamed = changes.edited(project, now=_now(), name="Mine now")
        assert write_update(firestore_emulator, editor.token, renamed).outcome == ALLOWED

    def test_viewer_cannot_promote_self_to_editor(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        viewer = callers[Actor.VIEWER]
        _python_refuses(viewer.principal, Action.MANAGE_MEMBERS, project)
        state = changes.with_member(project, viewer.uid, MemberRole.EDITOR, now=_now())
        assert write_update(firestore_emulator, viewer.token, state).outcome == DENIED

    def test_leaving_viewer_cannot_also_remove_the_editor(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        viewer = callers[Actor.VIEWER]
        left = changes.without_member(project, viewer.uid, now=_now())
        state = dataclasses.replace(left, editors=())
        assert write_update(firestore_emulator, viewer.token, state).outcome == DENIED

    @pytest.mark.parametrize(
        "version", [1, 3], ids=["owner_cannot_keep_version", "owner_cannot_skip_a_version"]
    )
    def test_owner_must_bump_version_by_one(
        self, version: int, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        owner = callers[Actor.OWNER]
        state = dataclasses.replace(
            changes.edited(project, now=_now(), name="Renamed"), version=version
        )
        assert write_update(firestore_emulator, owner.token, state).outcome == DENIED

    def test_owner_cannot_set_updated_at_from_the_client_clock(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        state = changes.edited(project, now=_now(), name="Renamed")
        write = {
            "update": {
                "name": _document_name(firestore_emulator, _path(project.id)),
                "fields": encode_fields(to_document(state)),
            },
            "currentDocument": {"exists": True},
        }
        assert _commit(firestore_emulator, callers[Actor.OWNER].token, write).outcome == DENIED

    @pytest.mark.parametrize(
        "members",
        [
            pytest.param(
                lambda p, c: [*p.members, c[Actor.STRANGER].uid], id="stranger_smuggled_in"
            ),
            pytest.param(lambda p, c: list(p.members[:-1]), id="newcomer_missing"),
            pytest.param(lambda p, c: list(reversed(p.members)), id="owner_not_first"),
        ],
    )
    def test_owner_cannot_write_members_that_mismatch_the_lists(
        self,
        members: Callable[[Project, Callers], list[str]],
        callers: Callers,
        firestore_emulator: FirestoreEmulator,
    ) -> None:
        """``members`` must be owner + editors + viewers, or reads would leak."""
        project = seed_project(firestore_emulator, callers)
        owner = callers[Actor.OWNER]
        state = changes.with_member(project, "newcomer", MemberRole.VIEWER, now=_now())
        document = {**to_document(state), "members": members(state, callers)}
        answer = write_update(firestore_emulator, owner.token, state, document=document)
        assert answer.outcome == DENIED
        # The same change with the derived members goes through: only the tampering is wrong.
        assert write_update(firestore_emulator, owner.token, state).outcome == ALLOWED

    def test_owner_cannot_add_someone_twice(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        state = changes.with_member(project, "twice", MemberRole.VIEWER, now=_now())
        state = dataclasses.replace(state, editors=(*state.editors, "twice"))
        assert write_update(firestore_emulator, callers[Actor.OWNER].token, state).outcome == DENIED

    def test_transfer_must_keep_the_previous_owner_as_editor(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        state = changes.transferred(project, callers[Actor.EDITOR].uid, now=_now())
        state = dataclasses.replace(state, editors=())
        assert write_update(firestore_emulator, callers[Actor.OWNER].token, state).outcome == DENIED

    def test_owner_cannot_add_unknown_fields(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        state = changes.edited(project, now=_now(), name="Renamed")
        document = {**to_document(state), "public": True}
        answer = write_update(
            firestore_emulator, callers[Actor.OWNER].token, state, document=document
        )
        assert answer.outcome == DENIED

    @pytest.mark.parametrize(
        "name", ["", "   ", "x" * 201], ids=["empty_name", "blank_name", "long_name"]
    )
    def test_owner_cannot_store_an_invalid_name(
        self, name: str, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        state = changes.edited(project, now=_now(), name=name)
        assert write_update(firestore_emulator, callers[Actor.OWNER].token, state).outcome == DENIED

    def test_create_with_someone_else_as_owner_is_refused(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        created = new_project(callers[Actor.OWNER].uid)
        answer = write_create(firestore_emulator, callers[Actor.STRANGER].token, created)
        assert answer.outcome == DENIED
        assert _stored(firestore_emulator, created.id) is None

    def test_create_with_members_already_is_refused(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        stranger = callers[Actor.STRANGER]
        created = changes.with_member(
            new_project(stranger.uid), callers[Actor.VIEWER].uid, MemberRole.EDITOR, now=_now()
        )
        created = dataclasses.replace(created, version=1)
        assert write_create(firestore_emulator, stranger.token, created).outcome == DENIED

    def test_malformed_roles_claim_grants_nothing(
        self, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        """``roles: "admin"`` (a string) is no role, for the backend and for rules."""
        project = seed_project(firestore_emulator, callers)
        caller = callers[MALFORMED_ROLES]
        assert token_claims(caller.token)["roles"] == "admin"
        with pytest.raises(NotFound):
            policy.authorize(
                caller.principal, Action.READ, project.access, require_verified_email=True
            )
        assert read(firestore_emulator, caller.token, _path(project.id)).outcome == DENIED
        assert write_delete(firestore_emulator, caller.token, project.id).outcome == DENIED


class TestListQueries:
    """Rules answer a list query only if every document it could return is readable;
    the backend's ``ProjectService.list`` makes the same split by role."""

    @pytest.mark.parametrize(
        ("actor", "field", "op"),
        [
            (Actor.VIEWER, "members", "ARRAY_CONTAINS"),
            (Actor.EDITOR, "members", "ARRAY_CONTAINS"),
            (Actor.OWNER, "members", "ARRAY_CONTAINS"),
            (Actor.OWNER, "ownerId", "EQUAL"),
        ],
        ids=[
            "viewer_can_list_own",
            "editor_can_list_own",
            "owner_can_list_own",
            "owner_can_list_owned",
        ],
    )
    def test_member_can_list_their_projects(
        self,
        actor: Actor,
        field: str,
        op: str,
        callers: Callers,
        firestore_emulator: FirestoreEmulator,
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        other = seed_project(firestore_emulator, callers, owner=UNVERIFIED)
        caller = callers[actor]
        answer = query_projects(
            firestore_emulator, caller.token, field=field, op=op, uid=caller.uid
        )
        assert answer.outcome == ALLOWED
        # The editor and viewer are on both seeded projects; the owner owns one.
        expected = {project.id, other.id} if actor in (Actor.EDITOR, Actor.VIEWER) else {project.id}
        assert _listed_ids(answer) == expected

    @pytest.mark.parametrize(
        ("actor", "allowed"),
        [(Actor.ADMIN, True), (Actor.AUDITOR, True), (Actor.OWNER, False), (Actor.STRANGER, False)],
        ids=lambda v: str(v).lower(),
    )
    def test_only_admins_and_auditors_list_everything(
        self, actor: Actor, allowed: bool, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        project = seed_project(firestore_emulator, callers)
        caller = callers[actor]
        assert policy.may_list_any_owner(caller.principal).allowed is allowed
        unfiltered = query_projects(firestore_emulator, caller.token)
        by_other_owner = query_projects(
            firestore_emulator, caller.token, field="ownerId", op="EQUAL", uid="someone-else"
        )
        expected = ALLOWED if allowed else DENIED
        assert (unfiltered.outcome, by_other_owner.outcome) == (expected, expected)
        if allowed:
            assert _listed_ids(unfiltered) == {project.id}


class TestOtherCollections:
    @pytest.mark.parametrize("actor", [Actor.ADMIN, Actor.OWNER], ids=str)
    def test_client_cannot_write_audit_log(
        self, actor: Actor, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        path = f"auditLog/{_new_id()}"
        write = _server_timed(
            firestore_emulator, path, {"action": "forged", "actor": callers[actor].uid}, ["time"]
        )
        assert _commit(firestore_emulator, callers[actor].token, write).outcome == DENIED
        assert firestore_emulator.get_document(path) is None

    @pytest.mark.parametrize(
        ("actor", "allowed"),
        [
            (Actor.AUDITOR, True),
            (Actor.ADMIN, True),
            (Actor.OWNER, False),
            (Actor.STRANGER, False),
        ],
        ids=lambda v: str(v).lower(),
    )
    def test_audit_log_is_read_by_admins_and_auditors_only(
        self, actor: Actor, allowed: bool, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        path = f"auditLog/{_new_id()}"
        firestore_emulator.set_document(path, {"action": "roles.set", "time": SEEDED_AT})
        caller = callers[actor]
        assert policy.may_read_audit_log(caller.principal).allowed is allowed
        answer = read(firestore_emulator, caller.token, path)
        assert answer.outcome == (ALLOWED if allowed else DENIED)

    @pytest.mark.parametrize(
        "path",
        [
            "locks/some-lock",
            "appCheckConsumed/some-hash",
            "signOuts/some-hash/signOutEvents/001800000000",
            "users/someone",
            "projects/p/sub/x",
        ],
    )
    def test_admin_token_has_no_access_elsewhere(
        self, path: str, callers: Callers, firestore_emulator: FirestoreEmulator
    ) -> None:
        """Only the backend (admin credentials) touches locks, spent App Check tokens,
        recorded sign-outs and anything unlisted."""
        firestore_emulator.set_document(path, {"held": True})
        admin = callers[Actor.ADMIN]
        assert read(firestore_emulator, admin.token, path).outcome == DENIED
        write = {
            "update": {
                "name": _document_name(firestore_emulator, path),
                "fields": encode_fields({"held": False}),
            }
        }
        assert _commit(firestore_emulator, admin.token, write).outcome == DENIED
        assert firestore_emulator.get_document(path) == {"held": True}
