"""ID-token verification: the only module that sees firebase-admin's token errors.

``firebase_admin.auth.verify_id_token`` checks signature, ``kid``, ``alg``,
``aud``, ``iss``, ``sub``, ``exp`` and ``iat``. With the Auth emulator it skips
signature and time checks, so the time checks are repeated here, which makes the
emulator behave like production for expired or future-dated tokens.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import firebase_admin
from firebase_admin import auth as fb_auth

from core.errors import AuthUnavailable, InternalError, InvalidToken, TokenExpired

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

#: google-auth quotes the token, or a decoded segment of it, as a bytes literal
#: ("Wrong number of segments in token: b'...'", "Can't parse segment: b'...'").
_BYTES_LITERAL = re.compile(r"""\bb(['"]).*?(?:\1|$)""")


def verify_id_token(
    token: str,
    *,
    app: firebase_admin.App,
    clock_skew_seconds: int,
    clock: Clock = time.time,
) -> dict[str, Any]:
    """Verify a Firebase ID token and return its claims.

    Revocation and disabled status are not checked here (see ``auth.sessions``).

    Raises:
        InvalidToken: forged, malformed, wrong project, custom token, etc.
        TokenExpired: ``exp`` is in the past beyond the skew.
        AuthUnavailable: Google's public keys could not be fetched.
        InternalError: firebase-admin is misconfigured (e.g. no project id).
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
        logger.info("rejected ID token: %s", _reason(error, token))
        raise InvalidToken() from None
    except ValueError as error:
        # The SDK raises ValueError for misconfiguration, not for bad tokens (an empty
        # token never gets here: ``auth.bearer`` rejects it first).
        logger.error("token verification is misconfigured: %s", error)
        raise InternalError() from None
    check_times(claims, now=clock(), skew=clock_skew_seconds)
    return claims


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


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _reason(error: Exception, token: str) -> str:
    """The SDK's message with no part of the token in it."""
    message = str(error).replace(token, "<token>")
    return _first_sentence(_BYTES_LITERAL.sub("<redacted>", message))


def _first_sentence(message: str) -> str:
    return message.split(". ", 1)[0][:200]
