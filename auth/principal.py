"""Who is calling: the frozen result of authentication, built from token claims."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: The custom claim that carries a user's roles (a JSON list of strings).
ROLES_CLAIM = "roles"
#: ``firebase.sign_in_provider`` of a guest account (``signInAnonymously``).
ANONYMOUS_PROVIDER = "anonymous"
#: ``firebase.sign_in_provider`` of a phone-number sign-in: the SMS code proved the number.
PHONE_PROVIDER = "phone"


class Role(StrEnum):
    """The closed set of roles an admin can assign."""

    #: Assigns roles; full access to every project.
    ADMIN = "admin"
    #: Reads every project and the audit log; writes nothing that is not its own.
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Principal:
    """A verified caller. Handlers receive one; nothing mutates it."""

    uid: str
    email: str | None = None
    email_verified: bool = False
    roles: frozenset[Role] = field(default_factory=frozenset)
    sign_in_provider: str | None = None
    auth_time: int | None = None
    #: The second factor used at sign-in (e.g. ``phone``, ``totp``), or ``None``.
    second_factor: str | None = None
    tenant: str | None = None
    #: ``iat`` of the token, kept for revocation checks.
    issued_at: int = 0
    #: The ``phone_number`` claim (E.164) of accounts that have one.
    phone_number: str | None = None

    #: The user record (read for this request) grants more than the token says: a role
    #: the token lacks, or a verified email the token calls unverified. A fresh ID token
    #: would carry it; the HTTP shell tells the client (``X-Claims-Stale: 1``).
    claims_stale: bool = False

    @property
    def is_anonymous(self) -> bool:
        """A guest account: it has a uid and nothing that says who it is."""
        return self.sign_in_provider == ANONYMOUS_PROVIDER

    @property
    def verified_identity(self) -> bool:
        """Whether something vouches for who this is: the SMS code of a phone sign-in,
        or an email verified by Firebase (password users) or asserted as verified by
        the federated provider (``email_verified`` in the token). Never a guest.

        ``isVerified()`` in ``firestore.rules`` (``tools/rules.py``) is the same rule.
        """
        if self.is_anonymous:
            return False
        return self.email_verified or self.sign_in_provider == PHONE_PROVIDER

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def is_auditor(self) -> bool:
        return Role.AUDITOR in self.roles


def roles_from_claims(claims: Mapping[str, Any] | None) -> frozenset[Role]:
    """The known roles in a claims mapping; unknown or malformed values are ignored."""
    if not claims:
        return frozenset()
    raw = claims.get(ROLES_CLAIM)
    if not isinstance(raw, list):
        return frozenset()
    return frozenset(_known_roles(raw))


def _known_roles(values: Iterable[object]) -> Iterable[Role]:
    known = {role.value: role for role in Role}
    for value in values:
        if isinstance(value, str) and value in known:
            yield known[value]


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build a principal from verified ID-token claims.

    Args:
        claims: the payload returned by token verification (``sub`` already checked).
    """
    firebase = claims.get("firebase")
    firebase = firebase if isinstance(firebase, Mapping) else {}
    email = claims.get("email")
    return Principal(
        uid=str(claims["sub"]),
        email=email if isinstance(email, str) else None,
        email_verified=claims.get("email_verified") is True,
        roles=roles_from_claims(claims),
        sign_in_provider=_str_or_none(firebase.get("sign_in_provider")),
        auth_time=_int_or_none(claims.get("auth_time")),
        second_factor=_str_or_none(firebase.get("sign_in_second_factor")),
        tenant=_str_or_none(firebase.get("tenant")),
        issued_at=_int_or_none(claims.get("iat")) or 0,
        phone_number=_str_or_none(claims.get("phone_number")),
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
