"""Role claims as data: merged into other claims, capped at 1000 characters."""

from __future__ import annotations

import json

import pytest

from auth.claims import MAX_CLAIMS_BYTES, canonical_roles, claims_size, merge_roles
from auth.principal import Principal, Role, principal_from_claims, roles_from_claims
from core.errors import ClaimsTooLarge

ADMIN, AUDITOR = Role.ADMIN, Role.AUDITOR


@pytest.mark.parametrize(
    ("existing", "roles", "expected"),
    [
        (None, {ADMIN}, {"roles": ["admin"]}),
        ({"tier": "gold"}, {AUDITOR, ADMIN}, {"tier": "gold", "roles": ["admin", "auditor"]}),
        ({"tier": "gold", "roles": ["admin"]}, set(), {"tier": "gold"}),
        ({"roles": ["admin", "junk"]}, {AUDITOR}, {"roles": ["auditor"]}),
        ({}, set(), {}),
    ],
    ids=[
        "adds_roles_claim",
        "keeps_other_claims_and_sorts",
        "empty_set_removes_the_claim",
        "replaces_unknown_values",
        "empty_stays_empty",
    ],
)
def test_merge_roles(existing: dict | None, roles: set[Role], expected: dict) -> None:
    assert merge_roles(existing, roles) == expected


def test_merge_does_not_mutate_its_input() -> None:
    existing = {"roles": ["admin"], "x": 1}
    merge_roles(existing, set())
    assert existing == {"roles": ["admin"], "x": 1}


def test_merge_refuses_claims_over_firebase_limit() -> None:
    big = {"blob": "x" * (MAX_CLAIMS_BYTES - 20)}
    with pytest.raises(ClaimsTooLarge) as raised:
        merge_roles(big, {ADMIN, AUDITOR})
    assert raised.value.status == 400
    assert raised.value.code == "claims_too_large"


def test_claims_exactly_at_the_limit_are_accepted() -> None:
    padding = MAX_CLAIMS_BYTES - claims_size({"p": "", "roles": ["admin"]})
    merged = merge_roles({"p": "x" * padding}, {ADMIN})
    assert claims_size(merged) == MAX_CLAIMS_BYTES


def test_size_counts_like_firebase_admin_ascii_escaped() -> None:
    assert claims_size({"n": "é"}) == len(json.dumps({"n": "\\u00e9"})) - 1


def test_canonical_roles_are_unique_and_sorted() -> None:
    assert canonical_roles([AUDITOR, ADMIN, AUDITOR]) == ["admin", "auditor"]


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"roles": ["admin"]}, {ADMIN}),
        ({"roles": ["admin", "superuser", 7, None]}, {ADMIN}),
        ({"roles": "admin"}, set()),
        ({"roles": {"admin": True}}, set()),
        ({}, set()),
        (None, set()),
    ],
    ids=["known", "unknown_values_ignored", "string_not_list", "object", "absent", "none"],
)
def test_roles_from_claims(claims: dict | None, expected: set[Role]) -> None:
    assert roles_from_claims(claims) == expected


def test_principal_from_claims_reads_every_field() -> None:
    claims = {
        "sub": "u1",
        "email": "a@example.com",
        "email_verified": True,
        "roles": ["auditor", "nope"],
        "auth_time": 100,
        "iat": 200,
        "firebase": {
            "sign_in_provider": "password",
            "sign_in_second_factor": "totp",
            "tenant": "t-1",
        },
    }
    assert principal_from_claims(claims) == Principal(
        uid="u1",
        email="a@example.com",
        email_verified=True,
        roles=frozenset({AUDITOR}),
        sign_in_provider="password",
        auth_time=100,
        second_factor="totp",
        tenant="t-1",
        issued_at=200,
    )


@pytest.mark.parametrize("verified", ["true", 1, None], ids=["string", "int", "none"])
def test_email_verified_must_be_the_boolean_true(verified: object) -> None:
    assert principal_from_claims({"sub": "u", "email_verified": verified}).email_verified is False


def test_principal_is_frozen() -> None:
    principal = Principal("u")
    with pytest.raises(AttributeError):
        principal.uid = "other"  # type: ignore[misc]
