"""Project use cases. Every write reads the project, checks the policy and ``If-Match``
on what it read, and commits only if the project is still as read (else all of it runs
again on a fresh read: ``ProjectStore.apply``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from auth import (
    Action,
    Decision,
    Principal,
    UserRecord,
    authorize,
    authorize_create,
    may_list_any_owner,
    member_removal_action,
)
from core import request_log
from core.clock import utcnow
from core.errors import ApiError, NotFound, PermissionDenied, UnknownUser
from services import project_changes as changes
from services.project_changes import MemberRole
from store.idempotency import Claim, IdempotencyStore, fingerprint
from store.ids import is_document_id
from store.models import AuditEntry, Page, Project
from store.projects import AuditOf, ProjectStore
from store.tasks import TaskStore

UserExists = Callable[[str], bool]
T = TypeVar("T")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class ProjectService:
    """What callers may do with projects, on a ``ProjectStore`` (Firestore, or in memory).

    Attributes:
        projects: where projects live.
        idempotency: ``Idempotency-Key`` records of creates.
        require_verified_email: writes need a verified identity (``REQUIRE_VERIFIED_EMAIL``).
        allow_anonymous_writes: guest accounts may write (``ALLOW_ANONYMOUS_WRITES``).
        user_exists: whether a uid names a user (new members and owners must exist).
        find_by_email: the account with an email (sharing by email).
        tasks: the projects' tasks, deleted with their project (``None``: no tasks, as
            in unit tests of projects alone).
        clock: now, for ``createdAt``/``updatedAt``.
    """

    projects: ProjectStore
    idempotency: IdempotencyStore
    require_verified_email: bool
    user_exists: UserExists
    find_by_email: Callable[[str], UserRecord] | None = None
    tasks: TaskStore | None = None
    clock: Clock = utcnow
    allow_anonymous_writes: bool = False

    def create(
        self,
        principal: Principal,
        *,
        name: str,
        description: str,
        idempotency_key: str | None = None,
    ) -> tuple[Project, bool]:
        """Create a project owned by the caller.

        With an ``idempotency_key``, a retry with the same body returns the project
        the first request created instead of a second one.

        Returns:
            (the project, whether it is a replay of an earlier request).
        """
        try:
            decision = authorize_create(
                principal,
                require_verified_email=self.require_verified_email,
                allow_anonymous_writes=self.allow_anonymous_writes,
            )
        except ApiError as refusal:
            request_log.note_decision("create", "projects", allowed=False, rule=refusal.code)
            raise
        request_log.note_decision("create", "projects", allowed=True, rule=decision.rule)
        now = self.clock()
        claim: Claim | None = None
        if idempotency_key is not None:
            body = fingerprint(name, description)
            claimed = self.idempotency.claim(principal.uid, idempotency_key, body, now=now)
            if isinstance(claimed, Project):
                return claimed, True
            claim = claimed
        project = Project(
            id=self.projects.new_id(),
            name=name,
            description=description,
            owner_id=principal.uid,
            editors=(),
            viewers=(),
            created_at=now,
            updated_at=now,
            version=1,
        )
        if idempotency_key is None or claim is None:
            return self.projects.create(project), False
        try:
            created = self.idempotency.create_project(
                principal.uid, idempotency_key, project, claim
            )
        except BaseException:
            with contextlib.suppress(ApiError):  # fenced: never the successor's record
                self.idempotency.release(principal.uid, idempotency_key, claim)
            raise
        return created, False

    def get(self, principal: Principal, project_id: str) -> Project:
        project = self.projects.get(_checked_id(project_id))
        self._authorize(principal, Action.READ, project)
        return project

    def list(
        self, principal: Principal, *, limit: int, cursor: str | None, owner_id: str | None
    ) -> Page[Project]:
        """Owned and shared projects, or (admin, auditor) anyone's with ``owner_id``."""
        if owner_id is None:
            request_log.note_decision("list", "projects", allowed=True, rule="member")
            return self.projects.list_for_member(principal.uid, limit=limit, cursor=cursor)
        resource = f"projects?ownerId={owner_id}"
        decision = (
            Decision(True, "owner") if owner_id == principal.uid else may_list_any_owner(principal)
        )
        request_log.note_decision("list", resource, allowed=decision.allowed, rule=decision.rule)
        if not decision.allowed:
            raise PermissionDenied("Only admins and auditors may list other users' projects.")
        return self.projects.list_by_owner(owner_id, limit=limit, cursor=cursor)

    def edit(
        self,
        principal: Principal,
        project_id: str,
        *,
        name: str | None,
        description: str | None,
        if_match: int | None,
    ) -> Project:
        def change(project: Project) -> Project:
            self._authorize(principal, Action.UPDATE, project)
            changes.check_version(project, if_match)
            return changes.edited(project, now=self.clock(), name=name, description=description)

        return self._apply(project_id, change)

    def delete(self, principal: Principal, project_id: str, *, if_match: int | None) -> None:
        def change(project: Project) -> None:
            self._authorize(principal, Action.DELETE, project)
            changes.check_version(project, if_match)
            return None

        self.projects.apply(
            _checked_id(project_id), change, audit=self._audit(principal, "project.deleted")
        )
        # The project is gone, so no task is readable any more; now remove them.
        if self.tasks is not None:
            self.tasks.delete_all(project_id)

    def put_member(
        self,
        principal: Principal,
        project_id: str,
        member_uid: str,
        role: MemberRole,
        *,
        if_match: int | None,
    ) -> Project:
        require_user = _once(self.user_exists)

        def member(project: Project) -> str:
            if member_uid != project.owner_id and not require_user(member_uid):
                raise UnknownUser(details={"uid": "no user has this uid"})
            return member_uid

        return self._share(principal, project_id, member, role, if_match=if_match)

    def share_by_email(
        self,
        principal: Principal,
        project_id: str,
        email: str,
        role: MemberRole,
        *,
        if_match: int | None,
    ) -> Project:
        """Add the user with ``email``. The email is looked up only after the caller's
        right to share is checked (in the same read-check-write), so the lookup cannot
        probe which accounts exist.

        Raises:
            UserNotFound: no account has this email (404 user_not_found).
        """
        if self.find_by_email is None:
            raise NotImplementedError("this ProjectService was built without find_by_email")
        find_by_email = self.find_by_email
        find = _once(lambda address: find_by_email(address).uid)
        return self._share(principal, project_id, lambda _: find(email), role, if_match=if_match)

    def _share(
        self,
        principal: Principal,
        project_id: str,
        member: Callable[[Project], str],
        role: MemberRole,
        *,
        if_match: int | None,
    ) -> Project:
        """Add or re-role the member ``member(project)`` names, once the caller may."""

        def change(project: Project) -> Project:
            self._authorize(principal, Action.MANAGE_MEMBERS, project)
            changes.check_version(project, if_match)
            return changes.with_member(project, member(project), role, now=self.clock())

        return self._apply(project_id, change, self._audit(principal, "project.shared"))

    def remove_member(
        self, principal: Principal, project_id: str, member_uid: str, *, if_match: int | None
    ) -> Project:
        def change(project: Project) -> Project:
            action = member_removal_action(principal, member_uid)
            self._authorize(principal, action, project)
            changes.check_version(project, if_match)
            return changes.without_member(project, member_uid, now=self.clock())

        return self._apply(project_id, change, self._audit(principal, "project.member_removed"))

    def transfer(
        self, principal: Principal, project_id: str, new_owner: str, *, if_match: int | None
    ) -> Project:
        require_user = _once(self.user_exists)

        def change(project: Project) -> Project:
            self._authorize(principal, Action.TRANSFER, project)
            changes.check_version(project, if_match)
            if new_owner != project.owner_id and not require_user(new_owner):
                raise UnknownUser(details={"ownerId": "no user has this uid"})
            return changes.transferred(project, new_owner, now=self.clock())

        return self._apply(project_id, change, self._audit(principal, "project.transferred"))

    def _apply(
        self, project_id: str, change: Callable[[Project], Project], audit: AuditOf | None = None
    ) -> Project:
        _, updated = self.projects.apply(_checked_id(project_id), change, audit=audit)
        assert updated is not None  # the change never deletes
        return updated

    def _audit(self, principal: Principal, action: str) -> AuditOf:
        """The audit entry of a change of who may access a project, written in the same
        commit as the change (``ProjectStore.apply``)."""
        request_id = request_log.current_request_id()

        def entry(before: Project, after: Project | None) -> AuditEntry:
            return AuditEntry(
                id=self.projects.new_id(),  # a fresh one per attempt: never a collision
                action=action,
                actor=principal.uid,
                target=f"projects/{before.id}",
                before=_access(before),
                after=_access(after),
                time=self.clock(),
                request_id=request_id,
            )

        return entry

    def _authorize(self, principal: Principal, action: Action, project: Project) -> Decision:
        resource = f"projects/{project.id}"
        try:
            decision = authorize(
                principal,
                action,
                project.access,
                require_verified_email=self.require_verified_email,
                allow_anonymous_writes=self.allow_anonymous_writes,
            )
        except ApiError as refusal:
            request_log.note_decision(action, resource, allowed=False, rule=refusal.code)
            raise
        request_log.note_decision(action, resource, allowed=True, rule=decision.rule)
        return decision


def _access(project: Project | None) -> dict[str, Any]:
    """What an audit entry records of a project: who owns it and who shares it."""
    if project is None:
        return {}
    return {
        "ownerId": project.owner_id,
        "editors": list(project.editors),
        "viewers": list(project.viewers),
    }


def _checked_id(project_id: str) -> str:
    """An ID the server could not have generated names no project: 404, no Firestore call."""
    if not is_document_id(project_id):
        raise NotFound()
    return project_id


def _once(lookup: Callable[[str], T]) -> Callable[[str], T]:
    """Memoise within one request: a retry after a lost race must not repeat the Auth call."""
    seen: dict[str, T] = {}

    def cached(key: str) -> T:
        if key not in seen:
            seen[key] = lookup(key)
        return seen[key]

    return cached
