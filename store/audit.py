"""The ``auditLog`` collection: one entry per role change, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc

from core.errors import Busy
from store import cursors
from store.client import Firestore
from store.errors import translated
from store.locks import LOST_MESSAGE
from store.models import AuditEntry, Page, as_datetime

if TYPE_CHECKING:
    from google.cloud.firestore import CollectionReference

    from store.locks import Lease

COLLECTION = "auditLog"
PENDING, APPLIED = "pending", "applied"


class FirestoreAuditLog:
    """The audit log on the ``auditLog`` collection."""

    def __init__(self, db: Firestore) -> None:
        self._db = db

    def record(self, entry: AuditEntry) -> AuditEntry:
        """Store an entry with outcome ``pending``; ``mark_applied`` completes it."""
        with translated():
            self._collection().document(entry.id).create(
                {**to_document(entry), "outcome": PENDING}, timeout=self._db.timeout()
            )
        return entry

    def new_id(self) -> str:
        doc_id: str = self._collection().document().id
        return doc_id

    def mark_applied(self, entry_id: str, *, fence: Lease | None = None) -> None:
        """Mark the entry ``applied``. With ``fence``, only while that lease is still held,
        and releasing it in the same commit: a holder that lost its lease leaves its
        entry ``pending`` (its change may have been overwritten by the next holder's).

        Raises:
            Busy: ``fence`` was lost (nothing written; the entry stays ``pending``).
            Unavailable: Firestore could not be reached.
        """
        entry = self._collection().document(entry_id)
        if fence is None:
            with translated():
                entry.update({"outcome": APPLIED}, timeout=self._db.timeout())
            return
        batch = self._db.client.batch()
        batch.update(entry, {"outcome": APPLIED})
        fence.fence(batch)
        with translated():
            try:
                batch.commit(timeout=self._db.timeout())
            except (gexc.FailedPrecondition, gexc.NotFound):
                raise Busy(LOST_MESSAGE) from None
        fence.released = True

    def list_entries(self, *, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
        """Entries newest first, each with its ``outcome``: one query per page."""
        from google.cloud.firestore import Query

        query = (
            self._collection()
            .order_by("time", direction=Query.DESCENDING)
            .order_by("__name__", direction=Query.DESCENDING)
        )
        if cursor is not None:
            when, doc_id = cursors.decode(cursor)
            query = query.start_after({"time": when, "__name__": doc_id})
        with translated():
            snapshots = list(query.limit(limit + 1).stream(timeout=self._db.timeout()))
        found = [{"id": s.id, **(s.to_dict() or {})} for s in snapshots]
        return cursors.page(found, limit, lambda entry: (as_datetime(entry["time"]), entry["id"]))

    def _collection(self) -> CollectionReference:
        return self._db.collection(COLLECTION)


def to_document(entry: AuditEntry) -> dict[str, Any]:
    return {
        "action": entry.action,
        "actor": entry.actor,
        "target": entry.target,
        "before": entry.before,
        "after": entry.after,
        "time": entry.time,
        "requestId": entry.request_id,
    }
