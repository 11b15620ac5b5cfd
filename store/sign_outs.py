"""Recorded "sign out everywhere" requests: the backend's own revocation list.

Revoking refresh tokens needs ``firebaseauth.users.update``, which also sets custom
claims and passwords, so the functions every user calls (``me``, ``session``) do not
hold it. They *record* the sign-out here instead, and every instance's revocation
check (``auth.revocation``) refuses, from then on, every session the user began before
it; the ``signouts`` function, which Eventarc calls for each new record, then revokes
the refresh tokens (Firebase-wide) and marks the record applied.

A record is ``signOuts/{sha256(uid)}/signOutEvents/{at}`` in the user's realm (an
Identity Platform tenant's users': ``tenants/{tenant}/signOuts/...``, the tenant's view
of Firestore, ``store.client.Firestore.for_tenant``), created and never changed by
the recording functions (they may create and read documents, not update them): ``at``
is the second of the sign-out. Two sign-outs in one second are one record. A record
stays until it is applied, then ``expiresAt`` (an hour and a margin later: by then
Firebase's own ``validSince`` refuses every token it covered) lets a Firestore TTL
policy delete it (``gcloud firestore fields ttls update expiresAt
--collection-group=signOutEvents --enable-ttl``, which covers the tenants' too). Clients
never read or write the collection (``firestore.rules``).

Records are read and written over Firestore's REST API (``store.rest``), not the client
library: the read is part of every function's revocation check, and the client library
would bring grpc into functions that otherwise never load it (``me``).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from core import fields
from store.client import TENANTS_COLLECTION, Firestore
from store.rest import Conflict, encode_fields

COLLECTION = "signOuts"
#: A distinctive subcollection id: the TTL policy and the Eventarc path pattern name it.
EVENTS = "signOutEvents"
#: The Eventarc path patterns of new records (the ``signouts`` function's triggers):
#: project-level users' records, and each tenant's.
TRIGGER_DOCUMENT = f"{COLLECTION}/{{user}}/{EVENTS}/{{second}}"
TENANT_TRIGGER_DOCUMENT = f"{TENANTS_COLLECTION}/{{tenant}}/{TRIGGER_DOCUMENT}"
_PATH = re.compile(
    rf"^(?:{TENANTS_COLLECTION}/(?P<tenant>[^/]+)/)?"
    rf"{COLLECTION}/[0-9a-f]{{64}}/{EVENTS}/[0-9]{{12}}$"
)
_EXPECTED = (
    "expected [tenants/<tenant>/]signOuts/<sha256>/signOutEvents/<second> in the store's realm"
)


@dataclass(frozen=True)
class SignOut:
    """One recorded sign-out."""

    path: str
    uid: str
    #: The second of the sign-out (epoch seconds); sessions begun before it are over.
    at: int
    applied: bool


@dataclass(frozen=True)
class RecordPath:
    """Where a record is: its realm and its path."""

    path: str
    #: The tenant whose user signed out (``None``: a project-level user).
    tenant: str | None


def user_key(uid: str) -> str:
    """The document id of a user's records (any uid is a valid one this way)."""
    return hashlib.sha256(uid.encode()).hexdigest()


def record_path(path: str) -> RecordPath | None:
    """``path`` as a record's (``[tenants/<tenant>/]signOuts/<64 hex>/signOutEvents/<12
    digits>``), or ``None`` when it names anything else."""
    match = _PATH.match(path)
    if match is None:
        return None
    tenant = match.group("tenant")
    if tenant is not None and not fields.TENANT_ID.matches(tenant):
        return None
    return RecordPath(path, tenant)


def is_record_path(path: str) -> bool:
    """Whether ``path`` names a record of any realm (see ``record_path``)."""
    return record_path(path) is not None


class FirestoreSignOuts:
    """The records of one realm, in Firestore (``auth.revocation.SignOutRecords``)."""

    def __init__(self, db: Firestore) -> None:
        self._db = db

    def record(self, uid: str, at: int, *, now: datetime) -> str:
        """Record that ``uid`` signed out everywhere at second ``at``; returns its path.

        Raises:
            Unavailable: Firestore could not be reached (the sign-out did not happen).
        """
        path = f"{self._events(uid)}/{at:012d}"
        data = {"uid": uid, "at": at, "recordedAt": now, "appliedAt": None, "expiresAt": None}
        write = {
            "update": {"name": self._db.rest.name(path), "fields": encode_fields(data)},
            "currentDocument": {"exists": False},
        }
        # The same second, recorded by a concurrent request: one sign-out.
        with contextlib.suppress(Conflict):
            self._db.rest.commit([write])
        return path

    def latest(self, uid: str) -> int | None:
        """The second of ``uid``'s latest recorded sign-out, or ``None``. One query
        (one HTTP request; billed as one document read).

        Raises:
            Unavailable: Firestore could not be reached.
        """
        parent = f"{self._db.path(COLLECTION)}/{user_key(uid)}"
        found = self._db.rest.latest(parent, EVENTS, order_by="at")
        if found is None:
            return None
        at = found[1].get("at")
        return at if isinstance(at, int) and not isinstance(at, bool) else None

    def get(self, path: str) -> SignOut | None:
        """The record at ``path`` (see ``record_path``), or ``None`` if there is none.

        Raises:
            ValueError: ``path`` does not name a record of this store's realm, or the
                record is malformed.
            Unavailable: Firestore could not be reached.
        """
        self._check(path)
        data = self._db.rest.get(path)
        if data is None:
            return None
        uid, at = data.get("uid"), data.get("at")
        if not isinstance(uid, str) or not isinstance(at, int) or isinstance(at, bool):
            raise ValueError(f"{path}: expected uid and at, got {sorted(data)}")
        return SignOut(path=path, uid=uid, at=at, applied=data.get("appliedAt") is not None)

    def mark_applied(self, path: str, *, applied_at: datetime, expires_at: datetime) -> None:
        """Note that the record's revocation reached Firebase Auth; TTL may delete it
        after ``expires_at``. A record deleted meanwhile is left deleted.

        Raises:
            ValueError: ``path`` does not name a record of this store's realm.
            Unavailable: Firestore could not be reached.
        """
        self._check(path)
        data = {"appliedAt": applied_at, "expiresAt": expires_at}
        write = {
            "update": {"name": self._db.rest.name(path), "fields": encode_fields(data)},
            "updateMask": {"fieldPaths": sorted(data)},
            "currentDocument": {"exists": True},
        }
        with contextlib.suppress(Conflict):  # deleted meanwhile: leave it so
            self._db.rest.commit([write])

    def _check(self, path: str) -> None:
        found = record_path(path)
        if found is None or found.tenant != self._db.tenant:
            raise ValueError(f"{_EXPECTED}, got {path!r}")

    def _events(self, uid: str) -> str:
        return f"{self._db.path(COLLECTION)}/{user_key(uid)}/{EVENTS}"
