"""Who may do what to a project: the whole rule set, as pure functions.

| action                          | allowed                                 |
|---------------------------------|-----------------------------------------|
| create                          | any signed-in user with a verified email |
| read                            | owner, editors, viewers, admin, auditor |
| update name/description         | owner, editors, admin                   |
| add/remove members, transfer    | owner, admin (a member may remove self) |
| delete                          | owner, admin                            |

Writes additionally need a verified email (``require_verified_email``).
Deny by default: an action is allowed only when a row above names the caller.
``firestore.rules`` encodes the same table for direct Firestore clients;
``tests/integration/test_rules_parity.py`` checks the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from enum import StrEnum

from auth.principal import Principal, Role
from core.errors import EmailNotVerified, NotFound, PermissionDenied


class Action(StrEnum):
    READ = "read"
    UPDATE = "update"
    MANAGE_MEMBERS = "manage_members"
    LEAVE = "leave"
    TRANSFER = "transfer"
    DELETE = "delete"


class Relation(StrEnum):
    """The caller's relation to one project."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"
    NONE = "none"


@dataclass(frozen=True)
class ProjectAccess:
    """The part of a project that decides access."""

    owner_id: str
    editors: frozenset[str] = frozenset()
    viewers: frozenset[str] = frozenset()

    def relation_of(self, uid: str) -> Relation:
        if uid == self.owner_id:
            return Relation.OWNER
        if uid in self.editors:
            return Relation.EDITOR
        if uid in self.viewers:
            return Relation.VIEWER
        return Relation.NONE


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: The rule that decided, e.g. ``owner``, ``role:admin`` or ``deny``.
    rule: str


@dataclass(frozen=True)
class Rule:
    relations: frozenset[Relation]
    roles: frozenset[Role]


def _rule(relations: set[Relation], roles: set[Role]) -> Rule:
    return Rule(frozenset(relations), frozenset(roles))


_O, _E, _V = Relation.OWNER, Relation.EDITOR, Relation.VIEWER

RULES: Mapping[Action, Rule] = {
    Action.READ: _rule({_O, _E, _V}, {Role.ADMIN, Role.AUDITOR}),
    Action.UPDATE: _rule({_O, _E}, {Role.ADMIN}),
    Action.MANAGE_MEMBERS: _rule({_O}, {Role.ADMIN}),
    Action.LEAVE: _rule({_E, _V}, set()),
    Action.TRANSFER: _rule({_O}, {Role.ADMIN}),
    Action.DELETE: _rule({_O}, {Role.ADMIN}),
}

WRITE_ACTIONS = frozenset(set(Action) - {Action.READ})


def decide(principal: Principal, action: Action, project: ProjectAccess) -> Decision:
    """Whether ``principal`` may do ``action`` on ``project``, and by which rule.

    Relations win over roles so that the log names the narrower reason.
    """
    rule = RULES[action]
    relation = project.relation_of(principal.uid)
    if relation in rule.relations:
        return Decision(True, relation.value)
    return _by_role(principal, rule.roles)


def member_removal_action(principal: Principal, member_uid: str) -> Action:
    """Removing yourself is leaving; removing anyone else is managing members."""
    return Action.LEAVE if member_uid == principal.uid else Action.MANAGE_MEMBERS


def authorize(
    principal: Principal,
    action: Action,
    project: ProjectAccess,
    *,
    require_verified_email: bool,
) -> Decision:
    """Raise unless ``principal`` may do ``action``; return the deciding rule.

    A project the caller cannot read answers 404, as if it did not exist, so
    that IDs cannot be probed; one it can read but not change answers 403.

    Raises:
        NotFound: the caller may not read the project.
        EmailNotVerified: a write by an unverified account.
        PermissionDenied: readable, but no rule allows ``action``.
    """
    if not decide(principal, Action.READ, project).allowed:
        raise NotFound()
    if action in WRITE_ACTIONS and require_verified_email and not principal.email_verified:
        raise EmailNotVerified()
    decision = decide(principal, action, project)
    if not decision.allowed:
        raise PermissionDenied()
    return decision


def authorize_create(principal: Principal, *, require_verified_email: bool) -> Decision:
    """Any signed-in user may create a project (with a verified email, by default).

    Raises:
        EmailNotVerified: the account's email is not verified.
    """
    if require_verified_email and not principal.email_verified:
        raise EmailNotVerified()
    return Decision(True, "signed_in")


def may_list_any_owner(principal: Principal) -> Decision:
    """Listing another user's projects (``ownerId=``) is for admins and auditors."""
    return _by_role(principal, {Role.ADMIN, Role.AUDITOR})


def may_read_audit_log(principal: Principal) -> Decision:
    return may_list_any_owner(principal)


def may_manage_roles(principal: Principal) -> Decision:
    return _by_role(principal, {Role.ADMIN})


def _by_role(principal: Principal, roles: Set[Role]) -> Decision:
    granting = sorted(principal.roles & roles)
    if granting:
        return Decision(True, f"role:{granting[0].value}")
    return Decision(False, "deny")
