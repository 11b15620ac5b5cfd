"""``Idempotency-Key`` records for ``POST /projects``: a retried create returns the
first response instead of creating a second project.

A record lives in ``idempotency/{sha256(uid, key)}`` (so keys are per user):
``pending`` while the first request runs (a short lease, so a crashed request does
not block the key for ever), then ``done`` with the created project, written in
the same commit as the project itself. Records expire after ``RECORD_TTL``; deploy
a Firestore TTL policy on ``expiresAt`` to delete them (README, "Deploying"), and
expired ones are ignored here in any case.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from google.api_core import exceptions as gexc

from core.errors import IdempotencyInProgress, IdempotencyKeyReused
from store import projects
from store.client import Firestore
from store.documents import read_modify_write
from store.errors import translated
from store.models import Project, as_datetime
from store.projects import from_document, to_document

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference

COLLECTION = "idempotency"
RECORD_TTL = timedelta(hours=24)
#: How long a ``pending`` record blocks retries before it is presumed abandoned.
PENDING_LEASE = timedelta(seconds=30)
PENDING, DONE = "pending", "done"


class IdempotencyStore(Protocol):
    """``Idempotency-Key`` records of project creation (per user and key)."""

    def claim(self, uid: str, key: str, fingerprint: str, *, now: datetime) -> Project | None:
        """Claim ``key`` for this request, or return the project an earlier one created.

        Returns:
            ``None`` if this request now owns the key (it must call ``create_project``
            or ``release``); otherwise the project created by the first request.

        Raises:
            IdempotencyKeyReused: the key was used with another body (422).
            IdempotencyInProgress: the first request is still running (409).
            Unavailable: the store could not be reached.
        """
        ...

    def create_project(self, uid: str, key: str, project: Project) -> Project:
        """Create the project and complete the record, both or neither."""
        ...

    def release(self, uid: str, key: str) -> None:
        """Give the key back after the first request failed, so a retry can run."""
        ...


class FirestoreIdempotency(IdempotencyStore):
    """``IdempotencyStore`` on the ``idempotency`` collection."""

    def __init__(self, db: Firestore) -> None:
        self._db = db

    def claim(self, uid: str, key: str, fingerprint: str, *, now: datetime) -> Project | None:
        """A fresh key costs one commit (a create, which fails if the record exists). A
        known key adds one read, and one conditional commit only to take over an expired
        record; ``store.documents.read_modify_write`` re-reads and decides again if the
        record changed in between (so two requests never both take it over)."""
        ref = self._ref(uid, key)
        timeout = self._db.timeout()
        pending = {
            "state": PENDING,
            "fingerprint": fingerprint,
            "leaseUntil": now + PENDING_LEASE,
            "expiresAt": now + RECORD_TTL,
        }
        with translated():
            try:
                ref.create(pending, timeout=timeout)
                return None
            except gexc.AlreadyExists:
                pass

        def decide(record: dict[str, Any] | None) -> dict[str, Any] | None:
            if record is None or _expired(record, now):
                return pending  # (re)claim it: create if absent, else replace the expired one
            if record.get("fingerprint") != fingerprint:
                raise IdempotencyKeyReused()
            if record.get("state") != DONE:
                raise IdempotencyInProgress()
            return record  # a replay: nothing to write

        record = read_modify_write(
            self._db.client, ref, decode=_record, encode=dict, change=decide, timeout=timeout
        ).after
        if record is pending:
            return None
        assert record is not None  # ``decide`` never deletes
        return from_document(str(record["projectId"]), dict(record["project"]))

    def create_project(self, uid: str, key: str, project: Project) -> Project:
        """Create the project and complete the record in one commit.

        Two documents, one invariant (a ``done`` record names a project that exists): a
        batch writes both or neither. No transaction: nothing needs reading, since
        ``claim`` made the record this request's.
        """
        batch = self._db.client.batch()
        batch.create(
            self._db.collection(projects.COLLECTION).document(project.id), to_document(project)
        )
        batch.update(
            self._ref(uid, key),
            {"state": DONE, "projectId": project.id, "project": to_document(project)},
        )
        with translated():
            batch.commit(timeout=self._db.timeout())
        return project

    def release(self, uid: str, key: str) -> None:
        with translated():
            self._ref(uid, key).delete(timeout=self._db.timeout())

    def _ref(self, uid: str, key: str) -> DocumentReference:
        # uid and key are client-influenced strings: hash them, never build a path from them.
        return self._db.collection(COLLECTION).document(fingerprint(uid, key))


def fingerprint(*parts: str) -> str:
    """A digest of the request body's meaning (unambiguous: length-prefixed parts)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def is_expired(
    *, state: str | None, lease_until: datetime, expires_at: datetime, now: datetime
) -> bool:
    """A record past its TTL, or a ``pending`` one whose request is presumed dead."""
    if expires_at <= now:
        return True
    return state != DONE and lease_until <= now


def _record(_doc_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return data


def _expired(data: dict[str, Any], now: datetime) -> bool:
    return is_expired(
        state=data.get("state"),
        lease_until=as_datetime(data["leaseUntil"]),
        expires_at=as_datetime(data["expiresAt"]),
        now=now,
    )
