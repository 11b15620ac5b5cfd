"""Read-check-write of one document at Firestore's round-trip floor: one read, one commit.

A Firestore transaction costs three RPCs (``begin_transaction``, the read, ``commit``),
and more when contention makes the library retry it. One document needs none of that:
read it and keep its ``update_time``, compute the change, then write with a
precondition (``last_update_time`` of what was read, or "does not exist" for a
create). If anyone wrote the document in between, the precondition fails, nothing is
written, and the change is computed again on a fresh read. So every write applies to
exactly the state it was computed from, as in a transaction: updates are never lost,
and a change that raises writes nothing.

Retry bound: ``ATTEMPTS`` (8) rounds, with full-jitter exponential back-off between
them (at most 10, 20, 40, 80, 160, 250, 250 ms: under 0.9 s of sleep in all). A round is
lost only when another writer's commit landed between its read and its commit, and
those commits are distinct for each lost round; so among k writers of one document
that each commit once, none loses more than k - 1 rounds, and bursts of up to 8
concurrent writers per document (far more than a project's members editing at once)
always go through. Beyond that the caller gets 409 ``busy`` with ``Retry-After``
rather than an instance held for seconds, well inside the function's timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from google.api_core import exceptions as gexc

# tenacity rather than google.api_core.retry: it bounds the rounds by count (api_core only
# by time), and re-raises our own "lost" signal instead of wrapping it in a RetryError.
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from core.errors import Busy
from store.errors import translated

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference, DocumentSnapshot

logger = logging.getLogger(__name__)

#: Rounds of read + conditional commit before contention becomes 409 ``busy``.
ATTEMPTS = 8
#: Full-jitter back-off: round n waits uniformly up to min(cap, unit * 2**(n-1)) seconds.
BACKOFF_UNIT_SECONDS = 0.01
BACKOFF_CAP_SECONDS = 0.25

#: What Firestore answers when a precondition no longer holds: ``update_time`` moved
#: (FailedPrecondition), the document went away (NotFound) or appeared (AlreadyExists),
#: or the write met a lock (Aborted).
_LOST = (gexc.FailedPrecondition, gexc.NotFound, gexc.AlreadyExists, gexc.Aborted)

T = TypeVar("T")
#: Documents created in the same commit as a change: ``(reference, fields)`` pairs.
Creates = Sequence[tuple["DocumentReference", dict[str, Any]]]
#: (before, after) -> the documents to create along with the change.
Also = Callable[["T | None", "T | None"], Creates]


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a ``read_modify_write`` did (a record, not a tuple: mypy infers the type
    variable wrongly from a tuple-unpacking target)."""

    #: The value the successful round's change saw (``None``: the document was absent).
    before: T | None
    #: The value it returned, now stored (``None``: deleted or left absent).
    after: T | None
    #: The update time of the document as this call wrote it (``None``: it wrote
    #: nothing, or deleted it): a fencing token for later writes (``store.idempotency``).
    written: Any = None


class StaleRead(Exception):
    """The document changed between the read and the conditional write; nothing was written."""


