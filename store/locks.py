"""Leased locks in Firestore, to serialise read-merge-write on things outside it.

Custom claims live in Firebase Auth, which has no compare-and-set, so two
instances changing one user's claims at once could lose an update. A lease in
``locks/{sha256(name)}`` serialises them across instances; it expires on its own
if its holder dies. Hand-written because no library offers Firestore leases.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from core.errors import Busy
from store.client import get_client, timeout
from store.errors import translated

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference, Transaction

COLLECTION = "locks"
LEASE = timedelta(seconds=30)
#: Total time to wait for a held lock before answering 409 ``busy``.
MAX_WAIT_SECONDS = 5.0


@contextmanager
def held(name: str, holder: str) -> Iterator[None]:
    """Hold the lock ``name`` for the block.

    Raises:
        Busy: another holder kept it for longer than ``MAX_WAIT_SECONDS``.
        Unavailable: Firestore could not be reached.
    """
    ref = get_client().collection(COLLECTION).document(_doc_id(name))
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    delay = 0.02
    while not _try_acquire(ref, holder):
        if time.monotonic() >= deadline:
            raise Busy(retry_after=1)
        # Jittered exponential back-off: a retry loop, not a test-side sleep.
        time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not secrecy
        delay = min(delay * 2, 0.5)
    try:
        yield
    finally:
        _release(ref, holder)


def _try_acquire(ref: DocumentReference, holder: str) -> bool:
    from google.cloud import firestore

    @firestore.transactional
    def run(transaction: Transaction) -> bool:
        snapshot = ref.get(transaction=transaction, timeout=timeout())
        now = datetime.now(UTC)
        data = snapshot.to_dict() if snapshot.exists else None
        if data and data.get("expiresAt") and data["expiresAt"] > now:
            return False
        transaction.set(ref, {"holder": holder, "expiresAt": now + LEASE})
        return True

    with translated():
        acquired: bool = run(get_client().transaction())
    return acquired


def _release(ref: DocumentReference, holder: str) -> None:
    from google.cloud import firestore

    @firestore.transactional
    def run(transaction: Transaction) -> None:
        snapshot = ref.get(transaction=transaction, timeout=timeout())
        if snapshot.exists and (snapshot.to_dict() or {}).get("holder") == holder:
            transaction.delete(ref)

    with translated():
        run(get_client().transaction())


def _doc_id(name: str) -> str:
    # Names may hold any characters (uids do); a digest is always a valid document ID.
    return hashlib.sha256(name.encode("utf-8")).hexdigest()
