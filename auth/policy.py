"""Who may do what to a project: the project API over the declaration.

The rules themselves are data in ``auth/resources.py`` (``PROJECTS``); this module
names the project actions for the services and keeps the role-only decisions
(listing anyone's projects, the audit log, role management).
Deny by default: an action is allowed only when a grant names the caller.
``firestore.rules`` is generated from the same declaration;
``tests/integration/test_rules_parity.py`` checks the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from auth import declaration
from auth.declaration import Decision
from auth.principal import Principal, Role
from auth.resources import PROJECTS


class Action(StrEnum):
    """The project actions (the grant names of ``PROJECTS``)."""

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

    def document(self) -> dict[str, Any]:
        """The access fields as stored (what the declaration's relations read)."""
        editors, viewers = sorted(self.editors), sorted(self.viewers)
        return {
            "ownerId": self.owner_id,
            "editors": editors,
            "viewers": viewers,
            "members": [self.owner_id, *editors, *viewers],
        }


def decide(principal: Principal, action: Action, project: ProjectAccess) -> Decision:
    """Whether ``principal`` may do ``action`` on ``project``, and by which rule."""
    return declaration.decide(PROJECTS, principal, action, stored=project.document())


def member_removal_action(principal: Principal, member_uid: str) -> Action:
    """Removing yourself is leaving; removing anyone else is managing members."""
    return Action.LEAVE if member_uid == principal.uid else Action.MANAGE_MEMBERS


def authorize(
    principal: Principal,
    action: Action,
    project: ProjectAccess,
    *,
    require_verified_email: bool,
    allow_anonymous_writes: bool = False,
    proposed: Mapping[str, Any] | None = None,
) -> Decision:
    """Raise unless ``principal`` may do ``action``; return the deciding rule.

    Raises:
        NotFound: the caller may not read the project.
        AnonymousNotAllowed: a write (other than leaving) by a guest account.
        EmailNotVerified: a write (other than leaving) without a verified identity.
        PermissionDenied: readable, but no rule allows ``action``.
    """
    return declaration.authorize(
        PROJECTS,
        principal,
        action,
        stored=project.document(),
        proposed=proposed,
        require_verified_email=require_verified_email,
        allow_anonymous_writes=allow_anonymous_writes,
    )


def authorize_create(
    principal: Principal, *, require_verified_email: bool, allow_anonymous_writes: bool = False
) -> Decision:
    """Any signed-in user may create a project (with a verified identity and not as a
    guest, by default).

    Raises:
        AnonymousNotAllowed: a guest account.
        EmailNotVerified: no verified identity (email, or phone sign-in).
    """
    return declaration.authorize(
        PROJECTS,
        principal,
        "create",
        require_verified_email=require_verified_email,
        allow_anonymous_writes=allow_anonymous_writes,
    )


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
