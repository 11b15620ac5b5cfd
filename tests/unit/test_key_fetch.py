"""``core.key_fetch``: the key stores' transport. How ``Cache-Control`` and ``Age``
become a freshness (a table, malformed headers included), and the real GET against
``tokenforge.CertServer``. How a store uses the freshness is ``test_keys.py``."""

from __future__ import annotations

import json

import pytest

from auth.keys import MAX_BODY_BYTES, KeyFetchError
from core.key_fetch import freshness, http_fetch
from tests.unit.tokenforge import CertServer, SigningKey

GOOGLE = "public, max-age=19845, must-revalidate, no-transform"


@pytest.mark.parametrize(
    ("cache_control", "age", "seconds"),
    [
        # what Google and well-behaved servers send
        (GOOGLE, "", 19845),
        ("max-age=60", "", 60),
        (GOOGLE, "45", 19800),
        ("max-age=10", "20", 0),
        ("MAX-AGE=10", "", 10),
        ('max-age="60"', "", 60),
        ("max-age=99999999", "", 99999999),
        # not cacheable
        ("no-store, max-age=600", "", 0),
        ("max-age=600, no-cache", "", 0),
        ('no-cache="set-cookie", max-age=600', "", 0),
        ("No-Store", "", 0),
        # no lifetime named: the store's default
        ("public", "", None),
        ("", "", None),
        ("s-maxage=600", "", None),
        # malformed max-age: as if absent
        ("max-age", "", None),
        ("max-age=", "", None),
        ("max-age=abc", "", None),
        ("max-age=-5", "", None),
        ("max-age=+5", "", None),
        ("max-age=1_000", "", None),
        ("max-age=\u0663", "", None),
        ("max-age=60 junk", "", None),
        ("max-age=5;x", "", None),
        (",,, ,", "", None),
        # quoting and repetition, which a pattern over the raw text gets wrong
        ('private="x, max-age=999", max-age=5', "", 5),
        ('community="max-age=999"', "", None),
        ("max-age=60, max-age=10", "", 10),
        # malformed Age: as if absent
        ("max-age=10", "junk", 10),
        ("max-age=10", "-5", 10),
        ("max-age=10", " ", 10),
    ],
    ids=[
        "google_style",
        "bare_max_age",
        "age_subtracted",
        "older_than_max_age_is_stale",
        "directive_names_case_insensitive",
        "quoted_max_age",
        "large_max_age_passed_on_the_store_caps_it",
        "no_store_wins_over_max_age",
        "no_cache_wins_over_max_age",
        "no_cache_with_field_names",
        "no_store_any_case",
        "no_max_age",
        "no_header",
        "shared_cache_only_directive",
        "max_age_without_value",
        "max_age_empty",
        "max_age_not_a_number",
        "max_age_negative",
        "max_age_signed",
        "max_age_underscored",
        "max_age_non_ascii_digit",
        "max_age_trailing_garbage",
        "max_age_semicolon",
        "only_separators",
        "comma_inside_quotes_is_no_directive",
        "max_age_inside_a_quoted_value_is_no_directive",
        "repeated_max_age_last_wins",
        "age_not_a_number",
        "age_negative",
        "age_blank",
    ],
)
def test_freshness(cache_control: str, age: str, seconds: float | None) -> None:
    assert freshness(cache_control, age) == seconds


# --- the real GET --------------------------------------------------------------------


def test_a_fetch_reads_status_body_and_freshness(
    cert_server: CertServer, signing_key: SigningKey
) -> None:
    cert_server.reset()
    cert_server.set_max_age(600)
    cert_server.set_age(100)
    try:
        response = http_fetch(cert_server.url, 5)
    finally:
        cert_server.reset()
    assert (response.status, response.fresh_for) == (200, 500)
    assert json.loads(response.body) == {signing_key.kid: signing_key.certificate_pem}


def test_an_error_page_is_passed_on_not_cacheable(cert_server: CertServer) -> None:
    cert_server.reset()
    cert_server.fail_with(503)
    try:
        response = http_fetch(cert_server.url, 5)
    finally:
        cert_server.reset()
    assert (response.status, response.fresh_for) == (503, 0)


def test_a_long_body_is_cut_just_past_the_limit(
    cert_server: CertServer, signing_key: SigningKey
) -> None:
    """Enough for the store to see it is too long, without reading all of it."""
    cert_server.set_certificates({f"kid-{n}": "x" * 1024 for n in range(400)})
    try:
        response = http_fetch(cert_server.url, 5)
    finally:
        cert_server.set_certificates({signing_key.kid: signing_key.certificate_pem})
        cert_server.reset()
    assert len(response.body) == MAX_BODY_BYTES + 1


def test_a_transport_failure_is_a_key_fetch_error(unreachable_cert_url: str) -> None:
    with pytest.raises(KeyFetchError, match="expected public keys from"):
        http_fetch(unreachable_cert_url, 1)
