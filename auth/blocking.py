"""Identity Platform blocking tokens: the JWT that comes with a blocking event.

Before Firebase Auth (with Identity Platform) creates an account or signs one in, it
POSTs ``{"data": {"jwt": "<JWT>"}}`` to the function registered for that event and
waits for its answer. The JWT is signed by Google with the keys of Firebase ID tokens
(firebase-admin-node's ``createAuthBlockingTokenVerifier`` and firebase-functions-python's
``AuthBlockingTokenVerifier`` both read the securetoken x509 certificates), so it is
verified against an ``auth.keys.PublicKeys`` of that URL (``KEYS_URL``): parsed once,
fetched when needed, never at import.

``BlockingTokenVerifier.verify`` makes the checks of those libraries, stricter where
they are loose, and in an order that fetches no key for a token that cannot be valid:

1. a compact JWT of ASCII characters; header ``alg`` is ``RS256`` and ``kid`` a
   non-empty string (never ``none``: the Auth emulator's unsigned tokens are accepted
   only with ``accept_unsigned``, which the settings allow only with the emulator);
2. ``aud`` is *exactly* one of the function's URLs (``IDENTITY_FUNCTION_URLS``: the URL
   registered with Identity Platform, which it puts in ``aud``). The libraries accept
   any ``aud`` containing ``run.app`` (gen2) or ``<project>.cloudfunctions.net/``
   (gen1), i.e. a token meant for another function of the project;
3. ``iss`` is ``https://securetoken.google.com/<project id>``;
4. ``event_type`` is ``beforeCreate`` or ``beforeSignIn`` (this function decides those
   two; the libraries leave it to the registration);
5. ``sub`` is a non-empty string of at most 128 characters, ``user_record`` an object
   whose ``uid`` is ``sub`` and whose ``email``, if any, is a string;
6. the key of ``kid`` (a fetch failure is ``AuthUnavailable``, 503, never a 401),
   then the RS256 signature (PyJWT);
7. ``exp`` and ``iat`` are numbers; ``exp`` not before now - skew, ``iat`` not after
   now + skew.

Failures are ``InvalidToken`` or ``TokenExpired``, logged with a reason that never
holds the token. A token is not remembered: each event sends a new one, and replaying
one only repeats a decision (the function changes nothing itself).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeGuard

import jwt

from auth.keys import Fetch, KeyFetchError, PublicKeys
from auth.signup_policy import EVENTS
from core.errors import AuthUnavailable, InternalError, InvalidToken, TokenExpired
from core.settings import MAX_CLOCK_SKEW_SECONDS

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

#: Google's certificates for Firebase ID tokens, which also sign blocking tokens.
KEYS_URL: Final = (
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
)
ISSUER_PREFIX: Final = "https://securetoken.google.com/"
ALGORITHM: Final = "RS256"
MAX_SUBJECT_LENGTH: Final = 128
#: Larger ``exp``/``iat`` values are not times (2**53: the last exact float).
MAX_TIME: Final = 2**53


@dataclass(frozen=True)
class BlockingEvent:
    """What a verified blocking token says about the event and the account."""

    #: ``beforeCreate`` or ``beforeSignIn``.
    event_type: str
    uid: str
    email: str | None = None
    email_verified: bool = False
    #: The account's custom claims as Identity Platform sent them.
    custom_claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    tenant_id: str | None = None
    #: ``password``, ``google.com``, ``emailLink``, ... (for the log line).
    sign_in_method: str | None = None
    event_id: str | None = None


class _Rejected(Exception):
    """Not a valid blocking token for this function; ``reason`` says why (no token)."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


