"""Revocation: checks that a verified token's account is active and was not signed out
since the token was issued (with a bounded, time-limited cache), and signing an account
out everywhere.

Firebase ID tokens live for an hour and cannot be recalled; the only way to stop
one early is to compare it with the user record (``disabled``, ``validSince``).
That costs one Auth backend call, so ordinary requests may reuse a record for up
to ``max_age`` seconds (the documented staleness bound). Privileged requests
(see ``auth.identity``) always read the record fresh.

Firebase records revocation in whole seconds and keeps tokens whose ``iat``
equals that second, so a token minted moments before a revocation, in the same
second, would survive it. The instance that revokes also remembers the second:
it refuses tokens issued before it for as long as a token lives, and tokens issued
in that very second for ``SAME_SECOND_REFUSAL_SECONDS`` only (see there), so "sign
out everywhere" takes effect at once for the token that asked for it without
locking out a sign-in that follows within the second.

Users sign out everywhere by *recording* the sign-out (``record_sign_out``, stored by
``store.sign_outs``): the functions users call may not revoke refresh tokens
themselves (that permission also sets custom claims). A user's latest recorded
sign-out counts like ``validSince`` on every instance: it is read with the user record
and cached with it, in the same bounded cache and for the same ``max_age`` (so fresh
for privileged requests). It is compared with the session's ``auth_time``, not the
token's ``iat``: a token refreshed after the sign-out from a session begun before it
is refused too, so the backend needs no Firebase-side revocation to be signed out
(the ``signouts`` function applies it there as well).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Protocol

from cachetools import TTLCache

from auth.directory import UserDirectory, UserRecord
from core.errors import TokenRevoked, UserDisabled, UserNotFound


class SignOutRecords(Protocol):
    """Recorded "sign out everywhere" requests (``store.sign_outs.FirestoreSignOuts``)."""

    def latest(self, uid: str) -> int | None:
        """The second of ``uid``'s latest recorded sign-out, or ``None``.

        Raises:
            Unavailable: the records could not be read.
        """
        ...

    def record(self, uid: str, at: int, *, now: datetime) -> str:
        """Record that ``uid`` signed out everywhere at second ``at``.

        Raises:
            Unavailable: the record could not be written.
        """
        ...


#: Firebase ID tokens expire an hour after issue; older revocations cannot matter.
TOKEN_LIFETIME_SECONDS: Final = 3600
SAME_SECOND_REFUSAL_SECONDS: Final = 3
"""How long after the start of a revocation's second (``revoked_at``) the revoking
instance still refuses tokens issued in that same second.

