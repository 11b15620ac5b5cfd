"""Which credential a request carries: the bearer token, or else (browsers) the session
cookie. The choice, the one-``Authorization``-header rule and the CSRF ``Origin`` check
of cookie-authenticated writes are made here, once.

The HTTP shell hands over its request as it is: anything with ``method``, ``host``, ``scheme``,
``headers`` and ``cookies`` (Flask's request has them); nothing here knows a route.
Credentials are only parsed here, never verified (``auth.identity`` does that), so a
request without any costs nothing and never reaches firebase-admin.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from auth.bearer import bearer_token
from auth.session_cookies import SESSION_COOKIE_NAME
from core import errors, origins

#: Methods that change nothing; cookie-authenticated requests with any other need an Origin.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Headers(Protocol):
    def get(self, key: str) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


class HttpRequest(Protocol):
    """What credentials are read from (a Flask/werkzeug request fits)."""

    @property
    def method(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def scheme(self) -> str: ...

    @property
    def headers(self) -> Headers: ...

    @property
    def cookies(self) -> Mapping[str, str]: ...


class CredentialKind(StrEnum):
    BEARER = "bearer"
    SESSION_COOKIE = "session_cookie"


@dataclass(frozen=True)
class Credential:
    """An unverified credential taken from a request; its value never shows in a repr."""

    kind: CredentialKind
    value: str = field(repr=False)


def credential(
    request: HttpRequest,
    *,
    allowed_origins: Collection[str] = (),
    deployed: bool = False,
    bearer_only: bool = False,
) -> Credential:
    """The one credential of ``request``: the bearer token, or else the session cookie.

    A bearer header always wins over a cookie; no other cookie, and no query parameter,
    is ever read. A cookie-authenticated request whose method is not safe must come from
    an allowed ``Origin`` (``check_origin``).

    Args:
        allowed_origins: origins besides the API's own that may send cookie-authenticated
            writes (``CORS_ALLOWED_ORIGINS``).
        deployed: the API's own origin is https (see ``check_origin``).
        bearer_only: ignore the session cookie (only a bearer token counts).

    Raises:
        MissingToken, InvalidToken: no usable credential (401).
        CsrfRejected: a cookie-authenticated write from another origin (403).
    """
    authorization = single_authorization(request)
    cookie = request.cookies.get(SESSION_COOKIE_NAME)
    if authorization is None and cookie and not bearer_only:
        if request.method not in SAFE_METHODS:
            check_origin(request, allowed_origins, deployed=deployed)
        return Credential(CredentialKind.SESSION_COOKIE, cookie)
    return Credential(CredentialKind.BEARER, bearer_token(authorization))


def check_origin(
    request: HttpRequest, allowed_origins: Collection[str], *, deployed: bool = False
) -> None:
    """CSRF defence for cookie sessions: the browser's ``Origin`` must be exactly this
    API's own origin or an allowlisted one: scheme, host and port (``SameSite=Strict``
    is the first line, this the second). Anything a browser would not send as an
    origin (a path, even ``/``; ``null``; other schemes) is refused.

    The API's own scheme is ``https`` when ``deployed`` (Cloud Functions serves browsers
    over HTTPS only, and the function itself sees plain HTTP from Google's front
    end), else the request's; its host and port are the ``Host`` header's.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        raise errors.CsrfRejected("Cookie-authenticated writes must send an Origin header.")
    sent = origins.parse(origin)
    if sent is None:
        raise errors.CsrfRejected()
    allowed = {origins.parse(value) for value in allowed_origins}
    own = origins.of_host("https" if deployed else request.scheme, request.host)
    if sent != own and sent not in allowed:
        raise errors.CsrfRejected()


def single_authorization(request: HttpRequest) -> str | None:
    """The one ``Authorization`` header; two are ambiguous and refused, not merged.

    Tokens in the query string or in cookies are never read.

    Raises:
        InvalidToken: more than one ``Authorization`` header.
    """
    values = request.headers.getlist("Authorization")
    if len(values) > 1:
        raise errors.InvalidToken("Send exactly one Authorization header.")
    return values[0] if values else None
