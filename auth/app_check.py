"""Firebase App Check tokens: is this request from our app, on a genuine device/browser?

An App Check token is an RS256 JWT signed by Google, published keys in a JWKS
(``core.settings.APP_CHECK_JWKS_URL``). ``AppCheckVerifier.verify`` makes the checks of
``firebase_admin.app_check.verify_token`` (firebase-admin 7.7), stricter where that one
is loose, and in an order that never fetches keys for a token that cannot be valid:

1. the header: ``alg`` is ``RS256`` (never ``none``, ``HS256`` or another), ``typ`` is
   ``JWT``, ``kid`` a non-empty string;
2. the key of ``kid`` from the key set (fetched when needed: a failure is
   ``AuthUnavailable``, 503, never a 401);
3. with PyJWT: the signature (RS256 only), ``iss`` exactly
   ``https://firebaseappcheck.googleapis.com/<project number>`` (firebase-admin only
   checks the prefix), ``aud`` naming ``projects/<project number>`` or
   ``projects/<project id>`` (firebase-admin: the id only), ``exp``, ``iat``, ``iss``,
   ``aud`` and ``sub`` present;
4. ``aud`` is a list and ``sub`` (the app id) a non-empty string, as firebase-admin
   requires; ``exp`` not before now - skew, ``iat`` not after now + skew (with the
   injected clock, like ``auth.tokens``; firebase-admin leaves ``iat`` unchecked).

The key set is held by an ``auth.keys.PublicKeys`` with a JWKS parser: parsed once,
refreshed by ``Cache-Control`` max-age (6 hours, firebase-admin's lifespan, when the
response gives none), again on an unknown ``kid`` at most every
``auth.keys.UNKNOWN_KID_REFETCH_SECONDS``, one fetch for concurrent callers, never at
import. (PyJWT's ``PyJWKClient`` neither honours max-age nor shares one fetch between
threads, so only its JWK parsing is used.)

Rejections are logged with a reason that never contains the token (PyJWT's own
messages are reduced to their class name). Replay protection (spending a token once)
is the caller's: ``AppCheckToken.replay_id`` names a token without revealing it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from auth.keys import MAX_BODY_BYTES, MAX_KEYS, Fetch, KeyFetchError, PublicKeys
from core.errors import AppCheckFailed, AuthUnavailable, InternalError
from core.settings import MAX_CLOCK_SKEW_SECONDS

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

ISSUER_PREFIX: Final = "https://firebaseappcheck.googleapis.com/"
ALGORITHM: Final = "RS256"
#: How long a key set is used when its response names no max-age (firebase-admin: 6 h).
DEFAULT_CACHE_SECONDS: Final = 6 * 3600.0
#: Claims a token must carry (PyJWT checks presence; the values are checked below).
REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "aud", "sub")
#: Larger ``exp``/``iat`` values are not times (2**53: the last exact float).
MAX_TIME: Final = 2**53


@dataclass(frozen=True)
class AppCheckToken:
    """What a verified App Check token says, and a name for it that reveals nothing."""

    #: The Firebase app id (``sub``), e.g. ``1:123456789012:web:abc123``.
    app_id: str
    #: ``exp``, in epoch seconds.
    expires_at: float
    #: SHA-256 (hex) of the token's ``jti``, or of its signature when it has none: the
    #: same for every presentation of one token, different for every other token.
    replay_id: str


class _Rejected(Exception):
    """The token is not a valid App Check token for this project; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AppCheckVerifier:
    """Verifies App Check tokens for one project. Thread-safe; builds nothing until used."""

    def __init__(
        self,
        *,
        project_id: str,
        project_number: str,
        keys: PublicKeys,
        clock_skew_seconds: int,
        clock: Clock = time.time,
    ) -> None:
        if not project_id or not project_number.isdigit():
            raise InternalError("App Check needs the project id and number.")
        if not 0 <= clock_skew_seconds <= MAX_CLOCK_SKEW_SECONDS:
            raise InternalError("App Check clock skew out of range.")
        self._issuer = ISSUER_PREFIX + project_number
        self._audiences = (f"projects/{project_number}", f"projects/{project_id}")
        self._keys = keys
        self._skew = clock_skew_seconds
        self._clock = clock

    @property
    def keys(self) -> PublicKeys:
        return self._keys

    def verify(self, token: str) -> AppCheckToken:
        """Verify an App Check token (the ``X-Firebase-AppCheck`` header's value).

        Raises:
            AppCheckFailed: the token is malformed, forged, expired, for another project,
                or not an App Check token (401).
            AuthUnavailable: the key set had to be fetched and could not be (503).
        """
        try:
            return self._verify(token)
        except _Rejected as rejected:
            logger.info("rejected App Check token: %s", rejected.reason)
            raise AppCheckFailed() from None
        except KeyFetchError:
            raise AuthUnavailable() from None

    def _verify(self, token: str) -> AppCheckToken:
        if not token:
            raise _Rejected("empty token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise _Rejected(f"malformed ({type(error).__name__})") from None
        if header.get("alg") != ALGORITHM:
            raise _Rejected(f"expected alg {ALGORITHM}, got {_shown(header.get('alg'))}")
        if header.get("typ") != "JWT":
            raise _Rejected(f"expected typ JWT, got {_shown(header.get('typ'))}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _Rejected(f"expected a kid, got {_shown(kid)}")
        key = self._keys.get(kid)
        if key is None:
            raise _Rejected(f"no App Check key has kid {_shown(kid)}")
        try:
            decoded = jwt.decode_complete(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audiences,
                issuer=self._issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    # Times are checked below, with the injected clock.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as error:
            raise _Rejected(type(error).__name__) from None
        payload: dict[str, Any] = decoded["payload"]
        if not isinstance(payload["aud"], list):
            raise _Rejected("expected aud to be a list")
        subject = payload["sub"]
        if not isinstance(subject, str) or not subject:
            raise _Rejected("expected sub (the app id) to be a non-empty string")
        expires_at = self._check_times(payload)
        return AppCheckToken(
            app_id=subject,
            expires_at=expires_at,
            replay_id=_replay_id(payload.get("jti"), decoded["signature"]),
        )

    def _check_times(self, payload: dict[str, Any]) -> float:
        exp, iat = payload["exp"], payload["iat"]
        if not _is_time(exp) or not _is_time(iat):
            raise _Rejected("expected exp and iat in epoch seconds")
        now = self._clock()
        if now > exp + self._skew:
            raise _Rejected("expired")
        if iat > now + self._skew:
            raise _Rejected("issued in the future (iat)")
        return float(exp)


def parse_jwks(body: bytes) -> dict[str, RSAPublicKey]:
    """A JWKS (``{"keys": [JWK, ...]}``) to its RS256 signing keys, by ``kid``.

    Keys that are not RSA, are meant for another algorithm or use, or have no
    ``kid`` are skipped; PyJWT builds the RSA keys.

    Raises:
        KeyFetchError: not a JWKS of at most ``MAX_KEYS`` keys, or no usable key in it.
    """
    if len(body) > MAX_BODY_BYTES:
        raise KeyFetchError(f"expected a JWKS under {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise KeyFetchError("expected a JWKS, got non-JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or len(entries) > MAX_KEYS:
        raise KeyFetchError(f"expected a JWKS with a list of at most {MAX_KEYS} keys")
    keys: dict[str, RSAPublicKey] = {}
    for entry in entries:
        kid, key = _signing_key(entry)
        if kid is None or key is None:
            logger.warning("skipped an App Check key: expected an RS256 signing JWK with a kid")
        else:
            keys[kid] = key
    if not keys:
        raise KeyFetchError("expected at least one RS256 key in the JWKS, got none")
    return keys


def _signing_key(entry: object) -> tuple[str | None, RSAPublicKey | None]:
    if not isinstance(entry, dict):
        return None, None
    kid = entry.get("kid")
    if (
        not isinstance(kid, str)
        or not kid
        or entry.get("kty") != "RSA"
        or entry.get("alg", ALGORITHM) != ALGORITHM
        or entry.get("use", "sig") != "sig"
    ):
        return None, None
    try:
        key = jwt.PyJWK(entry, algorithm=ALGORITHM).key
    except jwt.PyJWTError:
        return None, None
    return (kid, key) if isinstance(key, RSAPublicKey) else (None, None)


def key_store(url: str, *, timeout: float, fetch: Fetch) -> PublicKeys:
    """An empty store of the App Check key set at ``url`` (fetched with ``fetch`` on
    first use)."""
    return PublicKeys(
        url,
        timeout=timeout,
        fetch=fetch,
        parse=parse_jwks,
        default_cache_seconds=DEFAULT_CACHE_SECONDS,
    )


def _replay_id(jti: object, signature: bytes) -> str:
    # Tagged so that a jti can never collide with a signature.
    if isinstance(jti, str) and jti:
        material = b"jti:" + jti.encode("utf-8", "surrogatepass")
    else:
        material = b"sig:" + signature
    return hashlib.sha256(material).hexdigest()


def _is_time(value: object) -> bool:
    """Epoch seconds: a number (not a boolean) in range. json.loads also yields NaN,
    Infinity and integers too large for a float; the comparisons refuse them all."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 <= value <= MAX_TIME


def _shown(value: object) -> str:
    """A header value for a log line: short, printable (it is attacker input)."""
    text = repr(value)[:40]
    return "".join(c if c.isprintable() else "?" for c in text)
