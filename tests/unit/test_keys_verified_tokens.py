"""``auth.tokens`` remembers tokens it verified (signature and static claims), so a
token presented again skips the RSA check; the answer must stay the one a full
verification would give: times re-checked, the key still published and unchanged,
the project part of the identity, the cache bounded."""

from __future__ import annotations

import json
import time
from typing import Any

import firebase_admin
import pytest
from cryptography.hazmat.primitives import serialization

from auth import keys, tokens
from auth.keys import PublicKeys
from auth.tokens import VerifiedTokens
from core.errors import InvalidToken, TokenExpired
from tests.unit import tokenforge as forge
from tests.unit.conftest import AppFactory, key_store, verified_cache
from tests.unit.test_keys import FakeClock, ScriptedFetch, certificates, ok, store
from tests.unit.tokenforge import CertServer

SKEW = 5
#: ``verify``'s default: the app's own key store and cache (``key_store``, ``verified_cache``).
APPS_OWN = VerifiedTokens(max_entries=0)


def verify(
    token: str,
    app: firebase_admin.App,
    *,
    now: float,
    public_keys: PublicKeys | None = None,
    cache: VerifiedTokens | None = APPS_OWN,
) -> dict[str, Any]:
    """Verify with ``public_keys`` (default: the app's store) remembering in ``cache``
    (default: the app's; ``None``: remember nothing)."""
    return tokens.verify_id_token(
        token,
        app=app,
        clock_skew_seconds=SKEW,
        clock=lambda: now,
        keys=public_keys if public_keys is not None else key_store(app),
        verified=verified_cache(app) if cache is APPS_OWN else cache,
    )


def test_a_token_presented_again_is_a_hit_with_fresh_claims(
    production_app: firebase_admin.App,
) -> None:
    now = time.time()
    token = forge.mint(now=now)
    first = verify(token, production_app, now=now)
    first["roles"] = ["admin"]  # a caller mutating its claims must not affect the next one
    cache = verified_cache(production_app)
    second = verify(token, production_app, now=now)
    assert cache.hits == 1
    assert "roles" not in second
    assert second == verify(token, production_app, now=now, cache=None)
    assert cache.hits == 1


def test_times_are_checked_again_on_a_hit(production_app: firebase_admin.App) -> None:
    now = time.time()
    token = forge.mint(now=now)
    verify(token, production_app, now=now)
    with pytest.raises(TokenExpired):
        verify(token, production_app, now=now + 3600 + SKEW + 1)
    with pytest.raises(InvalidToken):  # our clock far behind the token's iat
        verify(token, production_app, now=now - 600)


def test_an_edited_token_is_never_a_hit(production_app: firebase_admin.App) -> None:
    now = time.time()
    token = forge.mint(now=now)
    verify(token, production_app, now=now)
    with pytest.raises(InvalidToken):
        verify(forge.with_payload(token, {"roles": ["admin"]}), production_app, now=now)
    assert verified_cache(production_app).hits == 0


def test_a_refresh_with_unchanged_certificates_keeps_the_cache() -> None:
    """Audit finding: every refetch replaced every key object, which emptied the cache
    (and an unknown ``kid`` can cause one every 30 s)."""
    rotated = ok(certificates(forge.signing_key(), forge.rotated_key()))
    fetch, clock = ScriptedFetch([ok(), ok(), rotated]), FakeClock()
    public_keys, cache = store(fetch, clock), VerifiedTokens()
    now = time.time()
    token = forge.mint(now=now)
    app = _app_for(public_keys)
    verify(token, app, now=now, public_keys=public_keys, cache=cache)
    key = public_keys.get(forge.DEFAULT_KID)
    clock.advance(3600)  # max-age passed: a refetch, same certificate
    verify(token, app, now=now, public_keys=public_keys, cache=cache)
    assert (fetch.calls, cache.hits) == (2, 1)
    clock.advance(keys.UNKNOWN_KID_REFETCH_SECONDS)
    assert public_keys.get("made-up-kid") is None  # a refetch for an unknown kid
    assert public_keys.get(forge.rotated_key().kid) is not None  # ... that found a new key
    verify(token, app, now=now, public_keys=public_keys, cache=cache)
    assert (fetch.calls, cache.hits) == (3, 2)
    assert public_keys.get(forge.DEFAULT_KID) is key


