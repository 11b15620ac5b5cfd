"""Plain records as the backend persists them (no Firestore types leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from auth import ProjectAccess


def as_datetime(value: Any) -> datetime:
    """A Firestore timestamp (``DatetimeWithNanoseconds``, a datetime) or a loud error."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a timestamp, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    description: str
    owner_id: str
    editors: tuple[str, ...]
    viewers: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    version: int

    @property
    def access(self) -> ProjectAccess:
        return ProjectAccess(self.owner_id, frozenset(self.editors), frozenset(self.viewers))

    @property
    def members(self) -> tuple[str, ...]:
        """Everyone who may read it by relation: the owner first, then editors, viewers."""
        return (self.owner_id, *self.editors, *self.viewers)


@dataclass(frozen=True)
class Task:
    id: str
    project_id: str
    title: str
    notes: str
    done: bool
    assignee_id: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True)
class AuditEntry:
    id: str
    action: str
    actor: str
    target: str
    before: dict[str, Any]
    after: dict[str, Any]
    time: datetime
    request_id: str | None = None


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None
