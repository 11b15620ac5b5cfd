"""Applying recorded sign-outs: what the ``signouts`` function runs for each new record.

``me`` and ``session`` may not revoke refresh tokens (the one permission that does also
sets custom claims and passwords), so "sign out everywhere" is recorded
(``auth.RevocationChecker.record_sign_out``, ``store.sign_outs``): from that moment every
instance refuses the user's earlier sessions. ``SignOutService.apply`` then revokes the
refresh tokens in Firebase Auth, so that no new ID token can be minted from those
sessions for any other backend either.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from auth import TOKEN_LIFETIME_SECONDS, UserDirectory
from core.errors import UserNotFound
from store.sign_outs import FirestoreSignOuts

#: A record stays this long after it was applied (then a TTL policy may delete it):
#: tokens minted before the revocation live an hour, plus a margin for clock skew.
KEEP_APPLIED = timedelta(seconds=TOKEN_LIFETIME_SECONDS + 300)


class Outcome(StrEnum):
    """What ``apply`` did with a record (logged by the ``signouts`` function)."""

    REVOKED = "revoked"
    ALREADY_REVOKED = "already_revoked"
    USER_DELETED = "user_deleted"
    ALREADY_APPLIED = "already_applied"
    MISSING = "missing"


@dataclass(frozen=True)
class SignOutService:
    """Applies recorded sign-outs in Firebase Auth (needs the right to change users)."""

    directory: UserDirectory
    records: FirestoreSignOuts
    clock: Callable[[], float] = field(default=time.time)

    def apply(self, path: str) -> Outcome:
        """Revoke the refresh tokens of the user whose sign-out is recorded at ``path``.

        Safe to repeat (Eventarc redelivers): an applied record is left alone, and a user
        whose ``validSince`` already covers the sign-out is not revoked again (which would
        also end sessions begun after it).

        Raises:
            ValueError: ``path`` is not a record's path, or the record is malformed.
            Unavailable, AuthUnavailable: Firestore or Firebase Auth could not be
                reached; nothing is marked applied, so a retry does the work.
        """
        record = self.records.get(path)
        if record is None:
            return Outcome.MISSING
        if record.applied:
            return Outcome.ALREADY_APPLIED
        try:
            user = self.directory.get(record.uid)
        except UserNotFound:
            outcome = Outcome.USER_DELETED
        else:
            if user.valid_since is not None and user.valid_since > record.at:
                outcome = Outcome.ALREADY_REVOKED
            else:
                try:
                    self.directory.revoke_refresh_tokens(record.uid)
                except UserNotFound:  # deleted between the two calls
                    outcome = Outcome.USER_DELETED
                else:
                    outcome = Outcome.REVOKED
        now = datetime.fromtimestamp(self.clock(), UTC)
        self.records.mark_applied(path, applied_at=now, expires_at=now + KEEP_APPLIED)
        return outcome
