"""Leased locks in Firestore, to serialise read-merge-write on things outside it.

Custom claims live in Firebase Auth, which has no compare-and-set, so two
instances changing one user's claims at once could lose an update. A lease in
``locks/{sha256(name)}`` serialises them across instances; it expires on its own
if its holder dies. Hand-written because no library offers Firestore leases.

Acquiring is a single ``create`` (it fails if the document exists) and releasing
a ``delete`` preconditioned on our own write's update time, so no transaction
is needed and contention costs one failed RPC, not a transaction retry.

**Fencing.** A holder may outlive its lease (a stalled instance), and the next one
then takes the lease over. Every ``Lease`` carries a fencing token: the update time
of the lease document its holder wrote. ``check`` tells whether it is still held
(the document still bears that token and has not expired), and every write that
ends a lease (``release``; ``FirestoreAuditLog.mark_applied`` with ``fence=``,
which releases in the same commit) is preconditioned on the token, so a stale
holder never deletes or overwrites its successor's lease, nor completes work
under it.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc

from core.clock import utcnow
from core.errors import Busy
from store.client import Firestore
from store.documents import StaleRead, write_if_unchanged
from store.errors import translated

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference, WriteBatch

COLLECTION = "locks"
#: The default lease; callers whose holders make slow calls pass a longer one
#: (``services.roles.claims_lease``).
LEASE = timedelta(seconds=30)
#: Total time to wait for a held lock before answering 409 ``busy``.
MAX_WAIT_SECONDS = 10.0


@dataclass
class Lease:
    """A held lease and its fencing token.

    Attributes:
        ref: the lease document.
        holder: who holds it (a request id).
        token: the update time of the lease document this holder wrote: the fence.
        expires_at: when another holder may take it over.
        released: set once a fenced commit has deleted it (nothing left to release).
    """

    ref: DocumentReference
    holder: str
    token: Any
    expires_at: datetime
    released: bool = False

    def fence(self, batch: WriteBatch) -> None:
        """Add the lease's release to ``batch``, preconditioned on the token: the batch
        commits only if this holder still holds the lease (all of it, or none)."""
        from google.cloud.firestore import Client

        option = Client.write_option(last_update_time=self.token)
        batch.delete(self.ref, option=option)


#: What a holder that lost its lease is told: retry (another change is in progress).
LOST_MESSAGE = "The lease on this resource passed to another change; retry shortly."


class FirestoreLeases:
    """Leased locks on the ``locks`` collection.

    Args:
        db: the Firestore connection.
        lease: how long a lease lasts unless released.
        clock: now (a parameter, so tests can make a lease look expired).
    """

    def __init__(
        self,
        db: Firestore,
        *,
        lease: timedelta = LEASE,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self.lease = lease
        self._clock = clock

    @contextmanager
    def held(self, name: str, holder: str) -> Iterator[Lease]:
        """Hold the lock ``name`` for the block; the block receives the ``Lease`` (its
        fencing token), and the lease is released after it unless a fenced commit
        already did.

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
            yield lease
        finally:
            if not lease.released:
                self.release(lease)

    def check(self, lease: Lease) -> None:
        """Whether ``lease`` is still held by its holder: one read.

        Raises:
            Busy: lost: it expired (by this holder's clock), another holder took it
                over, or it is gone (``LOST_MESSAGE``).
            Unavailable: Firestore could not be reached.
        """
        with translated():
            snapshot = lease.ref.get(timeout=self._db.timeout())
        if not snapshot.exists or snapshot.update_time != lease.token:
            raise Busy(LOST_MESSAGE)
        if lease.expires_at <= self._clock():
            raise Busy(LOST_MESSAGE)

    def release(self, lease: Lease) -> None:
        """Delete the lease if this holder still holds it (else leave the next one's)."""
        with translated():
            self._db.delete_if_unchanged(lease.ref, lease.token)
        lease.released = True

    def _try_acquire(self, ref: DocumentReference, holder: str) -> Lease | None:
        """Create the lease; returns it, or ``None`` while someone holds it.

        Free: one commit. Held: that commit fails, plus one read. Expired (its holder
        died) or released in between: plus one commit that replaces it only if it is
        still what was read, so two waiters never both take it over.
        """
        now = self._clock()
        timeout = self._db.timeout()
        expires = now + self.lease
        document = {"holder": holder, "expiresAt": expires}
        with translated():
            try:
                token = ref.create(document, timeout=timeout).update_time
                return Lease(ref, holder, token, expires)
            except gexc.AlreadyExists:
                pass
            snapshot = ref.get(timeout=timeout)
        stored = (snapshot.to_dict() or {}).get("expiresAt") if snapshot.exists else None
        if snapshot.exists and (stored is None or stored > now):
            return None
        try:
            token = write_if_unchanged(self._db.client, ref, snapshot, document, timeout=timeout)
        except StaleRead:
            return None  # another waiter took it, or its holder renewed it
        return Lease(ref, holder, token, expires)


def _doc_id(name: str) -> str:
    # Names may hold any characters (uids do); a digest is always a valid document ID.
    return hashlib.sha256(name.encode("utf-8")).hexdigest()
