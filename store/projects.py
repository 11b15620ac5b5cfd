"""The ``projects`` collection: ``ProjectStore``, what the services need of it, and
``FirestoreProjects``, the store itself (``store.memory.MemoryProjects`` is the
in-memory one the unit tests use).

Stored fields are the wire fields plus ``members`` (owner + editors + viewers),
which lets one ``array-contains`` query list everything a user may read by
relation, and lets ``firestore.rules`` test membership cheaply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import NotFound
from core.fields import is_uid
from store import cursors
from store.audit import APPLIED
from store.audit import COLLECTION as AUDIT_COLLECTION
from store.audit import to_document as audit_document
from store.client import Firestore
from store.documents import Creates, read_modify_write
from store.errors import translated
from store.ids import is_document_id
from store.models import AuditEntry, Page, Project, as_datetime

if TYPE_CHECKING:
    from google.cloud.firestore import CollectionReference, DocumentReference, Query

logger = logging.getLogger(__name__)

COLLECTION = "projects"
#: Fresh transactions tried, with back-off, before contention becomes 409 ``busy``
#: (multi-document transactions: a task and its project).
CONTENTION_ROUNDS = 4

#: A change computes the new state from the current one (pure; it may be retried),
#: returns ``None`` to delete, or raises an ``ApiError`` to abort without writing.
Change = Callable[[Project], "Project | None"]
#: (before, after) -> the audit entry of a change (or ``None``), stored in its commit.
AuditOf = Callable[[Project, "Project | None"], "AuditEntry | None"]


class ProjectStore(Protocol):
    """Where projects live. Every method raises ``Unavailable`` when the store cannot be
    reached; IDs the server could not have generated are ``NotFound``, never looked up."""

    def new_id(self) -> str:
        """A fresh server-generated project ID."""
        ...

    def create(self, project: Project) -> Project:
        """Store a new project (one write)."""
        ...

    def get(self, project_id: str) -> Project:
        """Raises: NotFound."""
        ...

    def apply(
        self, project_id: str, change: Change, *, audit: AuditOf | None = None
    ) -> tuple[Project, Project | None]:
        """Read, change and write one project atomically (see ``apply`` below), with
        the change's audit entry, if any, in the same write.

        Returns:
            (the state the change saw, the new state or ``None`` if deleted).

        Raises:
            NotFound: no such project (nothing written).
            ApiError: whatever ``change`` raised (nothing written).
            Busy: contention outlasted the retries.
        """
        ...

    def list_for_member(self, uid: str, *, limit: int, cursor: str | None) -> Page[Project]:
        """Projects ``uid`` owns or shares, newest first. Raises: InvalidCursor."""
        ...

    def list_by_owner(self, owner_id: str, *, limit: int, cursor: str | None) -> Page[Project]:
        """Projects owned by ``owner_id``, newest first. Raises: InvalidCursor."""
        ...


class FirestoreProjects(ProjectStore):
    """``ProjectStore`` on the ``projects`` collection."""

    def __init__(self, db: Firestore) -> None:
        self._db = db

    def new_id(self) -> str:
        """A fresh server-generated project ID (Firestore auto-ID)."""
        doc_id: str = _collection(self._db).document().id
        return doc_id

    def create(self, project: Project) -> Project:
        """Store a new project; one commit. Raises: Unavailable."""
        with translated():
            _ref(self._db, project.id).create(to_document(project), timeout=self._db.timeout())
        return project

    def get(self, project_id: str) -> Project:
        """Raises: NotFound (also for IDs that cannot exist), Unavailable."""
        with translated():
            snapshot = _ref(self._db, project_id).get(timeout=self._db.timeout())
        if not snapshot.exists:
            raise NotFound()
        return from_document(snapshot.id, snapshot.to_dict() or {})

    def apply(
        self, project_id: str, change: Change, *, audit: AuditOf | None = None
    ) -> tuple[Project, Project | None]:
        return apply(self._db, project_id, change, audit=audit)

    def list_for_member(self, uid: str, *, limit: int, cursor: str | None) -> Page[Project]:
        """Projects ``uid`` owns or shares, newest first: one query."""
        from google.cloud.firestore import FieldFilter

        query = _collection(self._db).where(filter=FieldFilter("members", "array_contains", uid))
        return _page(self._db, query, limit=limit, cursor=cursor)

    def list_by_owner(self, owner_id: str, *, limit: int, cursor: str | None) -> Page[Project]:
        """Projects owned by ``owner_id``, newest first: one query."""
        from google.cloud.firestore import FieldFilter

        query = _collection(self._db).where(filter=FieldFilter("ownerId", "==", owner_id))
        return _page(self._db, query, limit=limit, cursor=cursor)


def apply(
    db: Firestore, project_id: str, change: Change, *, audit: AuditOf | None = None
) -> tuple[Project, Project | None]:
    """Read, change and write one project: one read and one conditional commit (which
    also creates the change's audit entry, so both land or neither).

    The commit holds only if nobody wrote the project since the read; otherwise the
    change runs again on a fresh read (``store.documents.read_modify_write``), so it
    always applies to the state it saw.

    Returns:
        (the state the change saw, the new state or ``None`` if deleted).

    Raises:
        NotFound: no such project (nothing written).
        ApiError: whatever ``change`` raised (nothing written).
        Busy: other writers kept changing the project for every round.
        Unavailable: Firestore could not be reached.
    """
    ref = _ref(db, project_id)

    def existing(current: Project | None) -> Project | None:
        if current is None:
            raise NotFound()
        return change(current)

    def audited(before: Project | None, after: Project | None) -> Creates:
        entry = audit(before, after) if audit is not None and before is not None else None
        if entry is None:
            return ()
        document = {**audit_document(entry), "outcome": APPLIED}
        return [(db.collection(AUDIT_COLLECTION).document(entry.id), document)]

    outcome = read_modify_write(
        db.client,
        ref,
        decode=from_document,
        encode=to_document,
        change=existing,
        timeout=db.timeout(),
        also=audited,
    )
    assert outcome.before is not None  # ``existing`` raised otherwise
    return outcome.before, outcome.after


def _page(db: Firestore, query: Query, *, limit: int, cursor: str | None) -> Page[Project]:
    from google.cloud import firestore

    descending = firestore.Query.DESCENDING
    ordered = query.order_by("createdAt", direction=descending).order_by(
        "__name__", direction=descending
    )
    if cursor is not None:
        created_at, doc_id = cursors.decode(cursor)
        ordered = ordered.start_after({"createdAt": created_at, "__name__": doc_id})
    with translated():
        snapshots = list(ordered.limit(limit + 1).stream(timeout=db.timeout()))
    found = [from_document(s.id, s.to_dict() or {}) for s in snapshots]
    return cursors.page(found, limit, lambda project: (project.created_at, project.id))


def to_document(project: Project) -> dict[str, Any]:
    return {
        "name": project.name,
        "description": project.description,
        "ownerId": project.owner_id,
        "editors": list(project.editors),
        "viewers": list(project.viewers),
        "members": list(project.members),
        "createdAt": project.created_at,
        "updatedAt": project.updated_at,
        "version": project.version,
    }


def from_document(doc_id: str, data: dict[str, Any]) -> Project:
    return Project(
        id=doc_id,
        name=str(data.get("name", "")),
        description=str(data.get("description", "")),
        owner_id=str(data["ownerId"]),
        editors=_uids(data.get("editors"), doc_id),
        viewers=_uids(data.get("viewers"), doc_id),
        created_at=as_datetime(data["createdAt"]),
        updated_at=as_datetime(data["updatedAt"]),
        version=int(data.get("version", 1)),
    )


def _uids(value: object, doc_id: str) -> tuple[str, ...]:
    """A member list as stored. Clients that write Firestore directly are held to its
    shape by the rules, but the rules language cannot check each element's type, so an
    element that is not a uid (a number, a 500-character string) is dropped here: it
    can match no caller, and must not reach code that expects a uid (never a 500)."""
    if not isinstance(value, list | tuple):
        return ()
    uids = tuple(item for item in value if isinstance(item, str) and is_uid(item))
    if len(uids) != len(value):
        logger.warning(
            "project %s holds %d member entries that are not uids", doc_id, len(value) - len(uids)
        )
    return uids


def _collection(db: Firestore) -> CollectionReference:
    return db.collection(COLLECTION)


def ref(db: Firestore, project_id: str) -> DocumentReference:
    """The project's document (also the parent of its tasks). Raises: NotFound for a bad ID."""
    return _ref(db, project_id)


def _ref(db: Firestore, project_id: str) -> DocumentReference:
    if not is_document_id(project_id):
        # Callers validate first; this keeps the promise even if one forgets.
        raise NotFound()
    return _collection(db).document(project_id)
