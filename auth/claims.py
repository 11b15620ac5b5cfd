"""Rules for role claims as data: merging, size limit, reserved names. No I/O.

``set_custom_user_claims`` *replaces* all custom claims, so roles are merged into
the user's other claims here. Firebase caps the serialised claims at 1000 bytes
and forbids standard token claim names (``roles`` is not one of them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from auth.principal import ROLES_CLAIM, Role
from core.errors import ClaimsTooLarge

#: Firebase's limit on the JSON-serialised custom claims, in bytes.
MAX_CLAIMS_BYTES = 1000
#: Claim names Firebase refuses as custom claims: standard JWT/OIDC claims and
#: ``firebase`` (firebase-admin's ``RESERVED_CLAIMS``; Identity Platform refuses the
#: same names in a blocking function's answer).
RESERVED_CLAIMS = frozenset(
    {
        "acr",
        "amr",
        "at_hash",
        "aud",
        "auth_time",
        "azp",
        "c_hash",
        "cnf",
        "exp",
        "firebase",
        "iat",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "sub",
    }
)


def canonical_roles(roles: Iterable[Role]) -> list[str]:
    """Roles as stored in the claim: unique and sorted, so equal sets serialise equally."""
    return sorted({Role(role).value for role in roles})


def merge_roles(claims: Mapping[str, Any] | None, roles: Iterable[Role]) -> dict[str, Any]:
    """Return ``claims`` with the ``roles`` claim replaced, other claims untouched.

    An empty role set removes the claim rather than storing ``[]``.

    Raises:
        ClaimsTooLarge: the result would exceed ``MAX_CLAIMS_BYTES``.
    """
    merged = {k: v for k, v in (claims or {}).items() if k != ROLES_CLAIM}
    role_list = canonical_roles(roles)
    if role_list:
        merged[ROLES_CLAIM] = role_list
    size = claims_size(merged)
    if size > MAX_CLAIMS_BYTES:
        raise ClaimsTooLarge(
            f"The user's custom claims would be {size} bytes; Firebase allows {MAX_CLAIMS_BYTES}."
        )
    return merged


def claims_size(claims: Mapping[str, Any]) -> int:
    """Size as firebase-admin measures it: characters of ``json.dumps`` (ASCII-escaped)."""
    return len(json.dumps(claims))


def claims_problems(claims: Mapping[str, Any]) -> list[str]:
    """Why Firebase would refuse ``claims`` as a user's custom claims (empty: it would not).

    The rules of ``set_custom_user_claims`` and of a blocking function's answer: no
    reserved name (``RESERVED_CLAIMS``), at most ``MAX_CLAIMS_BYTES`` serialised.
    """
    problems = []
    reserved = sorted(RESERVED_CLAIMS.intersection(claims))
    if reserved:
        problems.append(f"reserved claim names may not be set: {', '.join(reserved)}")
    size = claims_size(claims)
    if size > MAX_CLAIMS_BYTES:
        problems.append(f"the claims are {size} characters; Firebase allows {MAX_CLAIMS_BYTES}")
    return problems
