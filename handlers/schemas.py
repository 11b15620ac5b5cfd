"""Request bodies, validated with pydantic (response bodies: ``handlers.wire``).

The models forbid unknown fields and do not coerce types, so ``{"name": 5}`` or a
stray ``ownerId`` is a 400 with a per-field reason, never silently accepted.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from auth import Role
from core import fields
from handlers.wire import RoleName

#: Fields only the server sets; a client sending one gets a specific reason.
SERVER_MANAGED_FIELDS = frozenset(
    {"id", "ownerId", "editors", "viewers", "members", "createdAt", "updatedAt", "version"}
)


def constrained(rule: fields.Text, *, strip_whitespace: bool = False) -> StringConstraints:
    """A ``core.fields`` rule as pydantic constraints (the JSON Schema says the same)."""
    return StringConstraints(
        strip_whitespace=strip_whitespace or None,
        min_length=rule.min_length,
        max_length=rule.max_length,
        pattern=rule.json_pattern,
    )


#: Stripped first, then: not only whitespace (a JSON Schema cannot say "after stripping").
Name = Annotated[str, constrained(fields.PROJECT_NAME, strip_whitespace=True)]
Description = Annotated[str, constrained(fields.PROJECT_DESCRIPTION)]
#: The bounds of a uid; views also apply ``core.fields.is_uid`` (``handlers.bodies.require_uid``).
Uid = Annotated[str, constrained(fields.UID)]


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


class MemberPut(Body):
    role: Literal["editor", "viewer"]


class TransferBody(Body):
    ownerId: Uid  # noqa: N815 - the wire name


class RolesPut(Body):
    roles: list[RoleName] = Field(max_length=fields.MAX_ROLES)

    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(name) for name in self.roles)
