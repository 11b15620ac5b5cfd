"""ProjectService offline, on the in-memory store (store.memory): the ownership table,
then the rules the service adds to the policy (If-Match, members, idempotent creates,
listing), each a row named after its rule. Refusals leave the store as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from auth import Principal, Role
from core.errors import (
    ApiError,
    EmailNotVerified,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidCursor,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    TooManyMembers,
    UnknownUser,
    ValidationFailed,
)
from services.project_changes import MAX_MEMBERS, MemberRole
from services.projects import ProjectService
from store.idempotency import PENDING_LEASE, Claim, fingerprint
from store.memory import MemoryIdempotency, MemoryProjects
from store.models import Project
from tests.policy_table import ALLOWED, CASES, FORBIDDEN, HIDDEN, Actor, Case, Op, removal_target

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OWNER, EDITOR, VIEWER, OUTSIDER = "u-owner", "u-editor", "u-viewer", "u-outsider"
UNKNOWN = "u-nobody"
PID = "AbCdEfGhIjKlMnOpQrSt"

PRINCIPALS = {
    Actor.OWNER: Principal(OWNER, email_verified=True),
    Actor.EDITOR: Principal(EDITOR, email_verified=True),
    Actor.VIEWER: Principal(VIEWER, email_verified=True),
    Actor.STRANGER: Principal("u-stranger", email_verified=True),
    Actor.ADMIN: Principal("u-admin", email_verified=True, roles=frozenset({Role.ADMIN})),
    Actor.AUDITOR: Principal("u-auditor", email_verified=True, roles=frozenset({Role.AUDITOR})),
}


@dataclass
class World:
    """A service on a memory store holding one project (owner, one editor, one viewer)."""

    store: MemoryProjects
    service: ProjectService
    now: list[datetime] = field(default_factory=lambda: [T0])
    lookups: list[str] = field(default_factory=list)

    def tick(self, minutes: int = 1) -> datetime:
        self.now[0] += timedelta(minutes=minutes)
        return self.now[0]


def seeded(**overrides: object) -> Project:
    fields: dict[str, object] = {
        "id": PID,
        "name": "Seeded",
        "description": "",
        "owner_id": OWNER,
        "editors": (EDITOR,),
        "viewers": (VIEWER,),
        "created_at": T0,
        "updated_at": T0,
        "version": 1,
    }
    return Project(**{**fields, **overrides})  # type: ignore[arg-type]


def world(*projects: Project, require_verified_email: bool = True) -> World:
    store = MemoryProjects(*(projects or (seeded(),)))
    now = [T0]
    lookups: list[str] = []

    def user_exists(uid: str) -> bool:
        lookups.append(uid)
        return uid != UNKNOWN

    service = ProjectService(
        projects=store,
        idempotency=MemoryIdempotency(store),
        require_verified_email=require_verified_email,
        user_exists=user_exists,
        clock=lambda: now[0],
    )
    return World(store, service, now, lookups)


# --- the ownership table ------------------------------------------------------------


def perform(w: World, actor: Actor, op: Op) -> object:
    principal = PRINCIPALS[actor]
    service = w.service
    match op:
        case Op.CREATE:
            return service.create(principal, name="Mine", description="")
        case Op.READ:
            return service.get(principal, PID)
        case Op.UPDATE:
            return service.edit(principal, PID, name="Renamed", description=None, if_match=None)
        case Op.ADD_MEMBER:
            return service.put_member(principal, PID, OUTSIDER, MemberRole.VIEWER, if_match=None)
        case Op.REMOVE_OTHER:
            target = PRINCIPALS[removal_target(actor)].uid
            return service.remove_member(principal, PID, target, if_match=None)
        case Op.LEAVE:
            return service.remove_member(principal, PID, principal.uid, if_match=None)
        case Op.TRANSFER:
            return service.transfer(principal, PID, EDITOR, if_match=None)
        case Op.DELETE:
            return service.delete(principal, PID, if_match=None)
    raise AssertionError(op)


REFUSALS: dict[str, type[ApiError]] = {FORBIDDEN: PermissionDenied, HIDDEN: NotFound}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_ownership_table_on_the_service(case: Case) -> None:
    w = world()
    if case.outcome == ALLOWED:
        perform(w, case.actor, case.op)
        return
    with pytest.raises(REFUSALS[case.outcome]) as refused:
        perform(w, case.actor, case.op)
    assert type(refused.value) is REFUSALS[case.outcome]  # not a subclass (403 forbidden)
    assert w.store.get(PID) == seeded()
    assert len(w.store) == 1


# --- the service's own rules ----------------------------------------------------------

Call = Callable[[World], object]
OWNER_P = PRINCIPALS[Actor.OWNER]

RULES: list[tuple[str, Call, type[ApiError]]] = [
    (
        "stale_if_match_fails_the_edit",
        lambda w: w.service.edit(OWNER_P, PID, name="x", description=None, if_match=2),
        PreconditionFailed,
    ),
    (
        "stale_if_match_fails_the_delete",
        lambda w: w.service.delete(OWNER_P, PID, if_match=7),
        PreconditionFailed,
    ),
    (
        "stale_if_match_fails_the_transfer",
        lambda w: w.service.transfer(OWNER_P, PID, EDITOR, if_match=0),
        PreconditionFailed,
    ),
    (
        "unknown_user_cannot_be_added",
        lambda w: w.service.put_member(OWNER_P, PID, UNKNOWN, MemberRole.EDITOR, if_match=None),
        UnknownUser,
    ),
    (
        "unknown_user_cannot_become_owner",
        lambda w: w.service.transfer(OWNER_P, PID, UNKNOWN, if_match=None),
        UnknownUser,
    ),
    (
        "owner_cannot_be_a_member",
        lambda w: w.service.put_member(OWNER_P, PID, OWNER, MemberRole.VIEWER, if_match=None),
        ValidationFailed,
    ),
    (
        "transfer_to_the_owner_is_invalid",
        lambda w: w.service.transfer(OWNER_P, PID, OWNER, if_match=None),
        ValidationFailed,
    ),
    (
        "removing_a_non_member_is_not_found",
        lambda w: w.service.remove_member(OWNER_P, PID, OUTSIDER, if_match=None),
        NotFound,
    ),
    (
        "impossible_id_is_not_found",
        lambda w: w.service.get(OWNER_P, "../" + PID),
        NotFound,
    ),
    (
        "absent_project_is_not_found",
        lambda w: w.service.delete(OWNER_P, "ZZZZZZZZZZZZZZZZZZZZ", if_match=None),
        NotFound,
    ),
    (
        "unverified_email_cannot_create",
        lambda w: w.service.create(Principal("u-new"), name="n", description=""),
        EmailNotVerified,
    ),
    (
        "unverified_owner_cannot_edit",
        lambda w: w.service.edit(Principal(OWNER), PID, name="x", description=None, if_match=None),
        EmailNotVerified,
    ),
    (
        "strangers_cannot_list_by_another_owner",
        lambda w: w.service.list(PRINCIPALS[Actor.STRANGER], limit=5, cursor=None, owner_id=OWNER),
        PermissionDenied,
    ),
    (
        "a_forged_cursor_is_invalid",
        lambda w: w.service.list(OWNER_P, limit=5, cursor="not-ours", owner_id=None),
        InvalidCursor,
    ),
]


@pytest.mark.parametrize(
    ("call", "error"), [rule[1:] for rule in RULES], ids=[rule[0] for rule in RULES]
)
def test_refusals_change_nothing(call: Call, error: type[ApiError]) -> None:
    w = world()
    with pytest.raises(error):
        call(w)
    assert w.store.get(PID) == seeded()
    assert len(w.store) == 1


def test_a_full_project_takes_no_more_members() -> None:
    members = tuple(f"u-{n}" for n in range(MAX_MEMBERS))
    w = world(seeded(editors=members, viewers=()))
    with pytest.raises(TooManyMembers):
        w.service.put_member(OWNER_P, PID, OUTSIDER, MemberRole.VIEWER, if_match=None)
    # Changing an existing member's role is not adding one.
    changed = w.service.put_member(OWNER_P, PID, "u-0", MemberRole.VIEWER, if_match=1)
    assert ("u-0" in changed.viewers, changed.version) == (True, 2)


def test_unverified_email_may_write_when_not_required() -> None:
    w = world(require_verified_email=False)
    edited = w.service.edit(Principal(OWNER), PID, name="x", description=None, if_match=None)
    assert (edited.name, edited.version) == ("x", 2)


def test_create_makes_the_caller_owner_at_version_1() -> None:
    w = world()
    w.tick()
    project, replayed = w.service.create(OWNER_P, name="New", description="d")
    assert replayed is False
    assert (project.owner_id, project.editors, project.viewers) == (OWNER, (), ())
    assert (project.version, project.created_at, project.updated_at) == (1, w.now[0], w.now[0])
    assert w.store.get(project.id) == project


def test_each_change_bumps_the_version_and_checks_if_match() -> None:
    w = world()
    w.tick()
    one = w.service.edit(OWNER_P, PID, name="a", description=None, if_match=1)
    two = w.service.put_member(OWNER_P, PID, OUTSIDER, MemberRole.EDITOR, if_match=2)
    three = w.service.transfer(OWNER_P, PID, OUTSIDER, if_match=None)
    assert [p.version for p in (one, two, three)] == [2, 3, 4]
    assert (three.owner_id, OWNER in three.editors) == (OUTSIDER, True)
    assert three.updated_at == w.now[0]
    w.service.delete(PRINCIPALS[Actor.ADMIN], PID, if_match=4)
    assert len(w.store) == 0


def test_member_lookups_happen_once_per_change() -> None:
    w = world()
    w.service.put_member(OWNER_P, PID, OUTSIDER, MemberRole.VIEWER, if_match=None)
    w.service.remove_member(OWNER_P, PID, OUTSIDER, if_match=None)
    w.service.put_member(OWNER_P, PID, VIEWER, MemberRole.EDITOR, if_match=None)
    assert w.lookups == [OUTSIDER, VIEWER]


def test_lists_are_newest_first_in_pages() -> None:
    w = world()
    created = []
    for n in range(5):
        w.tick()
        created.append(w.service.create(OWNER_P, name=f"p{n}", description="")[0])
    newest_first = [*reversed(created), seeded()]
    seen: list[Project] = []
    cursor = None
    while True:
        page = w.service.list(OWNER_P, limit=2, cursor=cursor, owner_id=None)
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == newest_first
    editor_view = w.service.list(PRINCIPALS[Actor.EDITOR], limit=10, cursor=None, owner_id=None)
    assert editor_view.items == [seeded()]
    auditor = PRINCIPALS[Actor.AUDITOR]
    by_owner = w.service.list(auditor, limit=10, cursor=None, owner_id=OWNER)
    assert by_owner.items == newest_first


def test_an_idempotent_create_is_replayed_not_repeated() -> None:
    w = world()
    first, replayed = w.service.create(OWNER_P, name="n", description="d", idempotency_key="k1")
    again, replayed_again = w.service.create(
        OWNER_P, name="n", description="d", idempotency_key="k1"
    )
    assert (replayed, replayed_again, again) == (False, True, first)
    assert len(w.store) == 2
    with pytest.raises(IdempotencyKeyReused):
        w.service.create(OWNER_P, name="other", description="d", idempotency_key="k1")
    # Keys are per user.
    other, _ = w.service.create(
        PRINCIPALS[Actor.EDITOR], name="n", description="d", idempotency_key="k1"
    )
    assert other.id != first.id
    # After 24 hours the key is free again.
    w.tick(24 * 60 + 1)
    later, replayed_later = w.service.create(
        OWNER_P, name="other", description="d", idempotency_key="k1"
    )
    assert (replayed_later, later.name) == (False, "other")


def test_a_create_in_flight_holds_its_key() -> None:
    w = world()
    # Another request with the same key and body claimed it and is still running.
    assert isinstance(
        w.service.idempotency.claim(OWNER, "k2", fingerprint("n", "d"), now=T0), Claim
    )
    with pytest.raises(IdempotencyInProgress):
        w.service.create(OWNER_P, name="n", description="d", idempotency_key="k2")
    assert len(w.store) == 1


def test_a_failed_create_gives_its_key_back() -> None:
    w = world()

    def failing_insert(project: Project) -> Project:
        raise ValueError("the store refused")

    w.store.create = failing_insert  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="refused"):
        w.service.create(OWNER_P, name="n", description="d", idempotency_key="k3")
    del w.store.create  # the real one again
    project, replayed = w.service.create(OWNER_P, name="n", description="d", idempotency_key="k3")
    assert (replayed, w.store.get(project.id)) == (False, project)


class Stalling(MemoryIdempotency):
    """``MemoryIdempotency`` whose ``create_project`` first runs what is queued in
    ``during`` (what happens while the request is stalled past its lease), then goes on."""

    def __init__(self, store: MemoryProjects) -> None:
        super().__init__(store)
        self.during: list[Callable[[], object]] = []

    def create_project(self, uid: str, key: str, project: Project, claim: Claim) -> Project:
        while self.during:
            self.during.pop()()
        return super().create_project(uid, key, project, claim)


def test_a_request_stalled_past_its_lease_cannot_overwrite_its_successor() -> None:
    """A request claims the key and stalls past its pending lease; a retry (whose clock
    is past the lease) takes the key over and creates the project. The stale request
    then creates nothing and deletes nothing: its successor's project and record stand."""
    w = world()
    records = Stalling(w.store)
    stale = replace(w.service, idempotency=records, clock=lambda: T0)
    later = T0 + PENDING_LEASE + timedelta(seconds=1)
    retry = replace(w.service, idempotency=records, clock=lambda: later)
    outcomes: list[tuple[Project, bool]] = []
    records.during.append(
        lambda: outcomes.append(
            retry.create(OWNER_P, name="n", description="d", idempotency_key="k4")
        )
    )
    with pytest.raises(IdempotencyInProgress):
        stale.create(OWNER_P, name="n", description="d", idempotency_key="k4")

    ((successor, replayed),) = outcomes
    assert replayed is False
    assert len(w.store) == 2  # the seeded project and the successor's, nothing else
    # The stale request's release left the successor's record: a retry replays it.
    again = retry.create(OWNER_P, name="n", description="d", idempotency_key="k4")
    assert again == (successor, True)


