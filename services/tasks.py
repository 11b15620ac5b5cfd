"""Task use cases. Access is decided by ``auth.resources.TASKS`` from the project
read in the same request (and, for writes, in the same transaction), so removing
a member takes away their access to every task of the project at once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from auth import TASKS, Decision, Principal, authorize_action, check_invariants
from core import request_log
from core.clock import utcnow
from core.errors import ApiError, NotFound, PreconditionFailed
from store import projects as project_documents
from store import tasks as task_documents
from store.ids import is_document_id
from store.models import Page, Project, Task
from store.projects import ProjectStore
from store.tasks import TaskFilter, TaskStore

Clock = Callable[[], datetime]

#: A patch's fields, by wire name; a key present with ``None`` (assigneeId) unassigns.
Patch = Mapping[str, Any]
_WIRE_TO_FIELD = {"title": "title", "notes": "notes", "done": "done", "assigneeId": "assignee_id"}


def action_for(patch: Patch) -> str:
    """Ticking a task (only ``done``) is its own action: its assignee may do it."""
    return "set_done" if set(patch) == {"done"} else "update"


@dataclasses.dataclass(frozen=True)
class TaskService:
    """What callers may do with tasks.

    Attributes:
        tasks: where tasks live (with their project, read in the same request).
        projects: the projects (a list reads its project first).
        require_verified_email: writes need a verified identity (``REQUIRE_VERIFIED_EMAIL``).
        allow_anonymous_writes: guest accounts may write (``ALLOW_ANONYMOUS_WRITES``).
        clock: now, for ``createdAt``/``updatedAt``.
    """

    tasks: TaskStore
    projects: ProjectStore
    require_verified_email: bool
    clock: Clock = utcnow
    allow_anonymous_writes: bool = False

    def create(
        self,
        principal: Principal,
        project_id: str,
        *,
        title: str,
        notes: str,
        done: bool,
        assignee_id: str | None,
    ) -> Task:
        _checked(project_id)
        task_id = self.tasks.new_id(project_id)

        def change(project: Project, current: Task | None) -> Task:
            now = self.clock()
            task = Task(
                id=task_id,
                project_id=project_id,
                title=title,
                notes=notes,
                done=done,
                assignee_id=assignee_id,
                created_by=principal.uid,
                created_at=now,
                updated_at=now,
                version=1,
            )
            self._authorize(principal, "create", project, None, task)
            return task

        created = self.tasks.apply(project_id, task_id, change)
        assert created is not None
        return created

    def get(self, principal: Principal, project_id: str, task_id: str) -> Task:
        project, task = self.tasks.get(_checked(project_id), _checked(task_id))
        self._authorize(principal, "read", project, task)
        if task is None:
            raise NotFound()
        return task

    def list(
        self,
        principal: Principal,
        project_id: str,
        *,
        where: TaskFilter,
        limit: int,
        cursor: str | None,
    ) -> Page[Task]:
        project = self.projects.get(_checked(project_id))
        self._authorize(principal, "read", project, None)
        return self.tasks.list_page(project_id, where=where, limit=limit, cursor=cursor)

    def edit(
        self,
        principal: Principal,
        project_id: str,
        task_id: str,
        patch: Patch,
        *,
        if_match: int | None,
    ) -> Task:
        action = action_for(patch)

        def change(project: Project, current: Task | None) -> Task:
            self._authorize(principal, "read", project, current)
            if current is None:
                raise NotFound()
            _check_version(current, if_match)
            fields = {_WIRE_TO_FIELD[key]: value for key, value in patch.items()}
            updated = dataclasses.replace(
                current, **fields, updated_at=self.clock(), version=current.version + 1
            )
            self._authorize(principal, action, project, current, updated)
            return updated

        updated = self.tasks.apply(_checked(project_id), _checked(task_id), change)
        assert updated is not None
        return updated

    def delete(
        self, principal: Principal, project_id: str, task_id: str, *, if_match: int | None
    ) -> None:
        def change(project: Project, current: Task | None) -> None:
            self._authorize(principal, "read", project, current)
            if current is None:
                raise NotFound()
            _check_version(current, if_match)
            self._authorize(principal, "delete", project, current)
            return None

        self.tasks.apply(_checked(project_id), _checked(task_id), change)

    def _authorize(
        self,
        principal: Principal,
        action: str,
        project: Project,
        current: Task | None,
        proposed: Task | None = None,
    ) -> Decision:
        """Decide with the declaration; a write must also keep the invariants
        (``assigneeId`` a member: 400 ``assignee_not_member``)."""
        resource = f"projects/{project.id}/tasks/{current.id if current else '-'}"
        parent = project_documents.to_document(project)
        path = {"projectId": project.id}
        try:
            decision = authorize_action(
                TASKS,
                principal,
                action,
                stored=task_documents.to_document(current) if current else None,
                parent=parent,
                proposed=task_documents.to_document(proposed) if proposed else None,
                path=path,
                require_verified_email=self.require_verified_email,
                allow_anonymous_writes=self.allow_anonymous_writes,
            )
            if proposed is not None:
                document = task_documents.to_document(proposed)
                check_invariants(TASKS, document, parent=parent, path=path)
        except ApiError as refusal:
            request_log.note_decision(action, resource, allowed=False, rule=refusal.code)
            raise
        request_log.note_decision(action, resource, allowed=True, rule=decision.rule)
        return decision


def _check_version(task: Task, expected: int | None) -> None:
    if expected is not None and expected != task.version:
        raise PreconditionFailed(
            f"The task is at version {task.version}, not {expected}; reload and retry."
        )


def _checked(document_id: str) -> str:
    """An ID the server could not have generated names nothing: 404, no Firestore call."""
    if not is_document_id(document_id):
        raise NotFound()
    return document_id
