"""ID-token verification on the production path, with real RS256 tokens and no emulator.

firebase-admin fetches the signing certificates from ``tests.unit.tokenforge.CertServer``
instead of Google, and checks signature, ``kid``, ``alg``, ``aud``, ``iss``, ``sub``,
``exp`` and ``iat`` against the real clock; ``auth.tokens`` repeats the time checks with
its injected clock, which these tests freeze. ``auth.identity.Authenticator`` is then
tested end to end on top, with an in-memory user directory.

``auth.tokens.verify_id_token`` verifies on its own fast path (keys held in memory by
``auth.keys``); ``auth.tokens.verify_id_token_with_sdk`` is firebase-admin's own
``verify_id_token`` behind the same translation. The token tables run against both
(a differential test): both must accept, or both reject with the same error.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import firebase_admin
import pytest
from cryptography.hazmat.primitives import serialization

from auth import tokens
from auth.directory import UserDirectory, UserRecord
from auth.identity import Authenticator
from auth.principal import Principal, Role, roles_from_claims
from auth.revocation import RevocationChecker
from core.errors import (
    ApiError,
    AuthenticationFailed,
    AuthUnavailable,
    InvalidToken,
    MissingToken,
    TokenExpired,
    TokenRevoked,
    UserDisabled,
    UserNotFound,
)
from core.settings import Settings
from tests.unit import tokenforge as forge
from tests.unit.conftest import AppFactory, key_store, verified_cache
from tests.unit.tokenforge import REMOVE, CertServer

SETTINGS = Settings(project_id=forge.PROJECT_ID)
SKEW = SETTINGS.clock_skew_seconds
UID = forge.DEFAULT_UID
SERVICE_ACCOUNT = f"firebase-adminsdk-abcde@{forge.PROJECT_ID}.iam.gserviceaccount.com"


def verify(token: str, app: firebase_admin.App, *, now: float, skew: int = SKEW) -> dict[str, Any]:
    """``auth.tokens.verify_id_token`` with our clock frozen at ``now``, with the app's
    key store and verified-token cache (as its ``Authenticator`` keeps them)."""
    return tokens.verify_id_token(
        token,
        app=app,
        clock_skew_seconds=skew,
        keys=key_store(app),
        verified=verified_cache(app),
        clock=lambda: now,
    )


Verify = Callable[..., dict[str, Any]]
#: The two implementations the token tables run against, with ``verify``'s signature.
PATHS: dict[str, Verify] = {
    "fast_path": verify,
    "firebase_admin": lambda token, app, *, now, skew=SKEW: tokens.verify_id_token_with_sdk(
        token, app=app, clock_skew_seconds=skew, clock=lambda: now
    ),
}


@pytest.fixture(params=PATHS.keys())
def verifier(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Verify:
    """Each implementation in turn, ``verify``'s signature; the fast path is made unable
    to fall back on firebase-admin, so that a pass is the fast path's own."""
    if request.param == "fast_path":

        def no_sdk(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the fast path called firebase_admin.auth.verify_id_token")

        monkeypatch.setattr(tokens.fb_auth, "verify_id_token", no_sdk)
    return PATHS[request.param]


def assert_not_logged(token: str, caplog: pytest.LogCaptureFixture) -> None:
    """Neither the token nor a recognisable piece of it reached any logger."""
    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    fragments = [token]
    for segment in token.split("."):
        if len(segment) >= 16:
            fragments += [segment[:16], segment[-16:]]
    for fragment in fragments:
        assert fragment not in logged, f"a piece of the token was logged: {fragment!r}"


def public_key_pem() -> bytes:
    return (
        forge.signing_key()
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


# --- the token table ---------------------------------------------------------


def test_valid_token_is_accepted_and_returns_claims(production_app: firebase_admin.App) -> None:
    now = time.time()
    claims = verify(forge.mint(now=now), production_app, now=now)
    assert claims["uid"] == UID
    assert claims["sub"] == UID
    assert claims["aud"] == forge.PROJECT_ID
    assert claims["email"] == forge.DEFAULT_EMAIL
    assert claims["firebase"]["sign_in_provider"] == "password"


TokenBuilder = Callable[[float], str]


@dataclass(frozen=True)
class Rejected:
    build: TokenBuilder
    error: type[ApiError]


REJECTED: dict[str, Rejected] = {
    # signature and algorithm
    "forged_other_key_same_kid": Rejected(
        lambda now: forge.mint(now=now, key=forge.attacker_key()), InvalidToken
    ),
    "alg_none": Rejected(lambda now: forge.unsigned(alg="none", now=now), InvalidToken),
    "alg_None": Rejected(lambda now: forge.unsigned(alg="None", now=now), InvalidToken),
    "alg_NONE": Rejected(lambda now: forge.unsigned(alg="NONE", now=now), InvalidToken),
    "hs256_keyed_with_certificate_pem": Rejected(
        lambda now: forge.hs256(forge.signing_key().certificate_pem.encode()), InvalidToken
    ),
    "hs256_keyed_with_public_key_pem": Rejected(
        lambda now: forge.hs256(public_key_pem()), InvalidToken
    ),
    "tampered_payload_adds_admin": Rejected(
        lambda now: forge.with_payload(forge.mint(now=now), {"roles": ["admin"]}), InvalidToken
    ),
    "tampered_payload_changes_sub": Rejected(
        lambda now: forge.with_payload(
            forge.mint(now=now), {"sub": "mallory", "user_id": "mallory"}
        ),
        InvalidToken,
    ),
    "truncated_signature": Rejected(
        lambda now: forge.with_truncated_signature(forge.mint(now=now), keep=200), InvalidToken
    ),
    "stripped_signature": Rejected(
        lambda now: forge.with_truncated_signature(forge.mint(now=now), keep=0), InvalidToken
    ),
    "null_signature_all_zero_bytes": Rejected(
        lambda now: forge.with_signature(forge.mint(now=now), bytes(256)), InvalidToken
    ),
    "signature_of_another_token": Rejected(
        lambda now: forge.with_signature(
            forge.mint({"roles": ["admin"]}, now=now),
            forge.b64url_decode(forge.mint(now=now).split(".")[2]),
        ),
        InvalidToken,
    ),
    "alg_missing": Rejected(
        lambda now: forge.mint(header_overrides={"alg": REMOVE}, now=now), InvalidToken
    ),
    "alg_rs256_lowercase": Rejected(
        lambda now: forge.mint(header_overrides={"alg": "rs256"}, now=now), InvalidToken
    ),
    "alg_RS512_label": Rejected(
        lambda now: forge.mint(header_overrides={"alg": "RS512"}, now=now), InvalidToken
    ),
    "alg_ES256_label": Rejected(
        lambda now: forge.mint(header_overrides={"alg": "ES256"}, now=now), InvalidToken
    ),
    "alg_none_without_kid": Rejected(
        lambda now: forge.assemble({"alg": "none", "typ": "JWT"}, forge.claims_for(now=now), b""),
        InvalidToken,
    ),
    "tampered_payload_extends_exp": Rejected(
        lambda now: forge.with_payload(forge.mint(now=now), {"exp": int(now) + 86400}),
        InvalidToken,
    ),
    "tampered_payload_verifies_email": Rejected(
        lambda now: forge.with_payload(
            forge.mint({"email_verified": False}, now=now), {"email_verified": True}
        ),
        InvalidToken,
    ),
    # key id
    "unknown_kid": Rejected(lambda now: forge.mint(now=now, kid="rotated-away"), InvalidToken),
    "missing_kid": Rejected(
        lambda now: forge.mint(header_overrides={"kid": REMOVE}, now=now), InvalidToken
    ),
    "empty_kid": Rejected(lambda now: forge.mint(now=now, kid=""), InvalidToken),
    "kid_not_a_string": Rejected(
        lambda now: forge.mint(header_overrides={"kid": [forge.DEFAULT_KID]}, now=now),
        InvalidToken,
    ),
    "kid_path_traversal": Rejected(
        lambda now: forge.mint(now=now, kid="../../../../dev/null"), InvalidToken
    ),
    "kid_of_the_attacker_key": Rejected(
        lambda now: forge.mint(now=now, key=forge.attacker_key(), kid="attacker-key"),
        InvalidToken,
    ),
    # header injection: keys named or embedded by the token are never used nor fetched
    "jku_points_to_attacker_keys": Rejected(
        lambda now: forge.mint(
            header_overrides={"jku": forge.attacker_server().url},
            now=now,
            key=forge.attacker_key(),
        ),
        InvalidToken,
    ),
    "x5u_points_to_attacker_certificate": Rejected(
        lambda now: forge.mint(
            header_overrides={"x5u": forge.attacker_server().url},
            now=now,
            key=forge.attacker_key(),
        ),
        InvalidToken,
    ),
    "jwk_embeds_attacker_key": Rejected(
        lambda now: forge.mint(
            header_overrides={"jwk": forge.public_jwk(forge.attacker_key())},
            now=now,
            key=forge.attacker_key(),
        ),
        InvalidToken,
    ),
    "x5c_embeds_attacker_certificate": Rejected(
        lambda now: forge.mint(
            header_overrides={"x5c": [forge.certificate_der_b64(forge.attacker_key())]},
            now=now,
            key=forge.attacker_key(),
        ),
        InvalidToken,
    ),
    "jku_with_unknown_kid": Rejected(
        lambda now: forge.mint(
            header_overrides={"jku": forge.attacker_server().url},
            now=now,
            key=forge.attacker_key(),
            kid="attacker-key",
        ),
        InvalidToken,
    ),
    # project
    "wrong_aud_other_project": Rejected(
        lambda now: forge.mint({"aud": "demo-other"}, now=now), InvalidToken
    ),
    "wrong_iss_other_project": Rejected(
        lambda now: forge.mint({"iss": "https://securetoken.google.com/demo-other"}, now=now),
        InvalidToken,
    ),
    "wrong_iss_google_sign_in": Rejected(
        lambda now: forge.mint({"iss": "https://accounts.google.com"}, now=now), InvalidToken
    ),
    "custom_token_is_not_an_id_token": Rejected(
        lambda now: forge.mint(
            {
                "aud": forge.CUSTOM_TOKEN_AUDIENCE,
                "iss": SERVICE_ACCOUNT,
                "sub": SERVICE_ACCOUNT,
                "uid": UID,
                "user_id": REMOVE,
                "auth_time": REMOVE,
                "firebase": REMOVE,
            },
            now=now,
        ),
        InvalidToken,
    ),
    "session_cookie_is_not_an_id_token": Rejected(
        lambda now: forge.mint({"iss": forge.SESSION_COOKIE_ISSUER}, now=now), InvalidToken
    ),
    "legacy_custom_token": Rejected(lambda now: forge.legacy_custom_token(), InvalidToken),
    "aud_as_a_list": Rejected(
        lambda now: forge.mint({"aud": [forge.PROJECT_ID]}, now=now), InvalidToken
    ),
    "aud_missing": Rejected(lambda now: forge.mint({"aud": REMOVE}, now=now), InvalidToken),
    "iss_missing": Rejected(lambda now: forge.mint({"iss": REMOVE}, now=now), InvalidToken),
    "iss_with_trailing_slash": Rejected(
        lambda now: forge.mint({"iss": forge.ISSUER + "/"}, now=now), InvalidToken
    ),
    # subject
    "empty_sub": Rejected(lambda now: forge.mint({"sub": ""}, now=now), InvalidToken),
    "sub_129_chars": Rejected(lambda now: forge.mint({"sub": "u" * 129}, now=now), InvalidToken),
    "sub_not_a_string": Rejected(lambda now: forge.mint({"sub": 12345}, now=now), InvalidToken),
    "sub_missing": Rejected(lambda now: forge.mint({"sub": REMOVE}, now=now), InvalidToken),
    "sub_null": Rejected(lambda now: forge.mint({"sub": None}, now=now), InvalidToken),
    "sub_a_list": Rejected(lambda now: forge.mint({"sub": [UID]}, now=now), InvalidToken),
    # time, as firebase-admin checks it against the real clock
    "expired_an_hour_ago": Rejected(lambda now: forge.mint(now=now - 7200), TokenExpired),
    "expired_just_beyond_skew": Rejected(
        lambda now: forge.mint({"exp": int(now) - SKEW - 2}, now=now), TokenExpired
    ),
    "iat_in_the_future": Rejected(
        lambda now: forge.mint({"iat": int(now) + 600}, now=now), InvalidToken
    ),
    "exp_missing": Rejected(lambda now: forge.mint({"exp": REMOVE}, now=now), InvalidToken),
    "iat_missing": Rejected(lambda now: forge.mint({"iat": REMOVE}, now=now), InvalidToken),
    "iat_just_beyond_skew": Rejected(
        lambda now: forge.mint({"iat": int(now) + SKEW + 2}, now=now), InvalidToken
    ),
    # time, as only auth.tokens checks it
    "auth_time_in_the_future": Rejected(
        lambda now: forge.mint({"auth_time": int(now) + SKEW + 60}, now=now), InvalidToken
    ),
    "auth_time_missing": Rejected(
        lambda now: forge.mint({"auth_time": REMOVE}, now=now), InvalidToken
    ),
}


@pytest.mark.parametrize("case", REJECTED.values(), ids=REJECTED.keys())
def test_rejected_token(
    case: Rejected,
    verifier: Verify,
    production_app: firebase_admin.App,
    cert_server: CertServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    attacker_requests = forge.attacker_server().request_count
    now = time.time()
    token = case.build(now)
    with pytest.raises(ApiError) as raised:
        verifier(token, production_app, now=now)
    assert type(raised.value) is case.error
    assert raised.value.status == 401
    assert_not_logged(token, caplog)
    # No outbound request beyond the one normal fetch of the trusted keys: neither an
    # unknown kid nor a jku/x5u header makes the verifier fetch anything else.
    assert cert_server.request_count <= 1
    assert forge.attacker_server().request_count == attacker_requests == 0


@dataclass(frozen=True)
class Accepted:
    build: TokenBuilder


ACCEPTED: dict[str, Accepted] = {
    "plain": Accepted(lambda now: forge.mint(now=now)),
    "sub_128_chars": Accepted(lambda now: forge.mint({"sub": "u" * 128}, now=now)),
    "expired_within_skew": Accepted(
        lambda now: forge.mint({"exp": int(now) - SKEW + 1}, now=now - 3600)
    ),
    "issued_within_skew_in_the_future": Accepted(
        lambda now: forge.mint({"iat": int(now) + SKEW - 1, "auth_time": int(now)}, now=now)
    ),
    "no_typ_header": Accepted(lambda now: forge.mint(header_overrides={"typ": REMOVE}, now=now)),
    "unknown_header_and_claims": Accepted(
        lambda now: forge.mint({"custom": {"a": [1, 2]}}, header_overrides={"x": 1}, now=now)
    ),
    "unicode_claims": Accepted(
        lambda now: forge.mint({"name": "Zoë ✓", "email": "zoë@exämple.com"}, now=now)
    ),
    "roles_claim": Accepted(lambda now: forge.mint({"roles": ["admin"]}, now=now)),
    "float_times": Accepted(
        lambda now: forge.mint({"iat": now - 1.5, "exp": now + 100.5, "auth_time": now - 2.5})
    ),
}


@pytest.mark.parametrize("case", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_token_gives_the_same_claims_on_both_paths(
    case: Accepted, production_app: firebase_admin.App, cert_server: CertServer
) -> None:
    now = time.time()
    token = case.build(now)
    reference = tokens.verify_id_token_with_sdk(token, app=production_app, clock_skew_seconds=SKEW)
    claims = verify(token, production_app, now=now)
    assert claims == reference
    assert claims["uid"] == claims["sub"]
    assert cert_server.request_count == 2  # one fetch each: firebase-admin's, and ours


def test_fast_path_fetches_once_and_never_delegates(
    verifier: Verify, production_app: firebase_admin.App, cert_server: CertServer
) -> None:
    now = time.time()
    for n in range(50):
        assert verifier(forge.mint(uid=f"user-{n}", now=now), production_app, now=now)
    assert cert_server.request_count == 1


def test_emulator_mode_delegates_to_firebase_admin(
    production_app: firebase_admin.App, cert_server: CertServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the Auth emulator, tokens are unsigned and only firebase-admin accepts them;
    the fast path steps aside and fetches no keys."""
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")
    now = time.time()
    claims = verify(forge.unsigned(now=now), production_app, now=now)
    assert claims["uid"] == UID
    assert cert_server.request_count == 0
    with pytest.raises(TokenExpired):  # the time checks still apply
        verify(forge.unsigned(now=now - 7200), production_app, now=now)


def test_rejections_are_logged_without_the_token(
    production_app: firebase_admin.App, caplog: pytest.LogCaptureFixture
) -> None:
    """The no-token-in-logs assertions above are only meaningful if rejections log."""
    caplog.set_level(logging.DEBUG)
    now = time.time()
    token = forge.mint({"aud": "demo-other"}, now=now)
    with pytest.raises(InvalidToken):
        verify(token, production_app, now=now)
    assert "rejected ID token" in caplog.text
    assert 'incorrect "aud"' in caplog.text  # the reason, not the token
    assert_not_logged(token, caplog)


MALFORMED: dict[str, str] = {
    "google_oauth_access_token": "ya29.a0AfH6SMBx3secretAccessTokenValue0123456789abcdef",
    "firebase_refresh_token": "AMf-vBx0secretRefreshTokenValue0123456789abcdefghijklmnop",
    "four_segments": forge.mint() + ".extra",
    "not_base64": "eyJ!!!.eyJ!!!.sig",
    "two_segments": ".".join(forge.mint().split(".")[:2]),
    "empty_segments": "..",
    "header_is_a_list": forge.b64url(b"[]") + "." + forge.mint().split(".", 1)[1],
    "payload_is_a_string": forge.mint().split(".")[0] + "." + forge.b64url(b'"x"') + ".sig",
    "payload_not_json": forge.mint().split(".")[0] + "." + forge.b64url(b"{x") + ".sig",
}


@pytest.mark.parametrize("token", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_token_is_rejected(
    token: str, verifier: Verify, production_app: firebase_admin.App
) -> None:
    with pytest.raises(InvalidToken):
        verifier(token, production_app, now=time.time())


@pytest.mark.parametrize(
    "token",
    [MALFORMED[name] for name in ("google_oauth_access_token", "firebase_refresh_token")],
    ids=["google_oauth_access_token", "firebase_refresh_token"],
)
def test_malformed_token_text_is_not_logged(
    token: str, production_app: firebase_admin.App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidToken):
        verify(token, production_app, now=time.time())
    assert_not_logged(token, caplog)


# --- one token, one spelling ---------------------------------------------------
# The cache of verified tokens is keyed on the token's text, and google-auth's decoder
# drops characters outside the alphabet: a valid token had unlimited spellings, each
# accepted and each taking a cache slot (audit finding). Only canonical unpadded
# base64url is accepted now; firebase-admin still accepts these (the reference below).

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _segments(token: str) -> list[str]:
    return token.split(".")


def _respelled(token: str, index: int, change: Callable[[str], str]) -> str:
    segments = _segments(token)
    segments[index] = change(segments[index])
    return ".".join(segments)


def _padded(segment: str) -> str:
    return segment + ("=" * (-len(segment) % 4) or "====")


def _with_trailing_bits(segment: str) -> str:
    """The last character with its unused low bits set (2 or 4 of them)."""
    unused = {2: 4, 3: 2}[len(segment) % 4]
    last = _ALPHABET.index(segment[-1]) | ((1 << unused) - 1)
    return segment[:-1] + _ALPHABET[last]


def _standard_alphabet(segment: str) -> str:
    return segment.replace("-", "+").replace("_", "/")


def _token_with_url_safe_characters(now: float) -> str:
    """A valid token whose signature uses ``-`` or ``_`` (nearly all do)."""
    for n in range(100):
        token = forge.mint(now=now, uid=f"{UID}-{n}" if n else UID)
        if {"-", "_"} & set(_segments(token)[2]):
            return token
    raise AssertionError("expected a signature with - or _ among 100 tokens")


#: Other spellings of the signature segment, which decode to the same signature (the
#: header and payload segments are signed as they are spelled).
RESPELLINGS: dict[str, Callable[[str], str]] = {
    "padded": lambda t: _respelled(t, 2, _padded),
    "padding_inside": lambda t: _respelled(t, 2, lambda s: s[:8] + "====" + s[8:]),
    "outside_alphabet": lambda t: _respelled(t, 2, lambda s: s[:10] + "!!!!" + s[10:]),
    "outside_alphabet_at_the_ends": lambda t: _respelled(t, 2, lambda s: "*~" + s + "$%"),
    "whitespace": lambda t: _respelled(t, 2, lambda s: s[:40] + " \t\n " + s[40:]),
    "trailing_bits": lambda t: _respelled(t, 2, _with_trailing_bits),
    "standard_alphabet": lambda t: _respelled(t, 2, _standard_alphabet),
}


@pytest.mark.parametrize("respell", RESPELLINGS.values(), ids=RESPELLINGS.keys())
def test_a_non_canonical_spelling_of_a_valid_token_is_refused(
    respell: Callable[[str], str], production_app: firebase_admin.App
) -> None:
    now = time.time()
    token = _token_with_url_safe_characters(now)
    other = respell(token)
    assert other != token
    # firebase-admin reads it as the same token: this is a second spelling of it ...
    assert tokens.verify_id_token_with_sdk(other, app=production_app, clock_skew_seconds=SKEW)
    # ... which the fast path refuses, before and after the canonical one is cached.
    with pytest.raises(InvalidToken):
        verify(other, production_app, now=now)
    assert verify(token, production_app, now=now)["sub"] == _segments_sub(token)
    with pytest.raises(InvalidToken):
        verify(other, production_app, now=now)


def _segments_sub(token: str) -> str:
    sub: str = forge.claims_of(token)["sub"]
    return sub


def test_spellings_do_not_take_cache_slots(production_app: firebase_admin.App) -> None:
    now = time.time()
    token = _token_with_url_safe_characters(now)
    verify(token, production_app, now=now)
    for respell in RESPELLINGS.values():
        with pytest.raises(InvalidToken):
            verify(respell(token), production_app, now=now)
    for n in range(50):  # the same trick, many times over
        spelled = _respelled(token, 2, lambda s, n=n: s[:n] + "!!!!" + s[n:])
        with pytest.raises(InvalidToken):
            verify(spelled, production_app, now=now)
    assert len(verified_cache(production_app)) == 1


#: In emulator mode tokens are unsigned, so any segment can be respelled.
UNSIGNED_RESPELLINGS: dict[str, Callable[[str], str]] = {
    "padded_header": lambda t: _respelled(t, 0, _padded),
    "padded_payload": lambda t: _respelled(t, 1, _padded),
    "outside_alphabet_in_payload": lambda t: _respelled(t, 1, lambda s: s[:8] + "!!!!" + s[8:]),
    "padding_inside_header": lambda t: _respelled(t, 0, lambda s: s[:8] + "====" + s[8:]),
}


@pytest.mark.parametrize("respell", UNSIGNED_RESPELLINGS.values(), ids=UNSIGNED_RESPELLINGS.keys())
def test_non_canonical_spellings_are_refused_in_emulator_mode_too(
    respell: Callable[[str], str],
    production_app: firebase_admin.App,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")
    now = time.time()
    token = forge.unsigned(now=now)
    other = respell(token)
    assert tokens.verify_id_token_with_sdk(other, app=production_app, clock_skew_seconds=SKEW)
    assert verify(token, production_app, now=now)["uid"] == UID
    with pytest.raises(InvalidToken):
        verify(other, production_app, now=now)


# --- clock skew, with our clock frozen ---------------------------------------


@pytest.mark.parametrize(
    ("seconds_after_exp", "error"),
    [(-1, None), (0, None), (SKEW, None), (SKEW + 1, TokenExpired), (3600, TokenExpired)],
    ids=[
        "before_exp_accepted",
        "at_exp_accepted",
        "expired_within_skew_accepted",
        "expired_just_beyond_skew_rejected",
        "expired_long_ago_rejected",
    ],
)
def test_expiry_against_our_clock(
    seconds_after_exp: int, error: type[ApiError] | None, production_app: firebase_admin.App
) -> None:
    token = forge.mint()  # valid by the real clock, so firebase-admin accepts it
    now = forge.claims_of(token)["exp"] + seconds_after_exp
    if error is None:
        assert verify(token, production_app, now=now)["uid"] == UID
    else:
        with pytest.raises(error):
            verify(token, production_app, now=now)


@pytest.mark.parametrize(
    ("seconds_before_iat", "error"),
    [(0, None), (SKEW, None), (SKEW + 1, InvalidToken)],
    ids=["issued_now_accepted", "issued_within_skew_accepted", "issued_beyond_skew_rejected"],
)
def test_issued_in_the_future_against_our_clock(
    seconds_before_iat: int, error: type[ApiError] | None, production_app: firebase_admin.App
) -> None:
    token = forge.mint()
    now = forge.claims_of(token)["iat"] - seconds_before_iat
    if error is None:
        assert verify(token, production_app, now=now)["uid"] == UID
    else:
        with pytest.raises(error):
            verify(token, production_app, now=now)


def test_sdk_accepts_just_expired_token_within_skew(production_app: firebase_admin.App) -> None:
    """firebase-admin's own exp check uses the real clock: exp one second ago, skew 5."""
    now = time.time()
    token = forge.mint({"exp": int(now) - 1}, now=now - 60)
    assert verify(token, production_app, now=now)["uid"] == UID
    with pytest.raises(TokenExpired):
        verify(token, production_app, now=now, skew=0)


# --- Google's certificates ---------------------------------------------------


def test_certificates_are_fetched_once_thanks_to_cache_control(
    production_app: firebase_admin.App, cert_server: CertServer
) -> None:
    now = time.time()
    for n in range(20):
        assert verify(forge.mint(uid=f"user-{n}", now=now), production_app, now=now)
    assert cert_server.request_count == 1


def test_certificates_are_fetched_every_time_without_max_age(
    production_app: firebase_admin.App, cert_server: CertServer
) -> None:
    """Control for the test above: the counter counts, and caching follows the header."""
    cert_server.set_max_age(0)
    now = time.time()
    for n in range(5):
        verify(forge.mint(uid=f"user-{n}", now=now), production_app, now=now)
    assert cert_server.request_count == 5


def test_cached_certificates_survive_a_later_outage(
    production_app: firebase_admin.App, cert_server: CertServer
) -> None:
    now = time.time()
    verify(forge.mint(now=now), production_app, now=now)
    cert_server.fail_with(500)
    assert verify(forge.mint(now=now), production_app, now=now)["uid"] == UID
    assert cert_server.request_count == 1


def _assert_unavailable(raised: pytest.ExceptionInfo[ApiError]) -> None:
    assert type(raised.value) is AuthUnavailable
    assert not isinstance(raised.value, AuthenticationFailed)
    assert (raised.value.status, raised.value.code) == (503, "auth_unavailable")
    assert raised.value.headers.get("Retry-After")


@pytest.mark.parametrize("status", [500, 503], ids=["keys_500", "keys_503"])
@pytest.mark.parametrize(
    "key",
    [forge.signing_key, forge.attacker_key],
    ids=["valid_token", "forged_token"],
)
def test_key_server_error_is_unavailable_not_invalid(
    status: int,
    key: Callable[[], forge.SigningKey],
    production_app: firebase_admin.App,
    cert_server: CertServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cert_server.fail_with(status)
    now = time.time()
    token = forge.mint(now=now, key=key())
    with pytest.raises(ApiError) as raised:
        verify(token, production_app, now=now)
    _assert_unavailable(raised)
    assert cert_server.request_count >= 1
    assert_not_logged(token, caplog)


def test_key_server_answering_html_is_unavailable_not_invalid(
    production_app: firebase_admin.App, cert_server: CertServer
) -> None:
    cert_server.serve_html()
    now = time.time()
    with pytest.raises(ApiError) as raised:
        verify(forge.mint(now=now), production_app, now=now)
    _assert_unavailable(raised)


def test_key_server_down_is_unavailable_not_invalid(
    make_production_app: AppFactory, unreachable_cert_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_production_app(unreachable_cert_url)
    now = time.time()
    token = forge.mint(now=now)
    with pytest.raises(ApiError) as raised:
        verify(token, app, now=now)
    _assert_unavailable(raised)
    assert_not_logged(token, caplog)


# --- Authenticator, end to end on the production path ------------------------


class FakeDirectory(UserDirectory):
    """In-memory user records; counts lookups. Only ``get`` is used by revocation checks."""

    def __init__(self, *records: UserRecord) -> None:  # no firebase-admin app needed
        self.records = {record.uid: record for record in records}
        self.calls = 0
        self.error: ApiError | None = None

    def get(self, uid: str) -> UserRecord:
        self.calls += 1
        if self.error is not None:
            raise self.error
        try:
            return self.records[uid]
        except KeyError:
            raise UserNotFound() from None

    def update(self, uid: str, **changes: Any) -> None:
        self.records[uid] = dataclasses.replace(self.records[uid], **changes)


def user(*, roles: list[str] | None = None, **fields: Any) -> UserRecord:
    base: dict[str, Any] = {
        "uid": UID,
        "email": forge.DEFAULT_EMAIL,
        "disabled": False,
        "valid_since": None,
        "custom_claims": {"roles": roles} if roles is not None else {},
    }
    return UserRecord(**{**base, **fields})


@dataclass
class Harness:
    authenticator: Authenticator
    directory: FakeDirectory
    now: float

    def bearer(self, claims_overrides: dict[str, Any] | None = None) -> str:
        return "Bearer " + forge.mint(claims_overrides, now=self.now)

    def authenticate(self, header: str | None, *, privileged: bool = False) -> Principal:
        return self.authenticator.authenticate(header, privileged=privileged)


HarnessFactory = Callable[..., Harness]


@pytest.fixture
def harness(production_app: firebase_admin.App) -> HarnessFactory:
    def build(*records: UserRecord, max_age_seconds: int | None = None) -> Harness:
        settings = SETTINGS
        if max_age_seconds is not None:
            settings = dataclasses.replace(
                SETTINGS, revocation_check_max_age_seconds=max_age_seconds
            )
        directory = FakeDirectory(*records)
        revocation = RevocationChecker(
            directory,
            max_age_seconds=settings.revocation_check_max_age_seconds,
            max_entries=settings.revocation_cache_size,
        )
        now = time.time()
        authenticator = Authenticator(
            settings,
            production_app,
            directory,
            revocation,
            clock=lambda: now,
            keys=key_store(production_app),
            verified_tokens=verified_cache(production_app),
        )
        return Harness(authenticator, directory, now)

    return build


def test_valid_token_becomes_a_principal(harness: HarnessFactory) -> None:
    h = harness(user(roles=["admin", "auditor"]))
    iat = int(h.now)
    header = h.bearer(
        {
            "roles": ["admin", "auditor", "owner"],
            "firebase": {
                "identities": {"email": [forge.DEFAULT_EMAIL]},
                "sign_in_provider": "password",
                "sign_in_second_factor": "totp",
                "second_factor_identifier": "totp-1",
            },
        }
    )
    assert h.authenticate(header) == Principal(
        uid=UID,
        email=forge.DEFAULT_EMAIL,
        email_verified=True,
        roles=frozenset({Role.ADMIN, Role.AUDITOR}),
        sign_in_provider="password",
        auth_time=iat,
        second_factor="totp",
        issued_at=iat,
    )


def test_unverified_email_and_no_second_factor(harness: HarnessFactory) -> None:
    h = harness(user())
    principal = h.authenticate(h.bearer({"email_verified": False}))
    assert principal.email_verified is False
    assert principal.second_factor is None
    assert principal.tenant is None
    assert principal.roles == frozenset()


@pytest.mark.parametrize(
    ("record", "error"),
    [
        (user(disabled=True), UserDisabled),
        (user(valid_since=10**10), TokenRevoked),
        (user(uid="someone-else"), TokenRevoked),
    ],
    ids=["disabled_user", "revoked_after_issue", "deleted_user"],
)
def test_account_state_rejects_token(
    record: UserRecord, error: type[ApiError], harness: HarnessFactory
) -> None:
    h = harness(record)
    with pytest.raises(ApiError) as raised:
        h.authenticate(h.bearer())
    assert type(raised.value) is error
    assert raised.value.status == 401


@pytest.mark.parametrize(
    ("seconds_after_iat", "error"),
    [(0, None), (1, TokenRevoked)],
    ids=["valid_since_equals_iat_accepted", "valid_since_after_iat_revoked"],
)
def test_revocation_boundary(
    seconds_after_iat: int, error: type[ApiError] | None, harness: HarnessFactory
) -> None:
    h = harness()
    h.directory.records[UID] = user(valid_since=int(h.now) + seconds_after_iat)
    if error is None:
        assert h.authenticate(h.bearer()).uid == UID
    else:
        with pytest.raises(error):
            h.authenticate(h.bearer())


def test_demoted_admin_loses_the_role_at_once(harness: HarnessFactory) -> None:
    h = harness(user(roles=["admin"]))
    admin_token = h.bearer({"roles": ["admin"]})
    h.authenticate(h.bearer())  # warms the cache with the admin record
    assert h.authenticate(admin_token).is_admin
    h.directory.update(UID, custom_claims={})
    principal = h.authenticate(admin_token)
    assert not principal.is_admin
    assert principal.roles == frozenset()


def test_promotion_waits_for_a_refreshed_token(harness: HarnessFactory) -> None:
    h = harness(user(roles=["admin"]))
    assert h.authenticate(h.bearer()).roles == frozenset()


def test_plain_requests_reuse_the_cached_record(harness: HarnessFactory) -> None:
    h = harness(user())
    header = h.bearer()
    for _ in range(3):
        h.authenticate(header)
    assert h.directory.calls == 1


def test_role_bearing_tokens_bypass_the_cache(harness: HarnessFactory) -> None:
    h = harness(user(roles=["auditor"]))
    header = h.bearer({"roles": ["auditor"]})
    for _ in range(3):
        assert h.authenticate(header).is_auditor
    assert h.directory.calls == 3


def test_privileged_requests_bypass_the_cache(harness: HarnessFactory) -> None:
    h = harness(user())
    header = h.bearer()
    h.authenticate(header)
    h.authenticate(header, privileged=True)
    h.authenticate(header, privileged=True)
    assert h.directory.calls == 3


def test_disabling_applies_at_once_to_privileged_requests(harness: HarnessFactory) -> None:
    h = harness(user())
    header = h.bearer()
    h.authenticate(header)
    h.directory.update(UID, disabled=True)
    with pytest.raises(UserDisabled):
        h.authenticate(header, privileged=True)


def test_max_age_zero_checks_every_request(harness: HarnessFactory) -> None:
    h = harness(user(), max_age_seconds=0)
    header = h.bearer()
    for _ in range(3):
        h.authenticate(header)
    assert h.directory.calls == 3


@pytest.mark.parametrize("privileged", [False, True], ids=["plain", "privileged"])
def test_directory_outage_fails_closed(privileged: bool, harness: HarnessFactory) -> None:
    h = harness(user())
    h.directory.error = AuthUnavailable()
    with pytest.raises(AuthUnavailable):
        h.authenticate(h.bearer(), privileged=privileged)


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, MissingToken),
        ("Bearer " + forge.mint(key=forge.attacker_key()), InvalidToken),
        ("Bearer " + forge.unsigned(), InvalidToken),
    ],
    ids=["no_header", "forged_token", "unsigned_token"],
)
def test_unauthenticated_requests_never_reach_the_directory(
    header: str | None, error: type[ApiError], harness: HarnessFactory
) -> None:
    h = harness(user())
    with pytest.raises(error):
        h.authenticate(header)
    assert h.directory.calls == 0


# --- stale claims: the record grants more than the token ---------------------


@dataclass(frozen=True)
class StaleCase:
    token: dict[str, Any]
    record: UserRecord
    stale: bool


STALE_CASES = {
    "role_granted_after_the_token": StaleCase({}, user(roles=["auditor"]), True),
    "second_role_granted_after_the_token": StaleCase(
        {"roles": ["auditor"]}, user(roles=["auditor", "admin"]), True
    ),
    "same_roles_not_stale": StaleCase({"roles": ["auditor"]}, user(roles=["auditor"]), False),
    "no_roles_either_side_not_stale": StaleCase({}, user(), False),
    # Removal applies at once (the role stops counting), so a new token adds nothing.
    "role_removed_not_stale": StaleCase({"roles": ["admin"]}, user(roles=[]), False),
    "unknown_role_in_the_record_not_stale": StaleCase({}, user(roles=["superuser"]), False),
    "email_verified_later": StaleCase({"email_verified": False}, user(email_verified=True), True),
    "email_verified_both_not_stale": StaleCase(
        {"email_verified": True}, user(email_verified=True), False
    ),
    "email_unverified_since_not_stale": StaleCase(
        {"email_verified": True}, user(email_verified=False), False
    ),
}


@pytest.mark.parametrize("case", STALE_CASES.values(), ids=STALE_CASES.keys())
def test_claims_stale_when_the_record_grants_more(case: StaleCase, harness: HarnessFactory) -> None:
    h = harness(case.record)
    principal = h.authenticate(h.bearer(case.token))
    assert principal.claims_stale is case.stale
    # Whatever the record says, only roles both in the token and the record count.
    assert principal.roles == roles_from_claims(case.token) & case.record.roles


def test_a_grant_is_seen_within_the_cache_bound_or_at_once_when_fresh(
    harness: HarnessFactory,
) -> None:
    """A non-privileged request may reuse a record up to REVOCATION_CHECK_MAX_AGE_SECONDS
    old: the grant shows up when it expires, and at once on a request that reads fresh."""
    h = harness(user(), max_age_seconds=60)
    header = h.bearer()
    assert h.authenticate(header).claims_stale is False  # caches the record
    h.directory.update(UID, custom_claims={"roles": ["auditor"]})
    assert h.authenticate(header).claims_stale is False, "served from the cached record"
    assert h.authenticate(header, privileged=True).claims_stale is True
    refreshed = h.bearer({"roles": ["auditor"]})
    principal = h.authenticate(refreshed)
    assert principal.is_auditor
    assert principal.claims_stale is False


def test_a_grant_is_seen_on_the_next_request_without_a_cache(harness: HarnessFactory) -> None:
    h = harness(user(), max_age_seconds=0)
    header = h.bearer()
    assert h.authenticate(header).claims_stale is False
    h.directory.update(UID, custom_claims={"roles": ["auditor"]})
    assert h.authenticate(header).claims_stale is True
