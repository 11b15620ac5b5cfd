"""Request bodies, validated with pydantic (response bodies: ``handlers.wire``).

The models forbid unknown fields and do not coerce types, so ``{"name": 5}`` or a
stray ``ownerId`` is a 400 with a per-field reason, never silently accepted.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auth import RESOURCES, Role, server_managed_fields
from core import fields
from core.field_types import Description, Email, Name, TaskNotes, TaskTitle, Uid
from handlers.wire import RoleName

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


class RolesPut(Body):
    roles: list[RoleName] = Field(max_length=fields.MAX_ROLES)

    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(name) for name in self.roles)
