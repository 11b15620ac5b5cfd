"""Real RS256 Firebase App Check tokens, signed with the test keys of ``tokenforge``, and
the JWKS that publishes those keys (served by ``tokenforge.CertServer`` in place of
``https://firebaseappcheck.googleapis.com/v1/jwks``).

Forging helpers build what an attacker would send: another key under the trusted
``kid``, ``alg: none``, HS256 keyed with the public key, an edited payload.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from typing import Any, Final

from tests.unit import tokenforge
from tests.unit.tokenforge import REMOVE, Claims, SigningKey

__all__ = ["REMOVE", "mint"]

PROJECT_ID: Final = tokenforge.PROJECT_ID
PROJECT_NUMBER: Final = "123456789012"
ISSUER: Final = f"https://firebaseappcheck.googleapis.com/{PROJECT_NUMBER}"
AUDIENCE: Final = [f"projects/{PROJECT_NUMBER}", f"projects/{PROJECT_ID}"]
APP_ID: Final = f"1:{PROJECT_NUMBER}:web:0123456789abcdef"
#: App Check tokens live 30 minutes to 7 days; the Firebase default is one hour.
TOKEN_LIFETIME_SECONDS: Final = 3600


def jwks(*keys: SigningKey) -> dict[str, Any]:
    """The JWKS document that publishes ``keys`` (default: the trusted session key)."""
    return {"keys": [tokenforge.public_jwk(key) for key in keys or (tokenforge.signing_key(),)]}


def default_claims(*, now: float | None = None) -> Claims:
    """What App Check issues to the web app at ``now`` (a fresh ``jti`` each time)."""
    issued = int(time.time() if now is None else now)
    return {
        "sub": APP_ID,
        "aud": list(AUDIENCE),
        "provider": "recaptcha_enterprise",
        "iss": ISSUER,
        "iat": issued,
        "exp": issued + TOKEN_LIFETIME_SECONDS,
        "jti": uuid.uuid4().hex,
    }


def header_for(header_overrides: Mapping[str, Any] | None = None, *, kid: str) -> Claims:
    return tokenforge._apply({"kid": kid, "typ": "JWT", "alg": "RS256"}, header_overrides)


def mint(
    claims_overrides: Mapping[str, Any] | None = None,
    header_overrides: Mapping[str, Any] | None = None,
    *,
    key: SigningKey | None = None,
    kid: str | None = None,
    now: float | None = None,
) -> str:
    """An RS256 App Check token for ``PROJECT_NUMBER``/``PROJECT_ID``.

    Args:
        claims_overrides: claims to set (or delete with ``REMOVE``) after the defaults.
        header_overrides: header fields to set or delete (the signature stays RS256).
        key: the signing key (default: the trusted session key).
        kid: the header's ``kid`` (default: ``key.kid``).
        now: the issue time (default: the real clock).
    """
    key = key or tokenforge.signing_key()
    header = header_for(header_overrides, kid=key.kid if kid is None else kid)
    claims = tokenforge._apply(default_claims(now=now), claims_overrides)
    signing_input = tokenforge.signing_input(header, claims)
    return tokenforge.assemble(header, claims, key.sign(signing_input))


def unsigned(*, alg: str = "none") -> str:
    """An ``alg: none`` token (empty signature) under the trusted ``kid``."""
    header = header_for({"alg": alg}, kid=tokenforge.DEFAULT_KID)
    return tokenforge.assemble(header, default_claims(), b"")


def hs256(secret: bytes) -> str:
    """An HS256 token keyed with ``secret`` (algorithm confusion with the public key)."""
    header = header_for({"alg": "HS256"}, kid=tokenforge.DEFAULT_KID)
    claims = default_claims()
    mac = hmac.new(secret, tokenforge.signing_input(header, claims), hashlib.sha256).digest()
    return tokenforge.assemble(header, claims, mac)
