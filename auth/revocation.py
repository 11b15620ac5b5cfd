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
second, would survive it. The instance that revokes also remembers the second
and refuses tokens issued up to and including it (fail closed), so "sign out
everywhere" takes effect at once for the token that asked for it.
"""

from __future__ import annotations

import threading

from cachetools import TTLCache

from auth.directory import UserDirectory, UserRecord
from core.errors import TokenRevoked, UserDisabled, UserNotFound

#: Firebase ID tokens expire an hour after issue; older revocations cannot matter.
TOKEN_LIFETIME_SECONDS = 3600


class RevocationChecker:
    """Checks that a verified token still belongs to an active, unrevoked account."""

    def __init__(self, directory: UserDirectory, *, max_age_seconds: int, max_entries: int) -> None:
        self._directory = directory
        self._cache: TTLCache[str, UserRecord] | None = (
            TTLCache(maxsize=max_entries, ttl=max_age_seconds) if max_age_seconds > 0 else None
        )
        #: uid -> second of a revocation made by this instance; kept as long as a token lives.
        self._revoked_at: TTLCache[str, int] = TTLCache(
            maxsize=max_entries, ttl=TOKEN_LIFETIME_SECONDS
        )
        self._lock = threading.Lock()

    def check(self, uid: str, issued_at: int, *, fresh: bool) -> UserRecord:
        """Return the user's record after checking the token against it.

        Args:
            uid: the token's subject.
            issued_at: the token's ``iat``.
            fresh: bypass the cache (privileged requests).

        Raises:
            UserDisabled: the account is disabled.
            TokenRevoked: the token predates the account's ``validSince``, or the
                account no longer exists.
            AuthUnavailable: the Auth backend could not be reached (fail closed).
        """
        record = self._lookup(uid, fresh=fresh)
        if record.disabled:
            raise UserDisabled()
        if record.valid_since is not None and issued_at < record.valid_since:
            raise TokenRevoked()
        with self._lock:
            revoked_at = self._revoked_at.get(uid)
        if revoked_at is not None and issued_at <= revoked_at:
            raise TokenRevoked()
        return record

    def sign_out_everywhere(self, uid: str) -> int:
        """Revoke the user's refresh tokens; their ID tokens issued until now are refused,
        at once on this instance (see the module docstring).

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
        """Record a revocation this instance made (see the module docstring)."""
        with self._lock:
            self._revoked_at[uid] = max(revoked_at, self._revoked_at.get(uid, revoked_at))
            if self._cache is not None:
                self._cache.pop(uid, None)

    def _lookup(self, uid: str, *, fresh: bool) -> UserRecord:
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
        if self._cache is not None:
            with self._lock:
                self._cache[uid] = record
        return record