class BlockingTokenVerifier:
    """Verifies the blocking tokens sent to one function. Thread-safe; fetches nothing
    until a token needs a key."""

    def __init__(
        self,
        *,
        project_id: str,
        audiences: Collection[str],
        keys: PublicKeys,
        clock_skew_seconds: int,
        accept_unsigned: bool = False,
        clock: Clock = time.time,
    ) -> None:
        """
        Args:
            project_id: the Firebase project (``iss``).
            audiences: the function's URLs as registered with Identity Platform (``aud``).
            keys: Google's token keys (``KEYS_URL``; a local server in tests).
            clock_skew_seconds: tolerated skew on ``exp``/``iat`` (0-60).
            accept_unsigned: skip ``alg``, ``kid`` and the signature, for the Auth
                emulator's unsigned tokens (never in production: settings allow it only
                with ``FIREBASE_AUTH_EMULATOR_HOST``).
            clock: the wall clock, in epoch seconds.

        Raises:
            InternalError: no project id, or a skew out of range (misconfiguration).
        """
        if not project_id:
            raise InternalError("Blocking tokens need the project id.")
        if not 0 <= clock_skew_seconds <= MAX_CLOCK_SKEW_SECONDS:
            raise InternalError("Blocking-token clock skew out of range.")
        self._issuer = ISSUER_PREFIX + project_id
        self._audiences = frozenset(audiences)
        self._keys = keys
        self._skew = clock_skew_seconds
        self._accept_unsigned = accept_unsigned
        self._clock = clock

    @property
    def keys(self) -> PublicKeys:
        return self._keys

    def verify(self, token: str) -> BlockingEvent:
        """Verify a blocking token (``data.jwt`` of the request).

        Raises:
            InvalidToken: malformed, forged, unsigned, for another function or project,
                an event this function does not decide, issued in the future (401).
            TokenExpired: ``exp`` has passed beyond the skew (401).
            AuthUnavailable: Google's keys had to be fetched and could not be (503).
        """
        try:
            return self._verify(token)
        except _Rejected as rejected:
            logger.info("rejected blocking token: %s", rejected.reason)
            raise (TokenExpired() if rejected.expired else InvalidToken()) from None
        except KeyFetchError:
            raise AuthUnavailable() from None

    def _verify(self, token: str) -> BlockingEvent:
        if not token or not token.isascii():
            raise _Rejected("expected a compact JWT (ASCII), got something else")
        try:
            header = jwt.get_unverified_header(token)
            payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, RecursionError) as error:
            raise _Rejected(f"malformed ({type(error).__name__})") from None
        if not self._accept_unsigned:
            _check_header(header)
        event = self._check_claims(payload)
        if not self._accept_unsigned:
            self._check_signature(token, header["kid"])
        self._check_times(payload)
        return event

    def _check_claims(self, payload: dict[str, Any]) -> BlockingEvent:
        audience = payload.get("aud")
        if not isinstance(audience, str) or audience not in self._audiences:
            expected = ", ".join(sorted(self._audiences)) or "none configured"
            raise _Rejected(
                f"expected aud to be one of this function's URLs ({expected}), "
                f"got {_shown(audience)}"
            )
        if payload.get("iss") != self._issuer:
            raise _Rejected(f"expected iss {self._issuer}, got {_shown(payload.get('iss'))}")
        event_type = payload.get("event_type")
        if event_type not in EVENTS:
            raise _Rejected(f"expected event_type {' or '.join(EVENTS)}, got {_shown(event_type)}")
        subject = payload.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
            raise _Rejected(f"expected sub of 1-{MAX_SUBJECT_LENGTH} characters")
        record = payload.get("user_record")
        if not isinstance(record, dict) or record.get("uid") != subject:
            raise _Rejected("expected user_record to be an object whose uid is sub")
        email = record.get("email")
        if email is not None and not isinstance(email, str):
            raise _Rejected("expected user_record.email to be a string")
        claims = record.get("custom_claims")
        return BlockingEvent(
            event_type=str(event_type),
            uid=subject,
            email=email or None,
            email_verified=record.get("email_verified") is True,
            custom_claims=MappingProxyType(claims if isinstance(claims, dict) else {}),
            tenant_id=_text(record.get("tenant_id")),
            sign_in_method=_text(payload.get("sign_in_method")),
            event_id=_text(payload.get("event_id")),
        )

    def _check_signature(self, token: str, kid: str) -> None:
        key = self._keys.get(kid)
        if key is None:
            raise _Rejected(f"no Google token key has kid {_shown(kid)}")
        try:
            # PyJWT checks the signature only; every claim is checked here, in order.
            jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except (jwt.PyJWTError, RecursionError) as error:
            raise _Rejected(type(error).__name__) from None

    def _check_times(self, payload: dict[str, Any]) -> None:
        exp, iat = payload.get("exp"), payload.get("iat")
        if not _is_time(exp) or not _is_time(iat):
            raise _Rejected("expected exp and iat in epoch seconds")
        now = self._clock()
        if now > exp + self._skew:
            raise _Rejected("expired", expired=True)
        if iat > now + self._skew:
            raise _Rejected("issued in the future (iat)")


def key_store(*, timeout: float, fetch: Fetch, url: str = KEYS_URL) -> PublicKeys:
    """An empty store of Google's token keys (fetched with ``fetch`` on first use)."""
    return PublicKeys(url, timeout=timeout, fetch=fetch)


def _check_header(header: dict[str, Any]) -> None:
    if header.get("alg") != ALGORITHM:
        raise _Rejected(f"expected alg {ALGORITHM}, got {_shown(header.get('alg'))}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _Rejected(f"expected a kid, got {_shown(kid)}")


def _is_time(value: object) -> TypeGuard[int | float]:
    """Epoch seconds: a number (not a boolean) in range; refuses NaN and huge integers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 <= value <= MAX_TIME


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _shown(value: object) -> str:
    """A claim for a log line: short and printable (it is attacker input until verified)."""
    text = repr(value)[:60]
    return "".join(c if c.isprintable() else "?" for c in text)