def test_a_stale_claim_neither_completes_nor_releases_a_taken_over_record() -> None:
    w = world()
    records = MemoryIdempotency(w.store)
    body = fingerprint("n", "d")
    first = records.claim(OWNER, "k5", body, now=T0)
    second = records.claim(OWNER, "k5", body, now=T0 + PENDING_LEASE + timedelta(seconds=1))
    assert isinstance(first, Claim)
    assert isinstance(second, Claim)
    assert first != second
    records.release(OWNER, "k5", first)  # no longer its record: left alone
    with pytest.raises(IdempotencyInProgress):
        records.create_project(OWNER, "k5", seeded(id="A" * 20), first)
    done = records.create_project(OWNER, "k5", seeded(id="B" * 20), second)
    assert len(w.store) == 2  # the seeded project and the second claim's
    assert records.claim(OWNER, "k5", body, now=T0) == done


# --- the audit log: every change of who may access a project -------------------------

#: op -> (the entry's action, what the project's access is after it: owner, editors, viewers)
AUDITED: dict[Op, tuple[str, dict[str, object]]] = {
    Op.ADD_MEMBER: (
        "project.shared",
        {"ownerId": OWNER, "editors": [EDITOR], "viewers": [VIEWER, OUTSIDER]},
    ),
    Op.REMOVE_OTHER: (
        "project.member_removed",
        {"ownerId": OWNER, "editors": [EDITOR], "viewers": []},
    ),
    Op.LEAVE: ("project.member_removed", {"ownerId": OWNER, "editors": [], "viewers": [VIEWER]}),
    Op.TRANSFER: (
        "project.transferred",
        {"ownerId": EDITOR, "editors": [OWNER], "viewers": [VIEWER]},
    ),
    Op.DELETE: ("project.deleted", {}),
}


