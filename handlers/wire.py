"""The JSON bodies the API answers with, as TypedDicts, and the functions that build them.

Endpoints declare them (``response=``), views build them (mypy checks one against the
other) and ``tools.openapi`` documents them. No pydantic here: ``/me`` imports this.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from handlers.endpoints import Paged
from store.models import Project

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
AUDIT_PAGE = Paged("AuditPage", AuditEntryJson)


def project_json(project: Project) -> ProjectJson:
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
