"""The JSON bodies the API answers with, as TypedDicts, and the functions that build them.

Endpoints declare them (``response=``), views build them (mypy checks one against the
other) and ``tools.openapi`` documents them. No pydantic here: ``/me`` imports this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from typing_extensions import TypedDict  # pydantic (the OpenAPI tool) needs it on Python < 3.12

from handlers.endpoints import Paged
from store.models import Project, Task

if TYPE_CHECKING:
    from auth import Profile

#: The wire names of ``auth.Role`` (a unit test keeps the two equal).
RoleName = Literal["admin", "auditor"]


class MeJson(TypedDict):
    uid: str
    email: str | None
    emailVerified: bool
    roles: list[RoleName]
    signInProvider: str | None
    authTime: int | None
    secondFactor: str | None
    tenant: str | None


class PersonJson(TypedDict):
    uid: str
    role: Literal["owner", "editor", "viewer"]
    email: str | None
    displayName: str | None


class ProjectJson(TypedDict):
    id: str
    name: str
    description: str
    ownerId: str
    editors: list[str]
    viewers: list[str]
    createdAt: str
    updatedAt: str
    version: int
    people: list[PersonJson]


class TaskJson(TypedDict):
    id: str
    projectId: str
    title: str
    notes: str
    done: bool
    assigneeId: str | None
    createdBy: str
    createdAt: str
    updatedAt: str
    version: int


class UserJson(TypedDict):
    uid: str
    roles: list[RoleName]
    email: str | None
    disabled: bool


class RolesJson(TypedDict):
    uid: str
    roles: list[RoleName]


class RoleChangeJson(TypedDict):
    uid: str
    roles: list[RoleName]
    sessionsRevoked: bool


class AuditEntryJson(TypedDict):
    id: str
    action: str | None
    actor: str | None
    target: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    time: str | None
    outcome: str | None
    requestId: str | None


PROJECT_PAGE = Paged("ProjectPage", ProjectJson)
TASK_PAGE = Paged("TaskPage", TaskJson)
AUDIT_PAGE = Paged("AuditPage", AuditEntryJson)


def project_json(project: Project, profiles: Mapping[str, Profile]) -> ProjectJson:
    """The project as its readers see it; ``people`` names each member by email and
    display name (``null`` where the profile was not looked up or has none)."""
    roles: list[tuple[str, Literal["owner", "editor", "viewer"]]] = [
        (project.owner_id, "owner"),
        *((uid, "editor") for uid in project.editors),
        *((uid, "viewer") for uid in project.viewers),
    ]
    people: list[PersonJson] = []
    for uid, role in roles:
        profile = profiles.get(uid)
        people.append(
            {
                "uid": uid,
                "role": role,
                "email": profile.email if profile else None,
                "displayName": profile.display_name if profile else None,
            }
        )
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "ownerId": project.owner_id,
        "editors": list(project.editors),
        "viewers": list(project.viewers),
        "createdAt": project.created_at.isoformat(),
        "updatedAt": project.updated_at.isoformat(),
        "version": project.version,
        "people": people,
    }


def task_json(task: Task) -> TaskJson:
    return {
        "id": task.id,
        "projectId": task.project_id,
        "title": task.title,
        "notes": task.notes,
        "done": task.done,
        "assigneeId": task.assignee_id,
        "createdBy": task.created_by,
        "createdAt": task.created_at.isoformat(),
        "updatedAt": task.updated_at.isoformat(),
        "version": task.version,
    }


def audit_json(entry: dict[str, Any]) -> AuditEntryJson:
    when: Any = entry.get("time")
    return {
        "id": entry["id"],
        "action": entry.get("action"),
        "actor": entry.get("actor"),
        "target": entry.get("target"),
        "before": entry.get("before"),
        "after": entry.get("after"),
        "time": when.isoformat() if hasattr(when, "isoformat") else None,
        "outcome": entry.get("outcome"),
        "requestId": entry.get("requestId"),
    }
