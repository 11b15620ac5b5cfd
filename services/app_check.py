"""App Check on every request, by mode (``APP_CHECK``), before authentication.

- ``off``: nothing is read or checked (the HTTP shell does not even call ``check``).
- ``monitor``: the token is verified (and spent, on single-use operations) and the
  outcome goes to the request's log line (``appCheck``, ``appId``); the request goes
  on whatever the outcome, so a deployment can watch what ``enforce`` would refuse.
- ``enforce``: a missing or invalid token is ``401 app_check_failed``, a spent one
  ``401 app_check_replayed``; if the key set or Firestore cannot be reached the
  request fails closed (503).

The token itself is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core import request_log
from core.clock import utcnow
from core.errors import AppCheckFailed, AppCheckReplayed, Unavailable
from core.settings import AppCheckMode, Settings

if TYPE_CHECKING:
    from auth import AppCheckToken, AppCheckVerifier, KeyFetch
    from store.client import Firestore

logger = logging.getLogger(__name__)

#: Spends a verified token: ``True`` the first time, ``False`` after (raises Unavailable).
Consume = Callable[["AppCheckToken"], bool]

#: Outcomes, as logged.
VALID, MISSING, INVALID, REPLAYED, UNAVAILABLE = (
    "valid",
    "missing",
    "invalid",
    "replayed",
    "unavailable",
)


class AppCheckGate:
    """Applies one mode to the ``X-Firebase-AppCheck`` values of each request."""

    def __init__(
        self,
        mode: AppCheckMode,
        verifier: AppCheckVerifier | None = None,
        consume: Consume | None = None,
    ) -> None:
        if mode != "off" and (verifier is None or consume is None):
            raise ValueError(f"APP_CHECK={mode} needs a verifier and a ledger")
        self.mode = mode
        self._verifier = verifier
        self._consume = consume

    @classmethod
    def from_settings(
        cls, settings: Settings, firestore: Callable[[], Firestore], fetch: KeyFetch
    ) -> AppCheckGate:
        """The gate the settings describe; builds the verifier (no fetch yet; ``fetch`` is
        the key set's transport) unless off."""
        if settings.app_check == "off":
            return cls("off")
        # Imported here: with App Check off, no instance pays for PyJWT.
        from auth import AppCheckVerifier, app_check_key_store

        assert settings.project_number is not None  # Settings refuses otherwise
        skew = settings.clock_skew_seconds
        verifier = AppCheckVerifier(
            project_id=settings.project_id,
            project_number=settings.project_number,
            keys=app_check_key_store(
                settings.app_check_jwks_url,
                timeout=float(settings.auth_timeout_seconds),
                fetch=fetch,
            ),
            clock_skew_seconds=skew,
        )
        return cls(
            settings.app_check,
            verifier,
            lambda token: consume_in_firestore(firestore(), token, skew=skew),
        )

    def check(self, values: Sequence[str], *, consume: bool = False) -> None:
        """Check the request's App Check header values (normally one).

        Args:
            values: every ``X-Firebase-AppCheck`` value the request carries.
            consume: the operation is single-use per token (replay protection).

        Raises:
            AppCheckFailed, AppCheckReplayed: refused (``enforce`` only).
            AuthUnavailable, Unavailable: the key set or Firestore is unreachable
                (``enforce`` only).
        """
        if self.mode == "off":
            return
        token: AppCheckToken | None = None
        try:
            token = self._verified(values)
            if consume:
                assert self._consume is not None
                if not self._consume(token):
                    logger.info("App Check token of app %s presented again", token.app_id)
                    raise AppCheckReplayed()
        except (AppCheckFailed, AppCheckReplayed, Unavailable) as error:
            app_id = token.app_id if token is not None else None
            request_log.note_app_check(_outcome(error, values), app_id)
            if self.mode == "enforce":
                raise
            return
        request_log.note_app_check(VALID, token.app_id)

    def _verified(self, values: Sequence[str]) -> AppCheckToken:
        assert self._verifier is not None
        if len(values) > 1:
            logger.info("rejected App Check token: %d headers, expected one", len(values))
            raise AppCheckFailed("Send exactly one X-Firebase-AppCheck header.")
        if not values or not values[0].strip():
            raise AppCheckFailed()
        return self._verifier.verify(values[0].strip())


def consume_in_firestore(db: Firestore, token: AppCheckToken, *, skew: int) -> bool:
    """Spend ``token`` in the Firestore ledger (``store.app_check``)."""
    from store import app_check as ledger  # Firestore only for single-use operations

    expires_at = datetime.fromtimestamp(token.expires_at + skew, UTC)
    return ledger.consume(
        db, token.replay_id, app_id=token.app_id, expires_at=expires_at, now=utcnow()
    )


def _outcome(error: Exception, values: Sequence[str]) -> str:
    if isinstance(error, AppCheckReplayed):
        return REPLAYED
    if isinstance(error, Unavailable):
        return UNAVAILABLE
    return MISSING if not values or not values[0].strip() else INVALID
