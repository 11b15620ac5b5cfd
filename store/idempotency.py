"""``Idempotency-Key`` records for ``POST /projects``: a retried create returns the
first response instead of creating a second project.

A record lives in ``idempotency/{sha256(uid, key)}`` (so keys are per user):
``pending`` while the first request runs (a short lease, so a crashed request does
not block the key for ever), then ``done`` with the created project, written in
the same commit as the project itself.

**Fencing.** A request may outlive its ``pending`` lease (a stalled instance) while
a retry takes the key over. ``claim`` hands the request a ``Claim`` whose token is
the update time of the record it wrote; ``create_project`` (the batch that creates
the project and completes the record) and ``release`` (the delete) are both
preconditioned on it, so a stale request creates nothing and deletes nothing of its
successor's: it is told ``idempotency_in_progress`` (409), and a retry gets the
successor's project. Records expire after ``RECORD_TTL``; deploy
a Firestore TTL policy on ``expiresAt`` to delete them (README, "Deploying"), and
expired ones are ignored here in any case.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Claim:
    """This request's hold on a key, and its fencing token: the update time of the
    ``pending`` record it wrote (in Firestore; a counter in memory). Opaque to callers."""

    token: Any


class IdempotencyStore(Protocol):
    """``Idempotency-Key`` records of project creation (per user and key)."""

    def claim(self, uid: str, key: str, fingerprint: str, *, now: datetime) -> Claim | Project:
        """Claim ``key`` for this request, or return the project an earlier one created.

        Returns:
            A ``Claim`` if this request now owns the key (it must call ``create_project``
            or ``release`` with it); otherwise the project created by the first request.

        Raises:
            IdempotencyKeyReused: the key was used with another body (422).
            IdempotencyInProgress: the first request is still running (409).
            Unavailable: the store could not be reached.
        """
        ...

    def create_project(self, uid: str, key: str, project: Project, claim: Claim) -> Project:
        """Create the project and complete the record, both or neither, only while the
        record is still ``claim``'s.

        Raises:
            IdempotencyInProgress: the claim was taken over (its lease expired): nothing
                written.
            Unavailable: the store could not be reached.
        """
        ...

    def release(self, uid: str, key: str, claim: Claim) -> None:
        """Give the key back after the first request failed, so a retry can run; a
        record that is no longer ``claim``'s is left alone."""
        ...


class FirestoreIdempotency(IdempotencyStore):
    """``IdempotencyStore`` on the ``idempotency`` collection."""

    def __init__(self, db: Firestore) -> None:
        self._db = db

    def claim(self, uid: str, key: str, fingerprint: str, *, now: datetime) -> Claim | Project:
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
                return Claim(ref.create(pending, timeout=timeout).update_time)
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

        outcome = read_modify_write(
            self._db.client, ref, decode=_record, encode=dict, change=decide, timeout=timeout
        )
        record = outcome.after
        if record is pending:
            return Claim(outcome.written)
        assert record is not None  # ``decide`` never deletes
        return from_document(str(record["projectId"]), dict(record["project"]))

    def create_project(self, uid: str, key: str, project: Project, claim: Claim) -> Project:
        """Create the project and complete the record in one commit.

        Two documents, one invariant (a ``done`` record names a project that exists): a
        batch writes both or neither. No transaction: the record's update is
        preconditioned on the claim's token, so the commit fails whole if another
        request took the record over since ``claim``.
        """
        batch = self._db.client.batch()
        batch.create(
            self._db.collection(projects.COLLECTION).document(project.id), to_document(project)
        )
        batch.update(
            self._ref(uid, key),
            {"state": DONE, "projectId": project.id, "project": to_document(project)},
            option=self._db.client.write_option(last_update_time=claim.token),
        )
        with translated():
            try:
                batch.commit(timeout=self._db.timeout())
            except (gexc.FailedPrecondition, gexc.NotFound):
                raise IdempotencyInProgress() from None  # taken over: the successor's now
        return project

    def release(self, uid: str, key: str, claim: Claim) -> None:
        with translated():
            self._db.delete_if_unchanged(self._ref(uid, key), claim.token)

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
