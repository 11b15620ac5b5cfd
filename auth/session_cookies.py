"""Firebase session cookies for browsers: created from a fresh ID token, verified
like ID tokens. The only module that sees firebase-admin's session-cookie errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import firebase_admin
from firebase_admin import auth as fb_auth
from firebase_admin import exceptions as fb_exceptions

from auth.tokens import check_times
from core.errors import (
    AuthUnavailable,
    InternalError,
    InvalidToken,
    RecentSignInRequired,
    TokenExpired,
)

logger = logging.getLogger(__name__)

#: The name Firebase Hosting forwards to functions; the only cookie this API reads.
SESSION_COOKIE_NAME = "__session"
#: Firebase recommends exchanging only ID tokens from a sign-in this recent.
MAX_SIGN_IN_AGE = timedelta(minutes=5)


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
        InvalidToken, TokenExpired, AuthUnavailable, InternalError.
    """
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
        raise InvalidToken("The session cookie is invalid.") from None
    except ValueError as error:
        if not cookie:
            raise InvalidToken("The session cookie is empty.") from None
        logger.error("session-cookie verification is misconfigured: %s", type(error).__name__)
        raise InternalError() from None
    check_times(claims, now=clock(), skew=clock_skew_seconds)
    return claims
