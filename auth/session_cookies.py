"""Firebase session cookies for browsers: created from a fresh ID token, verified
like ID tokens. The only module that sees firebase-admin's session-cookie errors.

A cookie is whatever the client sends, checked before anyone is authenticated: it
passes the structural checks of bearer tokens (``auth.tokens.check_structure``)
before firebase-admin sees it, and nothing firebase-admin raises while verifying it
becomes a 500 (some malformed cookies make it fail with ``TypeError`` and the like).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import firebase_admin
from firebase_admin import auth as fb_auth
from firebase_admin import exceptions as fb_exceptions

from auth.tokens import check_structure, check_times, expected_project_id
from core.errors import (
    AuthUnavailable,
    InvalidToken,
    RecentSignInRequired,
    TokenExpired,
)

logger = logging.getLogger(__name__)

#: The name Firebase Hosting forwards to functions; the only cookie this API reads.
SESSION_COOKIE_NAME = "__session"
#: Firebase recommends exchanging only ID tokens from a sign-in this recent.
MAX_SIGN_IN_AGE = timedelta(minutes=5)
INVALID_MESSAGE = "The session cookie is invalid."


def create(
    id_token: str,
    *,
    auth_time: int | None,
    app: firebase_admin.App,
    lifetime: timedelta,
    clock: Callable[[], float] = time.time,
) -> str:
    """Exchange a verified ID token for a session cookie.

    Raises:
        RecentSignInRequired: the user signed in more than five minutes ago.
        InvalidToken: the Auth backend refused the token.
        AuthUnavailable: the Auth backend could not be reached.
    """
    if auth_time is None or clock() - auth_time > MAX_SIGN_IN_AGE.total_seconds():
        raise RecentSignInRequired()
    try:
        cookie: str = fb_auth.create_session_cookie(id_token, expires_in=lifetime, app=app)
    except fb_auth.InvalidIdTokenError:
        raise InvalidToken() from None
    except fb_exceptions.FirebaseError as error:
        logger.warning("could not create a session cookie: %s", type(error).__name__)
        raise AuthUnavailable() from None
    return cookie


def verify(
    cookie: str,
    *,
    app: firebase_admin.App,
    clock_skew_seconds: int,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Verify a session cookie and return its claims (revocation is checked by the caller).

    Raises:
        InvalidToken: the cookie is malformed, forged, or refused for any other
            reason, including an unexpected failure of the verifier (logged by type,
            never with the cookie).
        TokenExpired: the session has expired.
        AuthUnavailable: Google's session-cookie certificates could not be fetched.
        InternalError: misconfiguration (no project id, skew out of range), checked
            before the cookie is looked at.
    """
    expected_project_id(app, clock_skew_seconds)
    try:
        check_structure(cookie, credential="session cookie")
    except InvalidToken:
        raise InvalidToken(INVALID_MESSAGE) from None
    try:
        claims: dict[str, Any] = fb_auth.verify_session_cookie(
            cookie, check_revoked=False, app=app, clock_skew_seconds=clock_skew_seconds
        )
    except fb_auth.ExpiredSessionCookieError:
        raise TokenExpired("The session has expired; sign in again.") from None
    except fb_auth.CertificateFetchError:
        logger.warning("could not fetch Google's session-cookie certificates")
        raise AuthUnavailable() from None
    except fb_auth.InvalidSessionCookieError:
        logger.info("rejected session cookie")
        raise InvalidToken(INVALID_MESSAGE) from None
    except Exception as error:  # noqa: BLE001 - a client's cookie must never cause a 500
        # The configuration was checked above, so this is the cookie's doing: the
        # type only (the message of a decoding error may quote the cookie).
        logger.warning("rejected session cookie: the verifier raised %s", type(error).__name__)
        raise InvalidToken(INVALID_MESSAGE) from None
    check_times(claims, now=clock(), skew=clock_skew_seconds)
    return claims
