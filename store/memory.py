"""In-memory stores with the contracts of the Firestore ones, for running the services
offline (the unit tests of ``services``): ``MemoryProjects`` is a ``ProjectStore``,
``MemoryIdempotency`` an ``IdempotencyStore``.

Same promises as Firestore where the services can tell: IDs the server could not
have generated are ``NotFound``; ``apply`` is atomic (a lock); pages are newest first
with the same cursors; an idempotent create writes the project and completes its
record together, fenced on the claim (a counter stands for Firestore's update time).
Nothing is persisted.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from core.errors import IdempotencyInProgress, IdempotencyKeyReused, NotFound
from store import cursors
from store.idempotency import (
    DONE,
    PENDING,
    PENDING_LEASE,
    RECORD_TTL,
    Claim,
    IdempotencyStore,
    is_expired,
)
from store.ids import is_document_id
from store.models import AuditEntry, Page, Project
from store.projects import AuditOf, Change, ProjectStore

_ID_ALPHABET = string.ascii_letters + string.digits


class MemoryProjects(ProjectStore):
    """``ProjectStore`` in a dict."""

    def __init__(self, *projects: Project) -> None:
        self._projects = {project.id: project for project in projects}
        self._lock = threading.Lock()
        #: The audit entries written with changes, oldest first.
        self.audit_log: list[AuditEntry] = []

    def new_id(self) -> str:
        return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))

    def create(self, project: Project) -> Project:
        with self._lock:
            self._insert(project)
        return project

    def get(self, project_id: str) -> Project:
        with self._lock:
            return self._get(project_id)

    def apply(
        self, project_id: str, change: Change, *, audit: AuditOf | None = None
    ) -> tuple[Project, Project | None]:
        with self._lock:
            current = self._get(project_id)
            updated = change(current)
            entry = audit(current, updated) if audit is not None else None
            if entry is not None:
                self.audit_log.append(entry)
            if updated is None:
                del self._projects[project_id]
            else:
                self._projects[project_id] = updated
            return current, updated

    def list_for_member(self, uid: str, *, limit: int, cursor: str | None) -> Page[Project]:
        return self._page(lambda project: uid in project.members, limit=limit, cursor=cursor)

    def list_by_owner(self, owner_id: str, *, limit: int, cursor: str | None) -> Page[Project]:
        return self._page(lambda project: project.owner_id == owner_id, limit=limit, cursor=cursor)

    def __len__(self) -> int:
        return len(self._projects)

    def _get(self, project_id: str) -> Project:
        if not is_document_id(project_id) or project_id not in self._projects:
            raise NotFound()
        return self._projects[project_id]

    def _insert(self, project: Project) -> None:
        if project.id in self._projects:
            # Firestore's create fails on an existing document: a bug, never a client error.
            raise ValueError(f"project {project.id} already exists")
        self._projects[project.id] = project

    def _page(
        self, wanted: Callable[[Project], bool], *, limit: int, cursor: str | None
    ) -> Page[Project]:
        after = cursors.decode(cursor) if cursor is not None else None
        with self._lock:
            found = sorted(
                (p for p in self._projects.values() if wanted(p)),
                key=lambda p: (p.created_at, p.id),
                reverse=True,
            )
        if after is not None:
            found = [p for p in found if (p.created_at, p.id) < after]
        return cursors.page(found, limit, lambda project: (project.created_at, project.id))


@dataclass(frozen=True)
class _Record:
    state: str
    fingerprint: str
    lease_until: datetime
    expires_at: datetime
    #: The fencing token of the claim that wrote it (``Claim.token``).
    token: int
    project: Project | None = None


class MemoryIdempotency(IdempotencyStore):
    """``IdempotencyStore`` in a dict, creating projects in ``projects``."""

    def __init__(self, projects: MemoryProjects) -> None:
        self._projects = projects
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()
        self._claims = 0

    def claim(self, uid: str, key: str, fingerprint: str, *, now: datetime) -> Claim | Project:
        with self._lock:
            record = self._records.get((uid, key))
            if record is None or is_expired(
                state=record.state,
                lease_until=record.lease_until,
                expires_at=record.expires_at,
                now=now,
            ):
                self._claims += 1
                self._records[(uid, key)] = _Record(
                    PENDING, fingerprint, now + PENDING_LEASE, now + RECORD_TTL, self._claims
                )
                return Claim(self._claims)
            if record.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            if record.state != DONE or record.project is None:
                raise IdempotencyInProgress()
            return record.project

    def create_project(self, uid: str, key: str, project: Project, claim: Claim) -> Project:
        with self._lock:
            record = self._records.get((uid, key))
            if record is None or record.token != claim.token:
                raise IdempotencyInProgress()  # taken over: the successor's now
            self._projects.create(project)
            self._records[(uid, key)] = replace(record, state=DONE, project=project)
        return project

    def release(self, uid: str, key: str, claim: Claim) -> None:
        with self._lock:
            record = self._records.get((uid, key))
            if record is not None and record.token == claim.token:
                del self._records[(uid, key)]
