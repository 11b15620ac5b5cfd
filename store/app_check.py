"""The ledger of spent App Check tokens: replay protection for single-use operations.

A token is spent by creating ``appCheckConsumed/{replay_id}`` (``replay_id``: a SHA-256
of the token's ``jti``, never the token); Firestore's create fails if the document
exists, so of any number of concurrent requests with one token exactly one spends it,
on every instance. ``expiresAt`` is when the token stops being accepted anyway (its
``exp`` plus the clock skew): enable a Firestore TTL policy on it to delete spent
records (README, "App Check"). Clients never read or write the collection
(``firestore.rules``).
"""

from __future__ import annotations

from datetime import datetime

from google.api_core import exceptions as gexc

from store.client import Firestore
from store.errors import translated

COLLECTION = "appCheckConsumed"


def consume(
    db: Firestore, replay_id: str, *, app_id: str, expires_at: datetime, now: datetime
) -> bool:
    """Spend a token: ``True`` the first time, ``False`` if it was spent before.

    Raises:
        Unavailable: Firestore could not be reached (after a timeout the token may
            or may not be spent: the client gets a new limited-use token either way).
    """
    ref = db.collection(COLLECTION).document(replay_id)
    with translated():
        try:
            ref.create(
                {"appId": app_id, "consumedAt": now, "expiresAt": expires_at},
                timeout=db.timeout(),
            )
        except gexc.AlreadyExists:
            return False
    return True
