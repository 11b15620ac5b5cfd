"""``auth.app_check``: App Check tokens verified on the production path, offline.

Tokens are RS256 JWTs signed with the session's test key, whose public half a local
server publishes as a JWKS in place of Google's (``app_check_forge``); the clock is
injected so that expiry and skew are exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import strategies as st

from auth import app_check
from auth.app_check import AppCheckVerifier, parse_jwks
from auth.keys import KeyFetchError, PublicKeys, Response
from core.errors import AppCheckFailed, AuthUnavailable
from core.key_fetch import freshness, http_fetch
from tests.unit import app_check_forge as forge
from tests.unit import tokenforge
from tests.unit.app_check_forge import REMOVE
from tests.unit.test_keys import FakeClock, ScriptedFetch
from tests.unit.tokenforge import CertServer, SigningKey

REPO_ROOT = Path(__file__).resolve().parents[2]
SKEW = 5
NOW = 1_900_000_000.0


def verifier(keys: PublicKeys, *, now: float = NOW, skew: int = SKEW) -> AppCheckVerifier:
    return AppCheckVerifier(
        project_id=forge.PROJECT_ID,
        project_number=forge.PROJECT_NUMBER,
        keys=keys,
        clock_skew_seconds=skew,
        clock=lambda: now,
    )


def public_key_pem(key: SigningKey) -> bytes:
    return key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- a valid token -----------------------------------------------------------------


def test_a_valid_token_names_its_app(app_check_keys: PublicKeys) -> None:
    token = forge.mint(now=NOW)
    verified = verifier(app_check_keys).verify(token)
    assert verified.app_id == forge.APP_ID
    assert verified.expires_at == NOW + forge.TOKEN_LIFETIME_SECONDS
    jti = tokenforge.claims_of(token)["jti"]
    assert verified.replay_id == hashlib.sha256(f"jti:{jti}".encode()).hexdigest()


@pytest.mark.parametrize(
    "audience",
    [
        [f"projects/{forge.PROJECT_NUMBER}"],
        [f"projects/{forge.PROJECT_ID}"],
        [f"projects/{forge.PROJECT_NUMBER}", f"projects/{forge.PROJECT_ID}"],
        ["projects/999", f"projects/{forge.PROJECT_ID}"],
    ],
    ids=["number_only", "id_only", "number_and_id", "ours_among_others"],
)
def test_audience_may_name_the_project_by_number_or_id(
    app_check_keys: PublicKeys, audience: list[str]
) -> None:
    token = forge.mint({"aud": audience}, now=NOW)
    assert verifier(app_check_keys).verify(token).app_id == forge.APP_ID


@pytest.mark.parametrize(
    ("issued_at", "accepted"),
    [
        (NOW - forge.TOKEN_LIFETIME_SECONDS - SKEW, True),  # exp = now - skew
        (NOW - forge.TOKEN_LIFETIME_SECONDS - SKEW - 1, False),  # one second beyond
        (NOW + SKEW, True),  # iat = now + skew
        (NOW + SKEW + 1, False),
    ],
    ids=["expired_within_skew", "expired_beyond_skew", "iat_within_skew", "iat_in_the_future"],
)
def test_times_are_checked_with_the_clock_skew(
    app_check_keys: PublicKeys, issued_at: float, accepted: bool
) -> None:
    token = forge.mint(now=issued_at)
    if accepted:
        assert verifier(app_check_keys).verify(token).app_id == forge.APP_ID
    else:
        with pytest.raises(AppCheckFailed):
            verifier(app_check_keys).verify(token)


# --- invalid tokens: each is 401 app_check_failed ----------------------------------


def _id_token() -> str:
    return tokenforge.mint()


INVALID = [
    pytest.param(lambda: forge.mint(key=tokenforge.attacker_key()), id="forged_signature"),
    pytest.param(
        lambda: tokenforge.with_payload(forge.mint(now=NOW), {"sub": "1:1:web:evil"}),
        id="payload_edited_after_signing",
    ),
    pytest.param(
        lambda: tokenforge.with_truncated_signature(forge.mint(now=NOW), 20),
        id="truncated_signature",
    ),
    pytest.param(lambda: forge.mint(now=NOW - 2 * 3600), id="expired"),
    pytest.param(lambda: forge.mint({"aud": ["projects/999"]}, now=NOW), id="wrong_audience"),
    pytest.param(
        lambda: forge.mint({"aud": f"projects/{forge.PROJECT_NUMBER}"}, now=NOW),
        id="audience_not_a_list",
    ),
    pytest.param(lambda: forge.mint({"aud": []}, now=NOW), id="empty_audience"),
    pytest.param(
        lambda: forge.mint({"iss": "https://firebaseappcheck.googleapis.com/999"}, now=NOW),
        id="issuer_of_another_project",
    ),
    pytest.param(
        lambda: forge.mint({"iss": "https://firebaseappcheck.googleapis.com/"}, now=NOW),
        id="issuer_prefix_only",
    ),
    pytest.param(
        lambda: forge.mint({"iss": f"https://securetoken.google.com/{forge.PROJECT_ID}"}, now=NOW),
        id="issuer_of_id_tokens",
    ),
    pytest.param(_id_token, id="firebase_id_token"),
    pytest.param(forge.unsigned, id="alg_none"),
    pytest.param(lambda: forge.unsigned(alg="None"), id="alg_None"),
    pytest.param(
        lambda: forge.hs256(public_key_pem(tokenforge.signing_key())), id="hs256_public_key"
    ),
    pytest.param(
        lambda: forge.mint(header_overrides={"alg": "RS512"}, now=NOW), id="alg_rs512_label"
    ),
    pytest.param(lambda: forge.mint(header_overrides={"typ": REMOVE}, now=NOW), id="no_typ"),
    pytest.param(lambda: forge.mint(header_overrides={"typ": "at+jwt"}, now=NOW), id="wrong_typ"),
    pytest.param(lambda: forge.mint(header_overrides={"kid": REMOVE}, now=NOW), id="no_kid"),
    pytest.param(lambda: forge.mint(kid="", now=NOW), id="empty_kid"),
    pytest.param(lambda: forge.mint(header_overrides={"kid": 7}, now=NOW), id="kid_not_a_string"),
    pytest.param(
        lambda: forge.mint(
            header_overrides={"jwk": tokenforge.public_jwk(tokenforge.attacker_key())},
            key=tokenforge.attacker_key(),
        ),
        id="jwk_header_injection",
    ),
    pytest.param(
        lambda: forge.mint(
            header_overrides={"jku": tokenforge.attacker_server().url},
            key=tokenforge.attacker_key(),
        ),
        id="jku_header_injection",
    ),
    pytest.param(lambda: forge.mint({"sub": REMOVE}, now=NOW), id="no_sub"),
    pytest.param(lambda: forge.mint({"sub": ""}, now=NOW), id="empty_sub"),
    pytest.param(lambda: forge.mint({"sub": 42}, now=NOW), id="sub_not_a_string"),
    pytest.param(lambda: forge.mint({"exp": REMOVE}, now=NOW), id="no_exp"),
    pytest.param(lambda: forge.mint({"iat": REMOVE}, now=NOW), id="no_iat"),
    pytest.param(lambda: forge.mint({"exp": "never"}, now=NOW), id="exp_not_a_number"),
    pytest.param(lambda: forge.mint({"exp": True}, now=NOW), id="exp_boolean"),
    pytest.param(lambda: forge.mint({"exp": float("nan")}, now=NOW), id="exp_nan"),
    pytest.param(lambda: forge.mint({"exp": float("inf")}, now=NOW), id="exp_infinite"),
    pytest.param(lambda: forge.mint({"exp": 10**400}, now=NOW), id="exp_beyond_a_float"),
    pytest.param(lambda: forge.mint({"iat": -(10**400)}, now=NOW), id="iat_beyond_a_float"),
    pytest.param(lambda: forge.mint({"jti": 5}, now=NOW), id="jti_not_a_string"),
    pytest.param(lambda: "", id="empty"),
    pytest.param(lambda: "not-a-jwt", id="garbage"),
    pytest.param(lambda: "a.b.c", id="three_garbage_segments"),
    pytest.param(lambda: forge.mint(now=NOW) + ".extra", id="four_segments"),
    pytest.param(lambda: "é." + forge.mint(now=NOW), id="non_ascii"),
    pytest.param(
        lambda: tokenforge.encode_segment({"alg": "RS256"})[:-1] + "!.e30.", id="bad_base64"
    ),
    pytest.param(lambda: tokenforge.b64url(b"[1,2]") + ".e30.", id="header_not_an_object"),
]


@pytest.mark.parametrize("make_token", INVALID)
def test_invalid_tokens_are_refused(
    app_check_keys: PublicKeys, make_token: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = make_token()
    with caplog.at_level("INFO", logger="auth.app_check"), pytest.raises(AppCheckFailed) as raised:
        verifier(app_check_keys).verify(token)
    assert raised.value.status == 401
    assert raised.value.code == "app_check_failed"
    assert caplog.messages, "a rejection says why in the log"
    for segment in (s for s in token.split(".") if len(s) > 8):
        assert segment not in caplog.text, "the token never reaches the log"


def test_header_injection_never_causes_a_fetch(app_check_keys: PublicKeys) -> None:
    attacker = tokenforge.attacker_server()
    before = attacker.request_count
    token = forge.mint(
        header_overrides={"jku": attacker.url, "x5u": attacker.url}, key=tokenforge.attacker_key()
    )
    with pytest.raises(AppCheckFailed):
        verifier(app_check_keys).verify(token)
    assert attacker.request_count == before


def test_refused_algorithms_fetch_no_keys(
    app_check_keys: PublicKeys, jwks_server: CertServer
) -> None:
    for token in (forge.unsigned(), forge.hs256(b"secret")):
        with pytest.raises(AppCheckFailed):
            verifier(app_check_keys).verify(token)
    assert jwks_server.request_count == 0


# --- the key set: fetched when needed, cached, refetched for a new kid at most so often


def test_nothing_is_fetched_until_a_token_needs_a_key(
    app_check_keys: PublicKeys, jwks_server: CertServer
) -> None:
    checker = verifier(app_check_keys)
    assert jwks_server.request_count == 0
    for _ in range(5):
        checker.verify(forge.mint(now=NOW))
    assert jwks_server.request_count == 1


def test_unknown_kid_refetches_once_then_refuses(jwks_server: CertServer) -> None:
    clock = FakeClock()
    keys = PublicKeys(
        jwks_server.url,
        timeout=5,
        fetch=http_fetch,
        parse=parse_jwks,
        monotonic=clock,
        default_cache_seconds=app_check.DEFAULT_CACHE_SECONDS,
    )
    jwks_server.reset()
    checker = verifier(keys)
    checker.verify(forge.mint(now=NOW))
    assert jwks_server.request_count == 1
    clock.advance(31)  # past auth.keys.UNKNOWN_KID_REFETCH_SECONDS
    unknown = forge.mint(kid="made-up-kid", now=NOW)
    with pytest.raises(AppCheckFailed):
        checker.verify(unknown)
    assert jwks_server.request_count == 2, "an unknown kid refetches the key set once"
    for _ in range(10):
        with pytest.raises(AppCheckFailed):
            checker.verify(forge.mint(kid=f"made-up-{_}", now=NOW))
    assert jwks_server.request_count == 2, "then refuses without fetching again"


def test_a_rotated_key_is_picked_up(jwks_server: CertServer, signing_key: SigningKey) -> None:
    clock = FakeClock()
    keys = PublicKeys(
        jwks_server.url, timeout=5, fetch=http_fetch, parse=parse_jwks, monotonic=clock
    )
    jwks_server.reset()
    checker = verifier(keys)
    checker.verify(forge.mint(now=NOW))
    rotated = tokenforge.rotated_key()
    jwks_server.set_certificates(forge.jwks(signing_key, rotated))
    try:
        clock.advance(31)
        assert checker.verify(forge.mint(key=rotated, now=NOW)).app_id == forge.APP_ID
    finally:
        jwks_server.set_certificates(forge.jwks(signing_key))


@pytest.mark.parametrize(
    ("cache_control", "lifetime"),
    [
        ("public, max-age=600", 600),
        ("public", app_check.DEFAULT_CACHE_SECONDS),
        ("", app_check.DEFAULT_CACHE_SECONDS),
        ("no-store", 0),
    ],
    ids=["max_age_honoured", "no_max_age_six_hours", "no_cache_control", "no_store"],
)
def test_key_set_lifetime_follows_cache_control(cache_control: str, lifetime: float) -> None:
    body = json.dumps(forge.jwks()).encode()
    fetch, clock = ScriptedFetch([Response(200, body, freshness(cache_control))]), FakeClock()
    keys = PublicKeys(
        "https://jwks.test/v1/jwks",
        timeout=5,
        fetch=fetch,
        monotonic=clock,
        parse=parse_jwks,
        default_cache_seconds=app_check.DEFAULT_CACHE_SECONDS,
    )
    keys.get(tokenforge.DEFAULT_KID)
    if lifetime:
        clock.advance(lifetime - 1)
        keys.get(tokenforge.DEFAULT_KID)
        assert fetch.calls == 1
    clock.advance(1)
    keys.get(tokenforge.DEFAULT_KID)
    assert fetch.calls == 2


def test_unreachable_key_set_is_503_not_401(signing_key: SigningKey) -> None:
    server = CertServer(forge.jwks(signing_key)).start()
    url = server.url
    server.stop()
    with pytest.raises(AuthUnavailable) as raised:
        verifier(app_check.key_store(url, timeout=2, fetch=http_fetch)).verify(forge.mint(now=NOW))
    assert raised.value.status == 503


def test_key_set_error_page_is_503(app_check_keys: PublicKeys, jwks_server: CertServer) -> None:
    jwks_server.fail_with(500)
    with pytest.raises(AuthUnavailable):
        verifier(app_check_keys).verify(forge.mint(now=NOW))


def test_importing_fetches_nothing(jwks_server: CertServer) -> None:
    """Importing the modules that verify App Check (and building the gate) fetches no key."""
    jwks_server.reset()
    code = textwrap.dedent(
        """
        import auth.app_check, services.app_check, handlers, main
        from app import build_container
        build_container().app_check
        """
    )
    env = {
        **os.environ,
        "GOOGLE_CLOUD_PROJECT": forge.PROJECT_ID,
        "APP_CHECK": "enforce",
        "FIREBASE_PROJECT_NUMBER": forge.PROJECT_NUMBER,
        "APP_CHECK_JWKS_URL": jwks_server.url,
    }
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, check=True, timeout=60)
    assert jwks_server.request_count == 0


# --- parsing the JWKS ----------------------------------------------------------------


def _jwk(**overrides: Any) -> dict[str, Any]:
    return {**tokenforge.public_jwk(tokenforge.signing_key()), **overrides}


@pytest.mark.parametrize(
    ("entries", "kids"),
    [
        ([_jwk()], {tokenforge.DEFAULT_KID}),
        ([_jwk(), _jwk(kid="k2", alg="RS512")], {tokenforge.DEFAULT_KID}),
        ([_jwk(), _jwk(kid="enc", use="enc")], {tokenforge.DEFAULT_KID}),
        ([_jwk(), {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}], {tokenforge.DEFAULT_KID}),
        ([_jwk(), _jwk(kid=None)], {tokenforge.DEFAULT_KID}),
        ([_jwk(), "not-an-object", _jwk(kid="bad", n="!!")], {tokenforge.DEFAULT_KID}),
    ],
    ids=[
        "one_rsa_key",
        "other_algorithm_skipped",
        "encryption_key_skipped",
        "symmetric_key_skipped",
        "key_without_kid_skipped",
        "malformed_entries_skipped",
    ],
)
def test_jwks_keeps_only_rs256_signing_keys(entries: list[Any], kids: set[str]) -> None:
    assert set(parse_jwks(json.dumps({"keys": entries}).encode())) == kids


@pytest.mark.parametrize(
    "body",
    [
        b"<html>proxy error</html>",
        b"[]",
        b'{"keys": {}}',
        b'{"keys": []}',
        json.dumps({"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}).encode(),
        json.dumps({"keys": [_jwk(kid=f"k{i}") for i in range(65)]}).encode(),
        b" " * (300 * 1024),
        json.dumps({tokenforge.DEFAULT_KID: tokenforge.signing_key().certificate_pem}).encode(),
    ],
    ids=[
        "html",
        "list",
        "keys_not_a_list",
        "no_keys",
        "no_usable_key",
        "too_many_keys",
        "too_large",
        "certificate_map_not_jwks",
    ],
)
def test_what_is_not_a_jwks_is_a_fetch_error(body: bytes) -> None:
    with pytest.raises(KeyFetchError):
        parse_jwks(body)


# --- replay ids --------------------------------------------------------------------


def test_replay_id_is_per_token_not_per_presentation(app_check_keys: PublicKeys) -> None:
    checker = verifier(app_check_keys)
    token = forge.mint(now=NOW)
    assert checker.verify(token).replay_id == checker.verify(token).replay_id
    assert checker.verify(forge.mint(now=NOW)).replay_id != checker.verify(token).replay_id


def test_token_without_jti_is_named_by_its_signature(app_check_keys: PublicKeys) -> None:
    checker = verifier(app_check_keys)
    first, second = forge.mint({"jti": REMOVE}, now=NOW), forge.mint({"jti": REMOVE}, now=NOW + 1)
    assert checker.verify(first).replay_id == checker.verify(first).replay_id
    assert checker.verify(first).replay_id != checker.verify(second).replay_id


def test_real_clock_accepts_a_fresh_token(app_check_keys: PublicKeys) -> None:
    checker = verifier(app_check_keys, now=time.time())
    assert checker.verify(forge.mint()).app_id == forge.APP_ID


# --- nothing a client sends is a 500 -------------------------------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from([forge.ISSUER, f"projects/{forge.PROJECT_NUMBER}", "RS256", "JWT"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
_HEADER = st.dictionaries(st.sampled_from(["alg", "typ", "kid", "crit", "b64", "jku"]), _JSON)
_CLAIMS = st.dictionaries(st.sampled_from(["exp", "iat", "aud", "iss", "sub", "jti", "nbf"]), _JSON)


def _offline_verifier() -> AppCheckVerifier:
    body = json.dumps(forge.jwks()).encode()
    fetch = ScriptedFetch([Response(200, body, 600.0)])
    return verifier(PublicKeys("https://jwks.test", timeout=5, fetch=fetch, parse=parse_jwks))


@hypothesis.settings(max_examples=150, derandomize=True, database=None, deadline=None)
@hypothesis.given(
    st.one_of(
        st.text(),
        st.builds(
            lambda h, c, sig: ".".join(
                (tokenforge.encode_segment(h), tokenforge.encode_segment(c), tokenforge.b64url(sig))
            ),
            _HEADER,
            _CLAIMS,
            st.binary(max_size=300),
        ),
        # Correctly signed, so every claim check is reached.
        st.builds(lambda c: forge.mint(c, now=NOW), _CLAIMS),
    )
)
def test_any_header_value_is_verified_or_refused_never_an_error(token: str) -> None:
    try:
        verified = _offline_verifier().verify(token)
    except AppCheckFailed:
        return
    assert verified.app_id