Tokens carry ``iat`` in whole seconds, so a token minted just before the revocation
and one from a new sign-in just after it look the same. Refusing both fails closed
for the first (which Firebase's ``validSince`` check would keep, as it accepts
``iat == validSince``), at the price of refusing the second: a user who signs out
everywhere and signs in again within the same second. Doing so for a token's whole
life (an hour) locked such a user out on this instance; for these few seconds it
covers the request racing the revocation (and makes the revoking request's own token
refused at once even if it was minted in that second), then Firebase's ``validSince``
is authoritative again and the new sign-in works. Longer means more
sign-ins refused; shorter, less margin for a token in flight during the revocation.
"""


class RevocationChecker:
    """Checks that a verified token still belongs to an active, unrevoked account."""

    def __init__(
        self,
        directory: UserDirectory,
        *,
        max_age_seconds: int,
        max_entries: int,
        clock: Callable[[], float] = time.time,
        sign_outs: Callable[[], SignOutRecords] | None = None,
    ) -> None:
        """
        Args:
            sign_outs: gives the recorded sign-outs, called on first use (so that an
                instance imports and connects to their storage only then); ``None``:
                none are read (``record_sign_out`` is then refused).
        """
        self._directory = directory
        self._clock = clock
        self._sign_outs = sign_outs
        #: uid -> (user record, second of the latest recorded sign-out).
        self._cache: TTLCache[str, tuple[UserRecord, int | None]] | None = (
            TTLCache(maxsize=max_entries, ttl=max_age_seconds) if max_age_seconds > 0 else None
        )
        #: uid -> second of a revocation made by this instance; kept as long as a token lives.
        self._revoked_at: TTLCache[str, int] = TTLCache(
            maxsize=max_entries, ttl=TOKEN_LIFETIME_SECONDS
        )
        self._lock = threading.Lock()

    def check(
        self, uid: str, issued_at: int, *, fresh: bool, auth_time: int | None = None
    ) -> UserRecord:
        """Return the user's record after checking the token against it.

        Args:
            uid: the token's subject.
            issued_at: the token's ``iat``.
            fresh: bypass the cache (privileged requests).
            auth_time: when the token's session began (``auth_time``); ``iat`` if unknown.

        Raises:
            UserDisabled: the account is disabled.
            TokenRevoked: the token predates the account's ``validSince``, its session
                began before the user's latest recorded sign-out, or the account no
                longer exists.
            AuthUnavailable: the Auth backend could not be reached (fail closed).
            Unavailable: recorded sign-outs could not be read (fail closed).
        """
        record, signed_out_at = self._lookup(uid, fresh=fresh)
        if record.disabled:
            raise UserDisabled()
        if record.valid_since is not None and issued_at < record.valid_since:
            raise TokenRevoked()
        session_began = issued_at if auth_time is None else min(auth_time, issued_at)
        if signed_out_at is not None and session_began < signed_out_at:
            raise TokenRevoked()
        with self._lock:
            revoked_at = self._revoked_at.get(uid)
        if revoked_at is not None and (
            issued_at < revoked_at
            or (
                issued_at == revoked_at and self._clock() < revoked_at + SAME_SECOND_REFUSAL_SECONDS
            )
        ):
            raise TokenRevoked()
        return record

    def record_sign_out(self, uid: str) -> int:
        """Sign the user out everywhere without changing the user record: record the
        sign-out; every instance refuses the sessions begun before it (at once on this
        one, within ``max_age`` on the others), and the ``signouts`` function revokes
        the refresh tokens in Firebase Auth.

        Returns:
            The second of the sign-out (epoch seconds).

        Raises:
            Unavailable: the record could not be written (nobody was signed out).
            RuntimeError: this checker reads no recorded sign-outs.
        """
        if self._sign_outs is None:
            raise RuntimeError("expected recorded sign-outs (sign_outs=...) to record one")
        now = self._clock()
        at = int(now)
        self._sign_outs().record(uid, at, now=datetime.fromtimestamp(now, UTC))
        self.note_revoked(uid, at)
        return at

    def sign_out_everywhere(self, uid: str) -> int:
        """Revoke the user's refresh tokens in Firebase Auth (which needs the right to
        change users: ``admin`` and the operator's tools); their ID tokens issued until
        now are refused, at once on this instance (see the module docstring).

        Returns:
            The second of the revocation (epoch seconds).

        Raises:
            UserNotFound, AuthUnavailable.
        """
        revoked_at = self._directory.revoke_refresh_tokens(uid)
        self.note_revoked(uid, revoked_at)
        return revoked_at

    def forget(self, uid: str) -> None:
        """Drop a cached record after this instance changed it (claims, status)."""
        if self._cache is not None:
            with self._lock:
                self._cache.pop(uid, None)

    def note_revoked(self, uid: str, revoked_at: int) -> None:
        """Record a revocation this instance made at second ``revoked_at`` (see the
        module docstring and ``SAME_SECOND_REFUSAL_SECONDS``)."""
        with self._lock:
            self._revoked_at[uid] = max(revoked_at, self._revoked_at.get(uid, revoked_at))
            if self._cache is not None:
                self._cache.pop(uid, None)

    def _lookup(self, uid: str, *, fresh: bool) -> tuple[UserRecord, int | None]:
        if self._cache is not None and not fresh:
            with self._lock:
                cached = self._cache.get(uid)
            if cached is not None:
                return cached
        try:
            record = self._directory.get(uid)
        except UserNotFound:
            # A deleted account's tokens are as good as revoked.
            raise TokenRevoked("The user account no longer exists.") from None
        # One more read on a miss (and on every privileged request); cached together.
        signed_out_at = None if self._sign_outs is None else self._sign_outs().latest(uid)
        entry = (record, signed_out_at)
        if self._cache is not None:
            with self._lock:
                self._cache[uid] = entry
        return entry
