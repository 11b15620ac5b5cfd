"""Target 1: token verification on the production path, µs per token, in-process.

Every implementation verifies the same real RS256 token against the same key, served
by a local stand-in for Google's x509 endpoint (``Cache-Control: max-age=21600``, as
Google sends). Batches of calls are interleaved across implementations and repeated;
each one's fastest batch is reported (as ``timeit`` advises: slower batches measure the
machine's other load, not the code).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import firebase_admin
import jwt as pyjwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from firebase_admin import _token_gen
from firebase_admin import auth as fb_auth
from google.auth import jwt as google_jwt
from google.auth.credentials import AnonymousCredentials

from auth import keys, tokens
from bench import env
from core.key_fetch import http_fetch
from tests.unit import tokenforge


@dataclass
class Row:
    name: str
    what: str
    us_per_token: float

    @property
    def tokens_per_second(self) -> float:
        return 1e6 / self.us_per_token


def measure(cert_url: str, *, batch: int, rounds: int) -> list[Row]:
    _token_gen.ID_TOKEN_CERT_URI = keys.ID_TOKEN_CERT_URI = cert_url
    app = firebase_admin.initialize_app(
        AnonymousCredentials(),  # type: ignore[no-untyped-call]
        options={"projectId": env.PROJECT_ID, "httpTimeout": 10},
        name=f"bench-{uuid.uuid4().hex}",
    )
    try:
        return _measure(app, batch=batch, rounds=rounds)
    finally:
        firebase_admin.delete_app(app)


def _measure(app: firebase_admin.App, *, batch: int, rounds: int) -> list[Row]:
    key = tokenforge.signing_key()
    token = env.token("bench-user")
    header_b64, payload_b64, signature_b64 = token.split(".")
    signed = f"{header_b64}.{payload_b64}".encode()
    signature = tokenforge.b64url_decode(signature_b64)
    certificate_pem = key.certificate_pem
    public_key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    assert isinstance(public_key, RSAPublicKey)
    certs = {key.kid: certificate_pem}
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    fast_keys, seen = keys.for_app(app, fetch=http_fetch), tokens.VerifiedTokens()

    def firebase_admin_default() -> object:
        return fb_auth.verify_id_token(token, app=app)

    def google_auth_certs_in_memory() -> object:
        return google_jwt.decode(  # type: ignore[no-untyped-call]
            token, certs=certs, audience=env.PROJECT_ID
        )

    def pyjwt_with_key_object() -> object:
        return pyjwt.decode(
            token, public_key, algorithms=["RS256"], audience=env.PROJECT_ID, issuer=env.ISSUER
        )

    def project_fast_path() -> object:
        return tokens.verify_id_token(token, app=app, clock_skew_seconds=5, keys=fast_keys)

    def project_token_seen_before() -> object:
        return tokens.verify_id_token(
            token, app=app, clock_skew_seconds=5, keys=fast_keys, verified=seen
        )

    def raw_rsa_floor() -> object:
        public_key.verify(signature, signed, pkcs1, sha256)
        return None

    implementations: list[tuple[str, str, Callable[[], object]]] = [
        (
            "firebase_admin.auth.verify_id_token (default)",
            "naive: HTTP-cache round trip + X.509 parse per call",
            firebase_admin_default,
        ),
        (
            "google.auth.jwt.decode, certificates in memory",
            "firebase-admin's checks with the PEM map held in memory (still parsed per call)",
            google_auth_certs_in_memory,
        ),
        (
            "PyJWT jwt.decode, key object",
            "considered for the fast path; its strict base64 checks cost ~70 µs",
            pyjwt_with_key_object,
        ),
        (
            "auth.tokens.verify_id_token (project)",
            "full verification: parsed keys by kid, firebase-admin's checks, RS256, times",
            project_fast_path,
        ),
        (
            "auth.tokens.verify_id_token, token seen before",
            "the same token again: signature remembered, times and key checked again",
            project_token_seen_before,
        ),
        ("raw RS256 signature check", "cryptography, key object: the floor", raw_rsa_floor),
    ]
    for _, _, call in implementations:  # warm caches and fetch keys once, outside the timing
        for _ in range(50):
            call()
    samples: dict[str, list[float]] = {name: [] for name, _, _ in implementations}
    for _ in range(rounds):
        for name, _, call in implementations:
            started = time.perf_counter()
            for _ in range(batch):
                call()
            samples[name].append((time.perf_counter() - started) / batch * 1e6)
    # The least disturbed batch of each: what the code costs, not what the neighbours do.
    return [Row(name, what, min(samples[name])) for name, what, _ in implementations]
