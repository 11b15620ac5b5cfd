"""``auth.keys``: Google's public keys fetched when needed, held parsed, refreshed by
``Cache-Control``, refetched (rate-limited) on an unknown ``kid``, one fetch for many
threads, never at import. Failures are ``KeyFetchError`` (``AuthUnavailable`` above).

Most tests drive ``PublicKeys`` with a scripted fetch and a fake monotonic clock; the
single-flight tests use the real HTTP fetch (``core.key_fetch``) against
``tokenforge.CertServer``. How headers become a freshness is ``test_key_fetch.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import firebase_admin
import pytest

from auth import keys, tokens
from auth.keys import KeyFetchError, PublicKeys, Response, parse_certificates
from core.errors import AuthUnavailable, InvalidToken
from core.key_fetch import freshness, http_fetch
from tests.unit import tokenforge as forge
from tests.unit.conftest import key_store
from tests.unit.tokenforge import CertServer

REPO_ROOT = Path(__file__).resolve().parents[2]
KID = forge.DEFAULT_KID
NEW_KID = forge.rotated_key().kid
CACHE_CONTROL = "public, max-age=3600, must-revalidate, no-transform"


def certificates(*signing_keys: forge.SigningKey) -> bytes:
    return json.dumps({key.kid: key.certificate_pem for key in signing_keys}).encode()


@dataclass
class ScriptedFetch:
    """A fetch that answers from ``responses`` (the last one repeats) and counts calls."""

    responses: list[Response | Exception]
    calls: int = 0
    urls: list[str] = field(default_factory=list)

    def __call__(self, url: str, timeout: float) -> Response:
        self.calls += 1
        self.urls.append(url)
        answer = self.responses[min(self.calls, len(self.responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def ok(body: bytes | None = None, cache_control: str = CACHE_CONTROL, age: str = "") -> Response:
    """A 200 with these headers, read as the real transport reads them."""
    return Response(
        200,
        certificates(forge.signing_key()) if body is None else body,
        freshness(cache_control, age),
    )


def store(fetch: Callable[[str, float], Response], clock: FakeClock) -> PublicKeys:
    return PublicKeys("https://keys.test/x509", timeout=5, fetch=fetch, monotonic=clock)


# --- fetching and caching ----------------------------------------------------


def test_nothing_is_fetched_until_a_key_is_needed() -> None:
    fetch, clock = ScriptedFetch([ok()]), FakeClock()
    public_keys = store(fetch, clock)
    assert fetch.calls == 0
    assert public_keys.get(KID) is not None
    assert fetch.calls == 1
    assert fetch.urls == ["https://keys.test/x509"]


def test_keys_are_reused_until_max_age_then_refetched() -> None:
    fetch, clock = ScriptedFetch([ok()]), FakeClock()
    public_keys = store(fetch, clock)
    for _ in range(100):
        public_keys.get(KID)
    clock.advance(3599)
    public_keys.get(KID)
    assert fetch.calls == 1
    clock.advance(1)
    public_keys.get(KID)
    assert fetch.calls == 2


def test_age_header_shortens_the_lifetime() -> None:
    fetch, clock = ScriptedFetch([ok(age="3500")]), FakeClock()
    public_keys = store(fetch, clock)
    public_keys.get(KID)
    clock.advance(100)
    public_keys.get(KID)
    assert fetch.calls == 2


@pytest.mark.parametrize(
    ("fresh_for", "default", "seconds"),
    [
        (3600.0, 0.0, 3600),
        (60.0, 600.0, 60),
        (0.0, 600.0, 0),
        (None, 0.0, 0),
        (None, 600.0, 600),
        (99999999.0, 0.0, keys.MAX_CACHE_SECONDS),
        (None, 10 * keys.MAX_CACHE_SECONDS, keys.MAX_CACHE_SECONDS),
        (-5.0, 600.0, 0),
    ],
    ids=[
        "freshness_used",
        "freshness_over_default",
        "not_cacheable_over_default",
        "no_lifetime_no_default_fetches_every_time",
        "no_lifetime_takes_the_default",
        "capped",
        "default_capped",
        "negative_is_stale",
    ],
)
def test_a_response_is_used_for_its_freshness(
    fresh_for: float | None, default: float, seconds: float
) -> None:
    body = certificates(forge.signing_key())
    fetch, clock = ScriptedFetch([Response(200, body, fresh_for)]), FakeClock()
    public_keys = PublicKeys(
        "https://keys.test/x509",
        timeout=5,
        fetch=fetch,
        monotonic=clock,
        default_cache_seconds=default,
    )
    public_keys.get(KID)
    if seconds:
        clock.advance(seconds - 1)
        public_keys.get(KID)
        assert fetch.calls == 1, "fetched again before the freshness ran out"
        clock.advance(1)
    public_keys.get(KID)
    assert fetch.calls == 2, "not fetched again once the freshness ran out"


def test_without_max_age_every_lookup_fetches() -> None:
    fetch, clock = ScriptedFetch([ok(cache_control="no-store")]), FakeClock()
    public_keys = store(fetch, clock)
    for _ in range(3):
        public_keys.get(KID)
    assert fetch.calls == 3


# --- unknown kid: rotation without a fetch per request ------------------------


def test_unknown_kid_refetches_at_most_once_per_interval() -> None:
    fetch, clock = ScriptedFetch([ok()]), FakeClock()
    public_keys = store(fetch, clock)
    public_keys.get(KID)
    for n in range(1000):  # an attacker sprays made-up kids
        assert public_keys.get(f"made-up-{n}") is None
    assert fetch.calls == 1
    clock.advance(keys.UNKNOWN_KID_REFETCH_SECONDS)
    for n in range(1000):
        assert public_keys.get(f"made-up-{n}") is None
    assert fetch.calls == 2


def test_rotation_is_picked_up_through_the_unknown_kid() -> None:
    rotated = ok(certificates(forge.signing_key(), forge.rotated_key()))
    fetch, clock = ScriptedFetch([ok(), rotated]), FakeClock()
    public_keys = store(fetch, clock)
    public_keys.get(KID)
    clock.advance(keys.UNKNOWN_KID_REFETCH_SECONDS)
    assert public_keys.get(NEW_KID) is not None
    assert public_keys.get(KID) is not None
    assert fetch.calls == 2


def test_token_signed_with_a_rotated_key_verifies_after_the_refetch(
    production_app: firebase_admin.App,
) -> None:
    rotated = ok(certificates(forge.signing_key(), forge.rotated_key()))
    fetch, clock = ScriptedFetch([ok(), rotated]), FakeClock()
    public_keys = store(fetch, clock)
    now = time.time()
    new_token = forge.mint(now=now, key=forge.rotated_key())

    def verify(token: str) -> object:
        return tokens.verify_id_token(
            token, app=production_app, clock_skew_seconds=5, clock=lambda: now, keys=public_keys
        )

    verify(forge.mint(now=now))
    with pytest.raises(InvalidToken):  # published after our fetch, within the interval
        verify(new_token)
    clock.advance(keys.UNKNOWN_KID_REFETCH_SECONDS)
    assert verify(new_token)
    assert fetch.calls == 2


@pytest.mark.parametrize(
    ("second", "kept"),
    [
        (certificates(forge.signing_key()), True),
        (certificates(forge.signing_key(), forge.rotated_key()), True),
        (certificates(forge.attacker_key()), False),  # same kid, another certificate
    ],
    ids=["same_certificates", "a_key_added", "certificate_changed"],
)
def test_a_refetch_keeps_the_key_object_of_an_unchanged_certificate(
    second: bytes, kept: bool
) -> None:
    """``auth.tokens`` trusts a remembered token only with the very same key object, so
    keeping it across refetches keeps that cache (audit finding: every refetch emptied
    it)."""
    fetch, clock = ScriptedFetch([ok(), ok(second)]), FakeClock()
    public_keys = store(fetch, clock)
    first = public_keys.get(KID)
    clock.advance(3600)
    again = public_keys.get(KID)
    assert fetch.calls == 2
    assert again is not None
    assert (again is first) is kept


def test_a_key_no_longer_published_is_dropped_by_the_refetch() -> None:
    fetch, clock = ScriptedFetch([ok(), ok(certificates(forge.rotated_key()))]), FakeClock()
    public_keys = store(fetch, clock)
    assert public_keys.get(KID) is not None
    clock.advance(3600)
    assert public_keys.get(KID) is None
    assert public_keys.get(NEW_KID) is not None


# --- failures ------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        KeyFetchError("connection refused"),
        Response(500, b'{"error": "backend"}'),
        Response(404, b""),
        ok(b"<html>proxy error</html>"),
        ok(b"[]"),
        ok(b"{}"),
        ok(b'{"k": 1}'),
        ok(b'{"k": "-----BEGIN CERTIFICATE-----\\nnot base64\\n-----END CERTIFICATE-----"}'),
        ok(json.dumps({"ec": forge.ec_certificate_pem()}).encode()),
        ok(json.dumps({"keys": [{"kty": "RSA"}]}).encode()),
        ok(b"{" + b" " * keys.MAX_BODY_BYTES + b"}"),
        ok(json.dumps({f"k{n}": "x" for n in range(keys.MAX_KEYS + 1)}).encode()),
    ],
    ids=[
        "transport_error",
        "status_500",
        "status_404",
        "html",
        "json_list",
        "empty_map",
        "not_a_pem",
        "broken_certificate",
        "only_an_ec_key",
        "jwks_format",
        "oversized_body",
        "too_many_keys",
    ],
)
def test_unusable_answers_are_fetch_errors(answer: Response | Exception) -> None:
    public_keys = store(ScriptedFetch([answer]), FakeClock())
    with pytest.raises(KeyFetchError):
        public_keys.get(KID)


def test_unusable_entries_are_skipped_beside_good_ones() -> None:
    body = json.dumps(
        {"ec": forge.ec_certificate_pem(), "junk": "x", KID: forge.signing_key().certificate_pem}
    ).encode()
    assert set(parse_certificates(body)) == {KID}


def test_bare_public_key_pem_is_accepted() -> None:
    from cryptography.hazmat.primitives import serialization

    pem = (
        forge.signing_key()
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert set(parse_certificates(json.dumps({KID: pem.decode()}).encode())) == {KID}


def test_after_a_failure_callers_fail_fast_then_retry() -> None:
    fetch, clock = ScriptedFetch([Response(503, b""), ok()]), FakeClock()
    public_keys = store(fetch, clock)
    for _ in range(20):
        with pytest.raises(KeyFetchError):
            public_keys.get(KID)
    assert fetch.calls == 1
    clock.advance(keys.FAILURE_BACKOFF_SECONDS)
    assert public_keys.get(KID) is not None
    assert fetch.calls == 2


def test_expired_keys_are_not_used_when_the_refresh_fails() -> None:
    """As firebase-admin: once max-age has passed, a failed refresh is a 503."""
    fetch, clock = ScriptedFetch([ok(), Response(500, b"")]), FakeClock()
    public_keys = store(fetch, clock)
    public_keys.get(KID)
    clock.advance(3600)
    with pytest.raises(KeyFetchError):
        public_keys.get(KID)


def test_fresh_keys_survive_a_failed_unknown_kid_refetch() -> None:
    fetch, clock = ScriptedFetch([ok(), Response(500, b""), ok()]), FakeClock()
    public_keys = store(fetch, clock)
    public_keys.get(KID)
    clock.advance(keys.UNKNOWN_KID_REFETCH_SECONDS)
    with pytest.raises(KeyFetchError):  # a rotation we could not check: unavailable
        public_keys.get(NEW_KID)
    assert public_keys.get(KID) is not None  # the keys we hold are still good
    assert public_keys.get("made-up") is None  # and the failure did not reset the limit
    assert fetch.calls == 2


def test_fetch_error_becomes_auth_unavailable(production_app: firebase_admin.App) -> None:
    public_keys = store(ScriptedFetch([Response(500, b"")]), FakeClock())
    now = time.time()
    with pytest.raises(AuthUnavailable):
        tokens.verify_id_token(
            forge.mint(now=now),
            app=production_app,
            clock_skew_seconds=5,
            clock=lambda: now,
            keys=public_keys,
        )


def test_malformed_tokens_never_fetch(production_app: firebase_admin.App) -> None:
    fetch = ScriptedFetch([ok()])
    public_keys = store(fetch, FakeClock())
    now = time.time()
    for token in ["a.b.c", forge.unsigned(now=now), forge.mint({"aud": "demo-other"}, now=now)]:
        with pytest.raises(InvalidToken):
            tokens.verify_id_token(
                token, app=production_app, clock_skew_seconds=5, keys=public_keys
            )
    assert fetch.calls == 0


# --- single flight, over real HTTP --------------------------------------------


def _in_parallel(count: int, work: Callable[[], object]) -> list[object]:
    results: list[object] = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work()
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            results[index] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_many_threads_share_one_fetch(cert_server: CertServer) -> None:
    cert_server.reset()
    cert_server.set_delay(0.3)  # every thread arrives while the fetch is in flight
    public_keys = PublicKeys(cert_server.url, timeout=5, fetch=http_fetch)
    results = _in_parallel(32, lambda: public_keys.get(KID))
    assert all(result is not None and not isinstance(result, Exception) for result in results)
    assert cert_server.request_count == 1
    cert_server.reset()


def test_many_threads_share_one_failure(cert_server: CertServer) -> None:
    cert_server.reset()
    cert_server.fail_with(503)
    cert_server.set_delay(0.3)
    public_keys = PublicKeys(cert_server.url, timeout=5, fetch=http_fetch)
    results = _in_parallel(32, lambda: public_keys.get(KID))
    assert all(isinstance(result, KeyFetchError) for result in results)
    assert cert_server.request_count == 1
    cert_server.reset()


def test_a_store_takes_the_sdk_url_when_it_is_made(
    make_production_app: Callable[[str], firebase_admin.App], cert_server: CertServer
) -> None:
    first = make_production_app(cert_server.url)
    second = make_production_app(cert_server.url + "?second")
    assert key_store(first).url == cert_server.url
    assert key_store(second).url == cert_server.url + "?second"
    # Made now, with the SDK's current URL; a new store each time (no registry behind it).
    assert keys.for_app(first, fetch=http_fetch).url == cert_server.url + "?second"
    assert keys.for_app(first, fetch=http_fetch) is not keys.for_app(first, fetch=http_fetch)


# --- never at import -----------------------------------------------------------


def test_importing_the_backend_opens_no_connection() -> None:
    """Import every entry point with sockets disabled: nothing may fetch keys (or
    anything else) at import time."""
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise SystemExit("a connection was attempted at import time")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        import auth.keys, auth.tokens, main
        print("imported")
        """
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")},
        "FIREBASE_PROJECT_ID": forge.PROJECT_ID,
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "imported"
