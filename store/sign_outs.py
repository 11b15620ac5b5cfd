"""Recorded "sign out everywhere" requests: the backend's own revocation list.

Revoking refresh tokens needs ``firebaseauth.users.update``, which also sets custom
claims and passwords, so the functions every user calls (``me``, ``session``) do not
hold it. They *record* the sign-out here instead, and every instance's revocation
check (``auth.revocation``) refuses, from then on, every session the user began before
it; the ``signouts`` function, which Eventarc calls for each new record, then revokes
the refresh tokens (Firebase-wide) and marks the record applied.

A record is ``signOuts/{sha256(uid)}/signOutEvents/{at}``, created and never changed by
the recording functions (they may create and read documents, not update them): ``at``
is the second of the sign-out. Two sign-outs in one second are one record. A record
stays until it is applied, then ``expiresAt`` (an hour and a margin later: by then
Firebase's own ``validSince`` refuses every token it covered) lets a Firestore TTL
policy delete it (``gcloud firestore fields ttls update expiresAt
--collection-group=signOutEvents --enable-ttl``). Clients never read or write the
collection (``firestore.rules``).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc

from store.client import Firestore
from store.errors import translated

COLLECTION = "signOuts"
#: A distinctive subcollection id: the TTL policy and the Eventarc path pattern name it.
EVENTS = "signOutEvents"
#: The Eventarc path pattern of new records (the ``signouts`` function's trigger).
TRIGGER_DOCUMENT = f"{COLLECTION}/{{user}}/{EVENTS}/{{second}}"
_PATH = re.compile(rf"^{COLLECTION}/[0-9a-f]{{64}}/{EVENTS}/[0-9]{{12}}$")


@dataclass(frozen=True)
class SignOut:
    """One recorded sign-out."""

    path: str
    uid: str
    #: The second of the sign-out (epoch seconds); sessions begun before it are over.
    at: int
    applied: bool


def user_key(uid: str) -> str:
    """The document id of a user's records (any uid is a valid one this way)."""
    return hashlib.sha256(uid.encode()).hexdigest()


def is_record_path(path: str) -> bool:
    """Whether ``path`` names a record (``signOuts/<64 hex>/signOutEvents/<12 digits>``)."""
    return _PATH.match(path) is not None


class FirestoreSignOuts:
    """The records, in Firestore (``auth.revocation.SignOutRecords``)."""

    def __init__(self, db: Firestore) -> None:
        self._db = db

    def record(self, uid: str, at: int, *, now: datetime) -> str:
        """Record that ``uid`` signed out everywhere at second ``at``; returns its path.

        Raises:
            Unavailable: Firestore could not be reached (the sign-out did not happen).
        """
        ref = self._events(uid).document(f"{at:012d}")
        # AlreadyExists: the same second, recorded by a concurrent request: one sign-out.
        with translated(), contextlib.suppress(gexc.AlreadyExists):
            ref.create(
                {"uid": uid, "at": at, "recordedAt": now, "appliedAt": None, "expiresAt": None},
                timeout=self._db.timeout(),
            )
        return str(ref.path)

    def latest(self, uid: str) -> int | None:
        """The second of ``uid``'s latest recorded sign-out, or ``None``. One query.

        Raises:
            Unavailable: Firestore could not be reached.
        """
        query = self._events(uid).order_by("at", direction="DESCENDING").limit(1)
        with translated():
            documents = list(query.stream(timeout=self._db.timeout()))
        if not documents:
            return None
        at = (documents[0].to_dict() or {}).get("at")
        return at if isinstance(at, int) and not isinstance(at, bool) else None

    def get(self, path: str) -> SignOut | None:
        """The record at ``path`` (see ``is_record_path``), or ``None`` if there is none.

        Raises:
            ValueError: ``path`` does not name a record, or the record is malformed.
            Unavailable: Firestore could not be reached.
        """
        if not is_record_path(path):
            raise ValueError(f"expected signOuts/<sha256>/signOutEvents/<second>, got {path!r}")
        with translated():
            snapshot = self._db.client.document(path).get(timeout=self._db.timeout())
        if not snapshot.exists:
            return None
        data: dict[str, Any] = snapshot.to_dict() or {}
        uid, at = data.get("uid"), data.get("at")
        if not isinstance(uid, str) or not isinstance(at, int) or isinstance(at, bool):
            raise ValueError(f"{path}: expected uid and at, got {sorted(data)}")
        return SignOut(path=path, uid=uid, at=at, applied=data.get("appliedAt") is not None)

    def mark_applied(self, path: str, *, applied_at: datetime, expires_at: datetime) -> None:
        """Note that the record's revocation reached Firebase Auth; TTL may delete it
        after ``expires_at``.

        Raises:
            Unavailable: Firestore could not be reached.
        """
        with translated():
            self._db.client.document(path).update(
                {"appliedAt": applied_at, "expiresAt": expires_at}, timeout=self._db.timeout()
            )

    def _events(self, uid: str) -> Any:
        return self._db.collection(COLLECTION).document(user_key(uid)).collection(EVENTS)