@pytest.mark.parametrize("op", AUDITED, ids=lambda op: f"{op.value}_is_audited")
def test_access_changes_are_audited_with_before_and_after(op: Op) -> None:
    w = world()
    actor = Actor.EDITOR if op is Op.LEAVE else Actor.OWNER
    perform(w, actor, op)
    [entry] = w.store.audit_log
    action, after = AUDITED[op]
    assert (entry.action, entry.actor, entry.target) == (
        action,
        PRINCIPALS[actor].uid,
        f"projects/{PID}",
    )
    assert entry.before == {"ownerId": OWNER, "editors": [EDITOR], "viewers": [VIEWER]}
    assert (entry.after, entry.time) == (after, T0)


@pytest.mark.parametrize(
    "op", [Op.CREATE, Op.READ, Op.UPDATE], ids=lambda op: f"{op.value}_is_not_an_access_change"
)
def test_other_operations_write_no_entry(op: Op) -> None:
    w = world()
    perform(w, Actor.OWNER, op)
    assert w.store.audit_log == []


@pytest.mark.parametrize("op", AUDITED, ids=lambda op: f"refused_{op.value}_writes_no_entry")
def test_a_refused_change_writes_no_entry(op: Op) -> None:
    w = world()
    with pytest.raises(ApiError):
        perform(w, Actor.STRANGER, op)
    assert w.store.audit_log == []
