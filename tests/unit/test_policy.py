"""The ownership table, checked against the pure policy (no I/O)."""

from __future__ import annotations

import pytest

from auth import policy
from auth.policy import Action, ProjectAccess
from auth.principal import Principal, Role
from core.errors import EmailNotVerified, NotFound, PermissionDenied
from tests.policy_table import ALLOWED, CASES, FORBIDDEN, HIDDEN, Actor, Case, Op, removal_target

OWNER, EDITOR, VIEWER = "u-owner", "u-editor", "u-viewer"
PROJECT = ProjectAccess(OWNER, frozenset({EDITOR}), frozenset({VIEWER}))

PRINCIPALS = {
    Actor.OWNER: Principal(OWNER, email_verified=True),
    Actor.EDITOR: Principal(EDITOR, email_verified=True),
    Actor.VIEWER: Principal(VIEWER, email_verified=True),
    Actor.STRANGER: Principal("u-stranger", email_verified=True),
    Actor.ADMIN: Principal("u-admin", email_verified=True, roles=frozenset({Role.ADMIN})),
    Actor.AUDITOR: Principal("u-auditor", email_verified=True, roles=frozenset({Role.AUDITOR})),
}

ACTIONS = {
    Op.READ: Action.READ,
    Op.UPDATE: Action.UPDATE,
    Op.ADD_MEMBER: Action.MANAGE_MEMBERS,
    Op.TRANSFER: Action.TRANSFER,
    Op.DELETE: Action.DELETE,
}


def outcome_of(actor: Actor, op: Op) -> str:
    principal = PRINCIPALS[actor]
    try:
        if op is Op.CREATE:
            policy.authorize_create(principal, require_verified_email=True)
        else:
            if op is Op.LEAVE:
                action = policy.member_removal_action(principal, principal.uid)
            elif op is Op.REMOVE_OTHER:
                target = PRINCIPALS[removal_target(actor)].uid
                action = policy.member_removal_action(principal, target)
            else:
                action = ACTIONS[op]
            policy.authorize(principal, action, PROJECT, require_verified_email=True)
    except NotFound:
        return HIDDEN
    except PermissionDenied:
        return FORBIDDEN
    return ALLOWED


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_ownership_table(case: Case) -> None:
    assert outcome_of(case.actor, case.op) == case.outcome


def test_table_covers_every_actor_for_every_op() -> None:
    assert {(c.actor, c.op) for c in CASES} >= {(a, o) for a in Actor for o in Op if o != Op.LEAVE}


@pytest.mark.parametrize(
    ("actor", "expected_rule"),
    [
        (Actor.OWNER, "owner"),
        (Actor.EDITOR, "editor"),
        (Actor.VIEWER, "viewer"),
        (Actor.ADMIN, "role:admin"),
        (Actor.AUDITOR, "role:auditor"),
        (Actor.STRANGER, "deny"),
    ],
    ids=lambda v: str(v),
)
def test_decision_names_the_rule_that_decided_read(actor: Actor, expected_rule: str) -> None:
    assert policy.decide(PRINCIPALS[actor], Action.READ, PROJECT).rule == expected_rule


def test_relation_wins_over_role_in_the_rule_name() -> None:
    admin_owner = Principal(OWNER, email_verified=True, roles=frozenset({Role.ADMIN}))
    assert policy.decide(admin_owner, Action.DELETE, PROJECT).rule == "owner"


@pytest.mark.parametrize(
    "action",
    [Action.UPDATE, Action.MANAGE_MEMBERS, Action.TRANSFER, Action.DELETE],
    ids=lambda a: f"unverified_owner_cannot_{a.value}",
)
def test_unverified_owner_cannot_write(action: Action) -> None:
    unverified = Principal(OWNER, email_verified=False)
    with pytest.raises(EmailNotVerified):
        policy.authorize(unverified, action, PROJECT, require_verified_email=True)


def test_unverified_owner_can_read() -> None:
    unverified = Principal(OWNER, email_verified=False)
    assert policy.authorize(unverified, Action.READ, PROJECT, require_verified_email=True).allowed


def test_unverified_owner_can_write_when_the_setting_is_off() -> None:
    unverified = Principal(OWNER, email_verified=False)
    decision = policy.authorize(unverified, Action.UPDATE, PROJECT, require_verified_email=False)
    assert decision.rule == "owner"


def test_unverified_user_cannot_create() -> None:
    with pytest.raises(EmailNotVerified):
        policy.authorize_create(Principal("u"), require_verified_email=True)


def test_unverified_stranger_gets_404_not_403() -> None:
    with pytest.raises(NotFound):
        policy.authorize(Principal("x"), Action.UPDATE, PROJECT, require_verified_email=True)


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [(Actor.OWNER, False), (Actor.ADMIN, False), (Actor.EDITOR, True), (Actor.VIEWER, True)],
    ids=lambda v: str(v),
)
def test_only_members_can_leave(actor: Actor, allowed: bool) -> None:
    principal = PRINCIPALS[actor]
    action = policy.member_removal_action(principal, principal.uid)
    assert action is Action.LEAVE
    assert policy.decide(principal, action, PROJECT).allowed is allowed


def test_removing_someone_else_is_managing_members() -> None:
    assert policy.member_removal_action(PRINCIPALS[Actor.EDITOR], VIEWER) is Action.MANAGE_MEMBERS


def test_auditor_writes_their_own_project() -> None:
    auditor = PRINCIPALS[Actor.AUDITOR]
    own = ProjectAccess(auditor.uid)
    assert policy.decide(auditor, Action.DELETE, own).rule == "owner"


@pytest.mark.parametrize(
    ("roles", "list_any", "audit", "manage_roles"),
    [
        (frozenset(), False, False, False),
        (frozenset({Role.AUDITOR}), True, True, False),
        (frozenset({Role.ADMIN}), True, True, True),
    ],
    ids=["no_role", "auditor", "admin"],
)
def test_role_only_permissions(
    roles: frozenset[Role], list_any: bool, audit: bool, manage_roles: bool
) -> None:
    principal = Principal("u", roles=roles)
    assert policy.may_list_any_owner(principal).allowed is list_any
    assert policy.may_read_audit_log(principal).allowed is audit
    assert policy.may_manage_roles(principal).allowed is manage_roles
