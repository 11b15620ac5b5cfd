"""Identity Platform blocking tokens (``{"data": {"jwt": ...}}``), signed with the test key.

The payload has the shape Identity Platform sends (firebase-admin-node's
``DecodedAuthBlockingToken``; the Auth emulator's ``generateBlockingFunctionJwt``):
``iss``, ``aud`` (the function's URL), ``iat``, ``exp``, ``sub``, ``event_id``,
``event_type``, ``ip_address``, ``user_agent``, ``sign_in_method`` and ``user_record``.
Signed by ``tokenforge``'s trusted key, whose certificate ``tokenforge.CertServer``
serves in place of Google's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

from tests.unit import tokenforge
from tests.unit.tokenforge import REMOVE, SigningKey

PROJECT_ID: Final = tokenforge.PROJECT_ID
ISSUER: Final = tokenforge.ISSUER
FUNCTION_URL: Final = f"https://europe-west1-{PROJECT_ID}.cloudfunctions.net/identity"
UID: Final = "new-user-uid"
EMAIL: Final = "newcomer@example.com"
#: Identity Platform's blocking tokens are short-lived (the emulator: 10 minutes).
LIFETIME_SECONDS: Final = 600

__all__ = ["REMOVE", "claims", "mint", "unsigned"]


def claims(
    overrides: Mapping[str, Any] | None = None,
    *,
    event_type: str = "beforeCreate",
    email: str | None = EMAIL,
    record: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """A blocking token's payload; ``overrides`` set (or ``REMOVE``) top-level claims,
    ``record`` fields of ``user_record``."""
    issued = int(time.time() if now is None else now)
    user_record: dict[str, Any] = {
        "uid": UID,
        "email_verified": False,
        "disabled": False,
        "custom_claims": {},
        "provider_data": [],
        "metadata": {"creation_time": issued * 1000},
    }
    if email is not None:
        user_record["email"] = email
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": FUNCTION_URL,
        "iat": issued,
        "exp": issued + LIFETIME_SECONDS,
        "sub": UID,
        "event_id": "ev-1",
        "event_type": event_type,
        "ip_address": "203.0.113.7",
        "user_agent": "unit-test",
        "locale": "en",
        "sign_in_method": "password",
        "user_record": _apply(user_record, record),
    }
    return _apply(payload, overrides)


def mint(
    overrides: Mapping[str, Any] | None = None,
    header: Mapping[str, Any] | None = None,
    *,
    key: SigningKey | None = None,
    **claim_options: Any,
) -> str:
    """A blocking token signed RS256 by ``key`` (default: the trusted test key)."""
    key = key or tokenforge.signing_key()
    head = tokenforge.header_for(header, kid=key.kid)
    payload = claims(overrides, **claim_options)
    return tokenforge.assemble(head, payload, key.sign(tokenforge.signing_input(head, payload)))


def unsigned(overrides: Mapping[str, Any] | None = None, **claim_options: Any) -> str:
    """An ``alg: none`` token with an empty signature, as the Auth emulator sends."""
    head = {"alg": "none", "typ": "JWT"}
    return tokenforge.assemble(head, claims(overrides, **claim_options), b"")


def _apply(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(base)
    for name, value in (overrides or {}).items():
        if value is REMOVE:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged
