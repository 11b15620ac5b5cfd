"""Wire shapes: request bodies validated with pydantic, response bodies as TypedDicts.

The models forbid unknown fields and do not coerce types, so ``{"name": 5}`` or a
stray ``ownerId`` is a 400 with a per-field reason, never silently accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict  # pydantic (OpenAPI) needs it on Python < 3.12

from auth.declaration import server_managed_fields
from auth.directory import Profile
from auth.principal import Role
from auth.resources import RESOURCES
from core.fields import Description, Email, Name, TaskNotes, TaskTitle, Uid
from store.models import Project, Task

#: Fields only the server sets (from the declarations); a client sending one gets a
#: specific reason.
SERVER_MANAGED_FIELDS = server_managed_fields(RESOURCES)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProjectCreate(Body):
    name: Name
    description: Description = ""


class ProjectPatch(Body):
    # minProperties: what ``_not_empty`` checks, said in the JSON Schema (OpenAPI) too.
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    name: Name | None = None
    description: Description | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ProjectPatch:
        if self.name is None and self.description is None:
            raise ValueError("send at least one of name, description")
        return self


class TaskCreate(Body):
    title: TaskTitle
    notes: TaskNotes = ""
    done: bool = False
    assigneeId: Uid | None = None  # noqa: N815 - the wire name


class TaskPatch(Body):
    """Any non-empty subset; ``assigneeId: null`` unassigns (absent leaves it)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    title: TaskTitle | None = None
    notes: TaskNotes | None = None
    done: bool | None = None
    assigneeId: Uid | None = None  # noqa: N815 - the wire name

    @model_validator(mode="after")
    def _not_empty(self) -> TaskPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one of title, notes, done, assigneeId")
        for name in ("title", "notes", "done"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields sent, by wire name."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


class MemberPut(Body):
    role: Literal["editor", "viewer"]


class MemberByEmail(Body):
    email: Email
    role: Literal["editor", "viewer"]


class TransferBody(Body):
    ownerId: Uid  # noqa: N815 - the wire name


#: The wire names of ``auth.principal.Role`` (a unit test keeps the two equal).
RoleName = Literal["admin", "auditor"]


class RolesPut(Body):
    roles: list[RoleName] = Field(max_length=10)

    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(name) for name in self.roles)


# --- responses -------------------------------------------------------------


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


def audit_json(entry: dict[str, Any]) -> dict[str, Any]:
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
