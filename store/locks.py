"""Leased locks in Firestore, to serialise read-merge-write on things outside it.

Custom claims live in Firebase Auth, which has no compare-and-set, so two
instances changing one user's claims at once could lose an update. A lease in
``locks/{sha256(name)}`` serialises them across instances; it expires on its own
if its holder dies. Hand-written because no library offers Firestore leases.

Acquiring is a single ``create`` (it fails if the document exists) and releasing
a ``delete`` preconditioned on our own write's update time, so no transaction
is needed and contention costs one failed RPC, not a transaction retry.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc

from core.errors import Busy
from store.client import Firestore
from store.documents import StaleRead, write_if_unchanged
from store.errors import translated

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference

COLLECTION = "locks"
LEASE = timedelta(seconds=30)
#: Total time to wait for a held lock before answering 409 ``busy``.
MAX_WAIT_SECONDS = 10.0


class FirestoreLeases:
    """Leased locks on the ``locks`` collection."""

    def __init__(self, db: Firestore) -> None:
        self._db = db

    @contextmanager
    def held(self, name: str, holder: str) -> Iterator[None]:
        """Hold the lock ``name`` for the block.

        Raises:
            Busy: another holder kept it for longer than ``MAX_WAIT_SECONDS``.
            Unavailable: Firestore could not be reached.
        """
        ref = self._db.collection(COLLECTION).document(_doc_id(name))
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        delay = 0.01
        while (lease := self._try_acquire(ref, holder)) is None:
            if time.monotonic() >= deadline:
                raise Busy(retry_after=1)
            # Jittered exponential back-off: a retry loop, not a test-side sleep.
            time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not secrecy
            delay = min(delay * 2, 0.2)
        try:
            yield
        finally:
            self._release(ref, lease)

    def _try_acquire(self, ref: DocumentReference, holder: str) -> Any | None:
        """Create the lease; returns its update time, or ``None`` while someone holds it.

        Free: one commit. Held: that commit fails, plus one read. Expired (its holder
        died) or released in between: plus one commit that replaces it only if it is
        still what was read, so two waiters never both take it over.
        """
        now = datetime.now(UTC)
        timeout = self._db.timeout()
        lease = {"holder": holder, "expiresAt": now + LEASE}
        with translated():
            try:
                return ref.create(lease, timeout=timeout).update_time
            except gexc.AlreadyExists:
                pass
            snapshot = ref.get(timeout=timeout)
        expires = (snapshot.to_dict() or {}).get("expiresAt") if snapshot.exists else None
        if snapshot.exists and (expires is None or expires > now):
            return None
        try:
            return write_if_unchanged(self._db.client, ref, snapshot, lease, timeout=timeout)
        except StaleRead:
            return None  # another waiter took it, or its holder renewed it

    def _release(self, ref: DocumentReference, lease: Any) -> None:
        with translated():
            self._db.delete_if_unchanged(ref, lease)


def _doc_id(name: str) -> str:
    # Names may hold any characters (uids do); a digest is always a valid document ID.
    return hashlib.sha256(name.encode("utf-8")).hexdigest()
