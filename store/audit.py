"""The ``auditLog`` collection: one entry per role change, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from store import cursors
from store.client import get_client, timeout
from store.errors import translated
from store.models import AuditEntry, Page, as_datetime

if TYPE_CHECKING:
    from google.cloud.firestore import CollectionReference

COLLECTION = "auditLog"
PENDING, APPLIED = "pending", "applied"


def record(entry: AuditEntry) -> AuditEntry:
    """Store an entry with outcome ``pending``; ``mark_applied`` completes it."""
    with translated():
        _collection().document(entry.id).create(
            {**to_document(entry), "outcome": PENDING}, timeout=timeout()
        )
    return entry


def new_id() -> str:
    doc_id: str = _collection().document().id
    return doc_id


def mark_applied(entry_id: str) -> None:
    with translated():
        _collection().document(entry_id).update({"outcome": APPLIED}, timeout=timeout())


def list_entries(*, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
    """Entries newest first, each with its ``outcome``: one query per page."""
    from google.cloud.firestore import Query

    query = (
        _collection()
        .order_by("time", direction=Query.DESCENDING)
        .order_by("__name__", direction=Query.DESCENDING)
    )
    if cursor is not None:
        when, doc_id = cursors.decode(cursor)
        query = query.start_after({"time": when, "__name__": doc_id})
    with translated():
        snapshots = list(query.limit(limit + 1).stream(timeout=timeout()))
    items = [{"id": s.id, **(s.to_dict() or {})} for s in snapshots[:limit]]
    next_cursor = None
    if len(snapshots) > limit:
        last = items[-1]
        next_cursor = cursors.encode(as_datetime(last["time"]), last["id"])
    return Page(items=items, next_cursor=next_cursor)


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


def _collection() -> CollectionReference:
    return get_client().collection(COLLECTION)