def read_modify_write(
    client: Client,
    ref: DocumentReference,
    *,
    decode: Callable[[str, dict[str, Any]], T],
    encode: Callable[[T], dict[str, Any]],
    change: Callable[[T | None], T | None],
    timeout: float,
    attempts: int = ATTEMPTS,
    also: Also[T] | None = None,
) -> Outcome[T]:
    """Change one document from its current state, as if alone: one read, one commit.

    Args:
        client: the Firestore client to write with (for its write preconditions).
        ref: the document.
        decode: (document ID, stored fields) -> the value ``change`` sees.
        encode: a value -> the complete stored document (top-level fields it leaves out
            are removed: the write replaces the document, as ``set`` does).
        change: the current value (``None`` if absent) -> the new value, ``None`` to
            delete (or leave absent), or the very value it was given to write nothing.
            It runs once per round, so running it again must be harmless (memoise any
            lookup it makes); it may raise an ``ApiError`` to abort without writing.
        timeout: of each RPC, in seconds.
        attempts: rounds before giving up (see the module docstring for the bound).
        also: (before, after) -> documents to create in the same commit when it writes
            (an audit entry of the change: both land, or neither).

    Returns:
        What the successful round's ``change`` saw and returned.

    Raises:
        ApiError: whatever ``change`` raised (nothing written by this call).
        Busy: every round lost its precondition to another writer.
        Unavailable: Firestore could not be reached.
    """

    def attempt() -> Outcome[T]:
        with translated():
            snapshot = ref.get(timeout=timeout)
        current = decode(snapshot.id, snapshot.to_dict() or {}) if snapshot.exists else None
        updated = change(current)
        written = None
        if updated is not current:
            data = None if updated is None else encode(updated)
            creates = also(current, updated) if also is not None else ()
            written = write_if_unchanged(
                client, ref, snapshot, data, timeout=timeout, creates=creates
            )
        return Outcome(current, updated, written)

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=BACKOFF_UNIT_SECONDS, max=BACKOFF_CAP_SECONDS),
        retry=retry_if_exception_type(StaleRead),
        reraise=True,
    )
    try:
        outcome: Outcome[T] = retrying(attempt)
    except StaleRead:
        logger.warning("Firestore document %s still contended after %d rounds", ref.id, attempts)
        raise Busy() from None
    return outcome


def write_if_unchanged(
    client: Client,
    ref: DocumentReference,
    snapshot: DocumentSnapshot[DocumentReference],
    data: dict[str, Any] | None,
    *,
    timeout: float,
    creates: Creates = (),
) -> Any | None:
    """Replace (``data``) or delete (``None``) ``ref`` only if it is still as ``snapshot`` read it.

    One commit: an update preconditioned on the read's ``update_time``, a delete likewise,
    or a create (which requires absence) when the document was absent.

    Returns:
        The write's ``update_time`` (``None`` for a delete, or when nothing was written
        because the document was and stays absent).

    With ``creates``, the same commit (a batch) also creates those documents: all of it
    lands, or none.

    Raises:
        StaleRead: someone wrote or deleted the document since ``snapshot``.
        Unavailable: Firestore could not be reached.
    """
    if creates:
        return _write_batch(client, ref, snapshot, data, timeout=timeout, creates=creates)
    with translated():
        try:
            if not snapshot.exists:
                if data is None:
                    return None
                return ref.create(data, timeout=timeout).update_time
            option = client.write_option(last_update_time=snapshot.update_time)
            if data is None:
                ref.delete(option=option, timeout=timeout)
                return None
            fields = _replacing(client, snapshot.to_dict() or {}, data)
            if not fields:  # empty, and stays empty: ``update`` refuses an empty write
                return snapshot.update_time
            return ref.update(fields, option=option, timeout=timeout).update_time
        except _LOST as lost:
            raise StaleRead() from lost


def _write_batch(
    client: Client,
    ref: DocumentReference,
    snapshot: DocumentSnapshot[DocumentReference],
    data: dict[str, Any] | None,
    *,
    timeout: float,
    creates: Creates,
) -> Any | None:
    """``write_if_unchanged`` of ``ref`` and the creates, in one batch commit."""
    batch = client.batch()
    if not snapshot.exists:
        if data is not None:
            batch.create(ref, data)
    else:
        option = client.write_option(last_update_time=snapshot.update_time)
        if data is None:
            batch.delete(ref, option=option)
        else:
            fields = _replacing(client, snapshot.to_dict() or {}, data)
            if fields:
                batch.update(ref, fields, option=option)
    for other, document in creates:
        batch.create(other, document)
    with translated():
        try:
            results = batch.commit(timeout=timeout)
        except _LOST as lost:
            raise StaleRead() from lost
    if data is None or not results:
        return None
    return results[0].update_time


def _replacing(client: Client, stored: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """``update`` fields that make the document exactly ``data`` (``set`` replaces a
    document but takes no precondition; ``update`` takes one but only changes fields)."""
    from google.cloud.firestore import DELETE_FIELD

    # Each name as a one-element field path (quoted if need be): ``a.b`` is one field.
    removed = {client.field_path(name): DELETE_FIELD for name in stored if name not in data}
    return removed | {client.field_path(name): value for name, value in data.items()}
