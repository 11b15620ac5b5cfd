"""The sign-up policy, pure: the email-domain allowlist, default claims, their settings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from auth.claims import MAX_CLAIMS_BYTES, RESERVED_CLAIMS, claims_problems
from auth.signup_policy import (
    BEFORE_CREATE,
    BEFORE_SIGN_IN,
    Rule,
    SignupPolicy,
    decide,
    email_domain,
    parse_allowed_domains,
    parse_default_claims,
)
from core.errors import EmailDomainNotAllowed, EmailRequired
from core.settings import ConfigError, Settings

ALLOWED = SignupPolicy(allowed_domains=frozenset({"example.com", "eng.example.org"}))


# --- the domain allowlist ------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "rule"),
    [
        ("alice@example.com", Rule.DOMAIN_ALLOWED),
        ("Alice@EXAMPLE.COM", Rule.DOMAIN_ALLOWED),
        ("bob@eng.example.org", Rule.DOMAIN_ALLOWED),
        ('"a@b"@example.com', Rule.DOMAIN_ALLOWED),
        ("mallory@evil-example.com", Rule.DOMAIN_NOT_ALLOWED),
        ("mallory@example.com.evil.io", Rule.DOMAIN_NOT_ALLOWED),
        ("mallory@notexample.com", Rule.DOMAIN_NOT_ALLOWED),
        ("carol@mail.example.com", Rule.DOMAIN_NOT_ALLOWED),
        ("dave@example.org", Rule.DOMAIN_NOT_ALLOWED),
        ("erin@example.com.", Rule.DOMAIN_NOT_ALLOWED),
        ("example.com@evil.io", Rule.DOMAIN_NOT_ALLOWED),
        ("frank@example.com@evil.io", Rule.DOMAIN_NOT_ALLOWED),
        ("grace@ex\u0430mple.com", Rule.DOMAIN_NOT_ALLOWED),  # Cyrillic a
        (None, Rule.EMAIL_REQUIRED),
        ("", Rule.EMAIL_REQUIRED),
        ("no-at-sign", Rule.EMAIL_REQUIRED),
        ("trailing@", Rule.EMAIL_REQUIRED),
    ],
    ids=[
        "listed_domain_allowed",
        "domain_matched_case_insensitively",
        "listed_subdomain_allowed",
        "quoted_local_part_with_at_uses_last_at",
        "hyphenated_lookalike_is_not_a_suffix_match",
        "listed_domain_as_a_prefix_refused",
        "no_suffix_matching",
        "unlisted_subdomain_refused",
        "other_tld_refused",
        "trailing_dot_is_another_domain",
        "listed_domain_in_local_part_refused",
        "only_the_last_at_counts",
        "homoglyph_domain_refused",
        "no_email_refused_when_domains_are_set",
        "empty_email_refused_when_domains_are_set",
        "address_without_domain_refused",
        "empty_domain_refused",
    ],
)
@pytest.mark.parametrize("event", [BEFORE_CREATE, BEFORE_SIGN_IN])
def test_domain_allowlist(email: str | None, rule: Rule, event: str) -> None:
    verdict = decide(ALLOWED, event, email=email)
    assert verdict.rule is rule
    assert verdict.allowed is (rule is Rule.DOMAIN_ALLOWED)
    if not verdict.allowed:
        expected = EmailRequired if rule is Rule.EMAIL_REQUIRED else EmailDomainNotAllowed
        refusal = verdict.refusal()
        assert type(refusal) is expected
        assert refusal.status == 403


@pytest.mark.parametrize(
    "email", ["anyone@anywhere.io", None], ids=["any_address", "no_address_at_all"]
)
def test_no_allowlist_allows_everyone(email: str | None) -> None:
    verdict = decide(SignupPolicy(), BEFORE_CREATE, email=email)
    assert (verdict.allowed, verdict.rule) == (True, Rule.ANY_DOMAIN)


def test_an_allowed_verdict_has_no_refusal() -> None:
    with pytest.raises(ValueError, match="expected a refused verdict"):
        decide(SignupPolicy(), BEFORE_SIGN_IN, email=None).refusal()


def test_other_events_are_not_decided_here() -> None:
    with pytest.raises(ValueError, match="beforeCreate"):
        decide(SignupPolicy(), "beforeSendEmail", email="a@example.com")


@pytest.mark.parametrize(
    ("email", "domain"),
    [("a@Example.COM", "example.com"), ("x@y@z.io", "z.io"), ("nodomain@", None), ("plain", None)],
    ids=["lower_cased", "after_the_last_at", "empty_domain", "no_at"],
)
def test_email_domain(email: str, domain: str | None) -> None:
    assert email_domain(email) == domain


# --- default claims ---------------------------------------------------------------------

DEFAULTS = SignupPolicy(default_claims={"roles": ["auditor"], "tier": "free"})


def test_default_claims_are_stamped_on_a_new_account() -> None:
    verdict = decide(DEFAULTS, BEFORE_CREATE, email="a@example.com")
    assert verdict.custom_claims == {"roles": ["auditor"], "tier": "free"}


def test_stamped_claims_are_a_copy_of_the_configuration() -> None:
    verdict = decide(DEFAULTS, BEFORE_CREATE, email="a@example.com")
    assert verdict.custom_claims is not None
    verdict.custom_claims["roles"].append("admin")
    assert DEFAULTS.default_claims["roles"] == ["auditor"]


def test_sign_in_changes_no_claims() -> None:
    verdict = decide(DEFAULTS, BEFORE_SIGN_IN, email="a@example.com", custom_claims={})
    assert (verdict.allowed, verdict.custom_claims) == (True, None)


def test_without_defaults_a_new_account_is_left_alone() -> None:
    assert decide(SignupPolicy(), BEFORE_CREATE, email="a@x.io").custom_claims is None


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ({"tier": "gold"}, {"roles": ["auditor"], "tier": "gold"}),
        ({"roles": []}, {"roles": [], "tier": "free"}),
        ({"roles": ["auditor"], "tier": "free"}, None),
        ({"blob": "x" * (MAX_CLAIMS_BYTES - 20)}, None),
    ],
    ids=[
        "own_claims_win_over_defaults",
        "own_roles_win_even_when_empty",
        "nothing_to_change_is_no_change",
        "merge_over_the_limit_stamps_nothing",
    ],
)
def test_defaults_merge_under_the_accounts_own_claims(
    existing: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    verdict = decide(DEFAULTS, BEFORE_CREATE, email="a@example.com", custom_claims=existing)
    assert verdict.custom_claims == expected


def test_a_refused_account_gets_no_claims() -> None:
    policy = SignupPolicy(
        allowed_domains=frozenset({"example.com"}), default_claims={"tier": "free"}
    )
    verdict = decide(policy, BEFORE_CREATE, email="a@other.io")
    assert (verdict.allowed, verdict.custom_claims) == (False, None)


# --- the settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        (" , ", ()),
        ("example.com", ("example.com",)),
        (" Example.COM , eng.example.org,example.com", ("example.com", "eng.example.org")),
        ("xn--bcher-kva.example", ("xn--bcher-kva.example",)),
    ],
    ids=["empty_is_any", "blank_entries_ignored", "one", "lower_cased_unique", "punycode"],
)
def test_allowed_domains_parse(raw: str, expected: tuple[str, ...]) -> None:
    assert parse_allowed_domains(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "*.example.com",
        ".example.com",
        "example.com.",
        "@example.com",
        "user@example.com",
        "localhost",
        "https://example.com",
        "exa mple.com",
        "-example.com",
        "bücher.example",
        "a" * 64 + ".com",
    ],
    ids=[
        "wildcard",
        "leading_dot",
        "trailing_dot",
        "at_sign",
        "an_address",
        "single_label",
        "a_url",
        "space",
        "leading_hyphen",
        "unicode_not_punycode",
        "label_over_63",
    ],
)
def test_allowed_domains_refuse_anything_but_plain_domains(raw: str) -> None:
    with pytest.raises(ValueError, match="plain domains"):
        parse_allowed_domains(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", {}),
        ("{}", {}),
        ('{"tier": "free"}', {"tier": "free"}),
        ('{"roles": ["auditor"], "org": {"id": 7}}', {"roles": ["auditor"], "org": {"id": 7}}),
        ('{"roles": []}', {"roles": []}),
    ],
    ids=["unset", "empty_object", "plain_claim", "known_role_and_nesting", "no_roles"],
)
def test_default_claims_parse(raw: str, expected: dict[str, Any]) -> None:
    assert parse_default_claims(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "expected a JSON object"),
        ('["roles"]', "expected a JSON object, got list"),
        ('{"x": NaN}', "expected a JSON object"),
        ('{"sub": "x"}', "reserved claim names may not be set: sub"),
        ('{"firebase": {}, "iss": "x"}', "reserved claim names may not be set: firebase, iss"),
        (json.dumps({"blob": "x" * MAX_CLAIMS_BYTES}), "Firebase allows 1000"),
        ('{"roles": ["admin"]}', "admin is never granted by default"),
        ('{"roles": ["auditor", "admin"]}', "admin is never granted by default"),
        ('{"roles": ["owner"]}', "unknown roles 'owner'"),
        ('{"roles": "auditor"}', "must be a list of role names"),
        ('{"roles": [1]}', "must be a list of role names"),
    ],
    ids=[
        "not_json",
        "not_an_object",
        "non_json_constant",
        "reserved_name",
        "several_reserved_names",
        "over_1000_characters",
        "admin_by_default_refused",
        "admin_among_others_refused",
        "unknown_role",
        "roles_not_a_list",
        "roles_not_strings",
    ],
)
def test_default_claims_refused(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_default_claims(raw)


def test_reserved_names_are_firebase_admins() -> None:
    """firebase-admin's _auth_utils.RESERVED_CLAIMS (7.7), checked by the same rule."""
    assert {
        "acr", "amr", "at_hash", "aud", "auth_time", "azp", "cnf", "c_hash",
        "exp", "iat", "iss", "jti", "nbf", "nonce", "sub", "firebase",
    } == RESERVED_CLAIMS  # fmt: skip
    assert claims_problems({"roles": ["admin"], "tier": "x"}) == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SIGNUP_ALLOWED_EMAIL_DOMAINS": "*.example.com"}, "SIGNUP_ALLOWED_EMAIL_DOMAINS"),
        ({"SIGNUP_DEFAULT_CLAIMS": '{"roles": ["admin"]}'}, "SIGNUP_DEFAULT_CLAIMS: roles"),
        ({"SIGNUP_DEFAULT_CLAIMS": '{"aud": 1}'}, "SIGNUP_DEFAULT_CLAIMS: reserved"),
    ],
    ids=["bad_domain", "admin_by_default", "reserved_claim"],
)
def test_bad_policy_settings_stop_the_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"FIREBASE_PROJECT_ID": "demo-x", **env})


def test_policy_settings_are_read_once_at_start() -> None:
    settings = Settings.from_env(
        {
            "FIREBASE_PROJECT_ID": "demo-x",
            "SIGNUP_ALLOWED_EMAIL_DOMAINS": "Example.com,eng.example.org",
            "SIGNUP_DEFAULT_CLAIMS": '{"roles": ["auditor"]}',
        }
    )
    assert settings.signup_allowed_email_domains == ("example.com", "eng.example.org")
    assert dict(settings.signup_default_claims) == {"roles": ["auditor"]}
    with pytest.raises(TypeError):
        settings.signup_default_claims["roles"] = ["admin"]  # type: ignore[index]
