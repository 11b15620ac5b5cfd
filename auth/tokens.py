"""ID-token verification: the only module that sees firebase-admin's token errors.

Production path (``FIREBASE_AUTH_EMULATOR_HOST`` unset): the checks of
``firebase_admin.auth.verify_id_token`` (firebase-admin 7.7, google-auth 2.x), in
their order, against public keys held parsed in memory by ``auth.keys`` instead of
re-read from an HTTP cache and re-parsed on every call:

1. three base64url JSON segments, header and payload objects (google-auth's decoder,
   but only canonical encodings: see below);
2. ``aud`` is not the custom-token audience; a ``kid`` is present; ``alg`` is
   ``RS256``; ``aud`` is the project; ``iss`` is ``securetoken.google.com/<project>``;
   ``sub`` is a non-empty string of at most 128 characters;
3. the key of ``kid`` (fetching keys if needed: a failure is ``AuthUnavailable``),
   then the RS256 signature (RSASSA-PKCS1-v1_5, SHA-256, as google-auth checks it);
4. ``iat``/``exp`` present; ``iat`` not after now + skew, ``exp`` not before
   now - skew, ``now`` in whole seconds (google-auth's rules).

A client sends the same ID token for up to an hour, so a token that passed 2-3 is
remembered (SHA-256 of project and token, in a bounded ``VerifiedTokens`` cache that the
caller keeps beside its key store; the ``Authenticator`` does): presented
again, only its payload is decoded and step 4 runs, provided its key is still the very
key object the store holds (``auth.keys`` keeps the object across refetches while its
certificate is unchanged; a changed certificate, or a key Google stopped publishing,
makes it verify in full again). The answer is the one a full verification would give
at that moment. Because the cache is keyed on the token's text, each segment must be
canonical unpadded base64url (``[A-Za-z0-9_-]``, no ``=``, zero trailing bits): the
decoder of google-auth drops other characters, which would give one token unlimited
spellings, each taking a cache slot.

Where the outcome differs from firebase-admin's, on purpose: a token whose encoding is
not canonical (padding, characters outside the alphabet, non-zero trailing bits) is a
401 here, where google-auth decodes it as the canonical spelling; a token Google signed with
non-numeric ``iat``/``exp`` is a 401 here (google-auth raises ``TypeError``, a 500); a
token with a ``kid`` we do not know makes the keys be fetched again (at most every
``auth.keys.UNKNOWN_KID_REFETCH_SECONDS``), where firebase-admin waits for max-age.
``tests/unit/test_tokens_production.py`` runs the token tables against both.

Emulator path: the Auth emulator's tokens are unsigned and firebase-admin accepts
them only in that mode, so verification is delegated to it, after the structural
checks of step 1 (``check_structure``): firebase-admin's decoder lets some malformed
tokens escape as errors other than its invalid-token ones (a payload nested past the
recursion limit is a ``RecursionError``), which would be 500s. Session cookies
(``auth.session_cookies``) pass the same checks before firebase-admin sees them.

On both paths ``check_times`` then re-checks ``exp``/``iat``/``auth_time`` with the
injected clock, which makes the emulator behave like production for expired or
future-dated tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import firebase_admin
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from firebase_admin import auth as fb_auth

from auth.bearer import MAX_TOKEN_LENGTH
from auth.keys import KeyFetchError, PublicKeys
from core.errors import AuthUnavailable, InternalError, InvalidToken, TokenExpired
from core.settings import MAX_CLOCK_SKEW_SECONDS

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

#: firebase-admin's switch to the Auth emulator (and to unsigned tokens); read per call.
EMULATOR_HOST_ENV: Final = "FIREBASE_AUTH_EMULATOR_HOST"
#: ``aud`` of a Firebase custom token, which must never pass as an ID token.
CUSTOM_TOKEN_AUDIENCE: Final = (
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"  # noqa: S105
)
ISSUER_PREFIX: Final = "https://securetoken.google.com/"
MAX_SUBJECT_LENGTH: Final = 128
#: Verified tokens remembered per key store (~150 bytes each: a digest, a kid, a reference).
VERIFIED_TOKENS_CACHE_SIZE: Final = 4096

_PADDING: Final = padding.PKCS1v15()
_SHA256: Final = hashes.SHA256()

#: google-auth quotes the token, or a decoded segment of it, as a bytes literal
#: ("Wrong number of segments in token: b'...'", "Can't parse segment: b'...'").
_BYTES_LITERAL = re.compile(r"""\bb(['"]).*?(?:\1|$)""")


class _Rejected(Exception):
    """A token the production path refuses; ``expired`` selects ``TokenExpired``."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


def verify_id_token(
    token: str,
    *,
    app: firebase_admin.App,
    clock_skew_seconds: int,
    keys: PublicKeys,
    verified: VerifiedTokens | None = None,
    clock: Clock = time.time,
) -> dict[str, Any]:
    """Verify a Firebase ID token and return its claims (with ``uid`` = ``sub``).

    Revocation and disabled status are not checked here (see ``auth.revocation``).

    Args:
        token: the compact JWT.
        app: the firebase-admin app; its project id is the expected ``aud``.
        clock_skew_seconds: tolerated skew on ``exp``/``iat``/``auth_time`` (0-60).
        clock: the wall clock, in epoch seconds.
        keys: the public keys to verify against (``auth.keys.for_app(app)``, kept).
        verified: the cache of tokens verified with ``keys`` (see the module docstring);
            ``None`` verifies the signature every time.

    Raises:
        InvalidToken: forged, malformed, wrong project, custom token, etc.
        TokenExpired: ``exp`` is in the past beyond the skew.
        AuthUnavailable: Google's public keys could not be fetched.
        InternalError: misconfiguration (no project id, skew out of range).
    """
    if os.environ.get(EMULATOR_HOST_ENV):
        check_structure(token)
        return verify_id_token_with_sdk(
            token, app=app, clock_skew_seconds=clock_skew_seconds, clock=clock
        )
    project_id = expected_project_id(app, clock_skew_seconds)
    now = clock()
    try:
        claims = _verify_signed(
            token,
            project_id=project_id,
            keys=keys,
            skew=clock_skew_seconds,
            now=int(now),
            verified=verified,
        )
    except _Rejected as rejected:
        logger.info("rejected ID token: %s", _redacted(rejected.reason, token))
        raise (TokenExpired() if rejected.expired else InvalidToken()) from None
    except KeyFetchError:
        raise AuthUnavailable() from None
    check_times(claims, now=now, skew=clock_skew_seconds)
    return claims


def verify_id_token_with_sdk(
    token: str,
    *,
    app: firebase_admin.App,
    clock_skew_seconds: int,
    clock: Clock = time.time,
) -> dict[str, Any]:
    """``verify_id_token`` through ``firebase_admin.auth.verify_id_token`` itself.

    Used in emulator mode, and as the reference the production path is tested and
    benchmarked against. Same contract as ``verify_id_token``.
    """
    try:
        claims: dict[str, Any] = fb_auth.verify_id_token(
            token, app=app, check_revoked=False, clock_skew_seconds=clock_skew_seconds
        )
    except fb_auth.ExpiredIdTokenError:
        raise TokenExpired() from None
    except fb_auth.CertificateFetchError as error:
        logger.warning("could not fetch Google's token certificates: %s", type(error).__name__)
        raise AuthUnavailable() from None
    except fb_auth.InvalidIdTokenError as error:
        if isinstance(getattr(error, "cause", None), json.JSONDecodeError):
            # Google's key endpoint answered with something that is not JSON: keys unavailable.
            logger.warning("could not parse Google's token certificates")
            raise AuthUnavailable() from None
        # The SDK's message says what was expected, but for a malformed token it quotes
        # the token itself: redact before logging.
        logger.info("rejected ID token: %s", _redacted(str(error), token))
        raise InvalidToken() from None
    except ValueError as error:
        # The SDK raises ValueError for misconfiguration, not for bad tokens (an empty
        # token never gets here: ``auth.bearer`` rejects it first).
        logger.error("token verification is misconfigured: %s", error)
        raise InternalError() from None
    check_times(claims, now=clock(), skew=clock_skew_seconds)
    return claims


def check_structure(token: str, *, credential: str = "ID token") -> None:
    """Refuse anything that is not a well-formed compact JWT, before a verifier sees it.

    The checks of step 1 of the production path (see the module docstring): at most
    ``auth.bearer.MAX_TOKEN_LENGTH`` characters, three base64url segments, header and
    payload JSON objects. Every client-supplied credential passes them before it
    reaches firebase-admin, whose decoder raises other errors than its invalid-token
    ones for some malformed input.

    Args:
        token: the compact JWT (an ID token or a session cookie).
        credential: what it is, for the log line.

    Raises:
        InvalidToken: the token is malformed (logged without the token).
    """
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise _Rejected(f"expected at most {MAX_TOKEN_LENGTH} characters")
        _decode(token)
    except _Rejected as rejected:
        logger.info("rejected %s: %s", credential, _redacted(rejected.reason, token))
        raise InvalidToken() from None


def check_times(claims: dict[str, Any], *, now: float, skew: int) -> None:
    """Reject tokens that are expired or issued in the future, beyond ``skew`` seconds.

    Raises:
        TokenExpired: ``exp`` has passed.
        InvalidToken: ``exp``/``iat``/``auth_time`` missing, malformed or in the future.
    """
    times: list[Any] = [claims.get(name) for name in ("exp", "iat", "auth_time")]
    if not all(_is_number(value) for value in times):
        logger.info("rejected ID token: expected numeric exp, iat and auth_time")
        raise InvalidToken()
    exp, iat, auth_time = (float(value) for value in times)
    if now > exp + skew:
        raise TokenExpired()
    if iat > now + skew or auth_time > now + skew:
        logger.info("rejected ID token: iat or auth_time is in the future")
        raise InvalidToken()


# --- the production path -----------------------------------------------------


def expected_project_id(app: firebase_admin.App, skew: int) -> str:
    """The expected audience, checked before any token is looked at.

    Raises:
        InternalError: no project id, or a skew out of range (misconfiguration, a
            500 as with firebase-admin).
    """
    project_id = app.project_id
    if not project_id:
        logger.error("token verification is misconfigured: the app has no project id")
        raise InternalError()
    if not 0 <= skew <= MAX_CLOCK_SKEW_SECONDS:
        logger.error("token verification is misconfigured: clock skew %r", skew)
        raise InternalError()
    return str(project_id)


def _verify_signed(
    token: str,
    *,
    project_id: str,
    keys: PublicKeys,
    skew: int,
    now: int,
    verified: VerifiedTokens | None,
) -> dict[str, Any]:
    """firebase-admin's ``_JWTVerifier.verify`` + google-auth's ``jwt.decode``, in order.

    Raises:
        _Rejected: the token is not a valid ID token for ``project_id``.
        KeyFetchError: the keys were needed and could not be fetched.
    """
    digest = hashlib.sha256(f"{project_id}\n{token}".encode("utf-8", "surrogatepass")).digest()
    if verified is not None:
        seen = verified.get(digest)
        # The same key object: no refresh since, and Google still publishes it.
        if seen is not None and keys.get(seen[0]) is seen[1]:
            verified.count_hit()
            payload = _decode_payload(token)
            _check_iat_and_exp(payload, skew=skew, now=now)
            payload["uid"] = payload["sub"]
            return payload
    header, payload, signed, signature = _decode(token)
    audience = payload.get("aud")
    subject = payload.get("sub")
    kid = header.get("kid")
    if audience == CUSTOM_TOKEN_AUDIENCE:
        raise _Rejected("verify_id_token() expects an ID token, but was given a custom token")
    if not kid:
        raise _Rejected('Firebase ID token has no "kid" claim')
    if header.get("alg") != "RS256":
        raise _Rejected(
            f'Firebase ID token has incorrect algorithm. Expected "RS256" but got '
            f'"{header.get("alg")}"'
        )
    if audience != project_id:
        raise _Rejected(
            f'Firebase ID token has incorrect "aud" (audience) claim. Expected '
            f'"{project_id}" but got "{audience}"'
        )
    if payload.get("iss") != ISSUER_PREFIX + project_id:
        raise _Rejected(
            f'Firebase ID token has incorrect "iss" (issuer) claim. Expected '
            f'"{ISSUER_PREFIX + project_id}" but got "{payload.get("iss")}"'
        )
    if not isinstance(subject, str):
        raise _Rejected('Firebase ID token has no "sub" (subject) claim')
    if not subject:
        raise _Rejected('Firebase ID token has an empty string "sub" (subject) claim')
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise _Rejected('Firebase ID token has a "sub" (subject) claim longer than 128 characters')
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise _Rejected(f"Certificate for key id {kid} not found")
    try:
        key.verify(signature, signed, _PADDING, _SHA256)
    except (InvalidSignature, ValueError):
        raise _Rejected("Could not verify token signature") from None
    if verified is not None:
        verified.put(digest, kid, key)  # signature and static claims: good for this key
    _check_iat_and_exp(payload, skew=skew, now=now)
    payload["uid"] = subject
    return payload


def _decode_payload(token: str) -> dict[str, Any]:
    """The payload of a token already decoded once (so known to be well formed)."""
    payload: dict[str, Any] = json.loads(_b64decode(token.encode().split(b".")[1]))
    return payload


class VerifiedTokens:
    """SHA-256 of tokens whose signature and static claims passed, with their kid and
    key: one per key store. Bounded; the oldest entry goes first (tokens live an hour, so
    the oldest is the least useful). Reads take no lock (a dict lookup is atomic in
    CPython), so the instance's threads do not queue on it; writes do. Only successes
    are remembered."""

    def __init__(self, max_entries: int = VERIFIED_TOKENS_CACHE_SIZE) -> None:
        self._entries: dict[bytes, tuple[str, RSAPublicKey]] = {}
        self._max_entries = max_entries
        self._lock = threading.Lock()
        #: Verifications answered from the cache (approximate under concurrency).
        self.hits = 0

    def get(self, digest: bytes) -> tuple[str, RSAPublicKey] | None:
        return self._entries.get(digest)

    def count_hit(self) -> None:
        self.hits += 1

    def put(self, digest: bytes, kid: str, key: RSAPublicKey) -> None:
        with self._lock:
            self._entries.pop(digest, None)
            self._entries[digest] = (kid, key)
            while len(self._entries) > self._max_entries:
                del self._entries[next(iter(self._entries))]

    def __len__(self) -> int:
        return len(self._entries)


def _decode(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """google-auth's ``jwt._unverified_decode``: header, payload, signed part, signature."""
    try:
        raw = token.encode("utf-8")
    except UnicodeEncodeError:
        raise _Rejected("expected a UTF-8 token") from None
    if raw.count(b".") != 2:
        raise _Rejected("Wrong number of segments in token")
    header_segment, payload_segment, signature_segment = raw.split(b".")
    try:
        signature = _canonical_b64decode(signature_segment)
        header = json.loads(_canonical_b64decode(header_segment).decode("utf-8"))
        payload = json.loads(_canonical_b64decode(payload_segment).decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):
        raise _Rejected("Can't parse segment") from None
    if not isinstance(header, dict):
        raise _Rejected("Header segment should be a JSON object")
    if not isinstance(payload, dict):
        raise _Rejected("Payload segment should be a JSON object")
    return header, payload, header_segment + b"." + payload_segment, signature


def _b64decode(segment: bytes) -> bytes:
    """google-auth's ``padded_urlsafe_b64decode`` (non-alphabet bytes are discarded);
    only for segments ``_canonical_b64decode`` accepted before."""
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def _canonical_b64decode(segment: bytes) -> bytes:
    """``_b64decode`` of the one spelling that encodes its result (see the module docstring).

    Raises:
        _Rejected: anything else (padding, other characters, non-zero trailing bits).
        binascii.Error: not base64 at all.
    """
    decoded = _b64decode(segment)
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != segment:
        raise _Rejected("expected canonical unpadded base64url segments")
    return decoded


def _check_iat_and_exp(payload: dict[str, Any], *, skew: int, now: int) -> None:
    """google-auth's ``_verify_iat_and_exp``, with ``now`` in whole seconds as there."""
    if "iat" not in payload or "exp" not in payload:
        raise _Rejected("Token does not contain required claims iat and exp")
    iat, exp = payload["iat"], payload["exp"]
    if not _is_number(iat) or not _is_number(exp):
        # google-auth would fail with a TypeError (a 500); a 401 is the honest answer.
        raise _Rejected("expected numeric iat and exp")
    if now < iat - skew:
        raise _Rejected("Token used too early")
    if exp + skew < now:
        raise _Rejected("Token expired", expired=True)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _redacted(message: str, token: str) -> str:
    """The reason with no part of the token in it, first sentence only."""
    message = _BYTES_LITERAL.sub("<redacted>", message.replace(token, "<token>"))
    return message.split(". ", 1)[0][:200]