def test_a_changed_certificate_verifies_again() -> None:
    """The same ``kid`` with other certificate text is a new key object (here the same
    RSA key as a bare public-key PEM, so the token still verifies, in full)."""
    same_key_other_pem = json.dumps({forge.DEFAULT_KID: _public_key_pem(forge.signing_key())})
    fetch, clock = ScriptedFetch([ok(), ok(same_key_other_pem.encode())]), FakeClock()
    public_keys, cache = store(fetch, clock), VerifiedTokens()
    now = time.time()
    token = forge.mint(now=now)
    app = _app_for(public_keys)
    verify(token, app, now=now, public_keys=public_keys, cache=cache)
    key = public_keys.get(forge.DEFAULT_KID)
    clock.advance(3600)
    verify(token, app, now=now, public_keys=public_keys, cache=cache)
    assert fetch.calls == 2
    assert cache.hits == 0
    assert public_keys.get(forge.DEFAULT_KID) is not key


def _public_key_pem(key: forge.SigningKey) -> str:
    return (
        key.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_a_key_google_stopped_publishing_is_not_trusted_from_the_cache() -> None:
    rotated_only = ok(certificates(forge.rotated_key()))
    fetch, clock = ScriptedFetch([ok(), rotated_only]), FakeClock()
    public_keys, cache = store(fetch, clock), VerifiedTokens()
    now = time.time()
    token = forge.mint(now=now)
    app = _app_for(public_keys)
    verify(token, app, now=now, public_keys=public_keys, cache=cache)
    clock.advance(3600)
    with pytest.raises(InvalidToken):
        verify(token, app, now=now, public_keys=public_keys, cache=cache)


def test_the_project_is_part_of_what_is_remembered(
    make_production_app: AppFactory, cert_server: CertServer
) -> None:
    cert_server.reset()
    app = make_production_app(cert_server.url)
    other = firebase_admin.initialize_app(
        app.credential, options={"projectId": "demo-other"}, name="other-project"
    )
    try:
        shared, cache = key_store(app), verified_cache(app)
        now = time.time()
        token = forge.mint(now=now)
        verify(token, app, now=now, public_keys=shared, cache=cache)
        with pytest.raises(InvalidToken):
            verify(token, other, now=now, public_keys=shared, cache=cache)
    finally:
        firebase_admin.delete_app(other)


def test_no_cache_verifies_the_signature_every_time(
    production_app: firebase_admin.App,
) -> None:
    now = time.time()
    token = forge.mint(now=now)
    for _ in range(3):
        verify(token, production_app, now=now, cache=None)
    assert len(verified_cache(production_app)) == 0


def test_the_cache_is_bounded_oldest_first() -> None:
    cache = VerifiedTokens(max_entries=3)
    key = forge.signing_key().private_key.public_key()
    for n in range(5):
        cache.put(bytes([n]), "kid", key)
    assert len(cache) == 3
    assert [cache.get(bytes([n])) is not None for n in range(5)] == [False, False, True, True, True]
    cache.put(bytes([2]), "kid", key)  # put again: now the newest
    cache.put(bytes([5]), "kid", key)
    assert cache.get(bytes([3])) is None
    assert cache.get(bytes([2])) is not None


_apps: list[firebase_admin.App] = []


def _app_for(public_keys: PublicKeys) -> firebase_admin.App:
    """An app of the token's project; its key store is unused (keys are passed in)."""
    from google.auth.credentials import AnonymousCredentials

    app = firebase_admin.initialize_app(
        AnonymousCredentials(),  # type: ignore[no-untyped-call]
        options={"projectId": forge.PROJECT_ID},
        name=f"verified-{len(_apps)}-{id(public_keys)}",
    )
    _apps.append(app)
    return app


@pytest.fixture(autouse=True)
def _delete_apps(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    yield
    while _apps:
        firebase_admin.delete_app(_apps.pop())
