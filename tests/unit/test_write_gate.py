"""The write gate: who may change anything at all, decided from ID-token claims.

One rule (``Principal.verified_identity`` and ``declaration.check_write_gate``), also
rendered as ``isVerified()`` in ``firestore.rules`` and checked there on the emulator
(``tests/integration/test_identity_kinds.py``). Each case names the rule it pins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from auth import declaration, policy
from auth.policy import Action, ProjectAccess
from auth.principal import Principal, principal_from_claims
from auth.resources import PROJECTS
from core.errors import AnonymousNotAllowed, EmailNotVerified, NotFound, PermissionDenied

WRITES = "writes"
EMAIL = EmailNotVerified.code
ANONYMOUS = AnonymousNotAllowed.code


def claims(provider: str | None, *, email_verified: object = None, **extra: Any) -> dict[str, Any]:
    """ID-token claims as Firebase issues them for a sign-in with ``provider``."""
    token: dict[str, Any] = {"sub": "u-1", **extra}
    if provider is not None:
        token["firebase"] = {"sign_in_provider": provider}
    if email_verified is not None:
        token["email_verified"] = email_verified
        token.setdefault("email", "someone@example.com")
    return token


@dataclass(frozen=True)
class Case:
    id: str
    claims: dict[str, Any]
    #: ``WRITES`` or the error code, with the default settings.
    outcome: str


CASES = [
    Case("password_with_verified_email_writes", claims("password", email_verified=True), WRITES),
    Case(
        "password_with_unverified_email_is_refused", claims("password", email_verified=False), EMAIL
    ),
    Case(
        "phone_sign_in_writes",
        claims("phone", phone_number="+15555550100"),
        WRITES,
    ),
    Case("phone_sign_in_counts_without_the_number_claim", claims("phone"), WRITES),
    Case("google_asserted_email_writes", claims("google.com", email_verified=True), WRITES),
    Case("apple_asserted_email_writes", claims("apple.com", email_verified=True), WRITES),
    Case("microsoft_asserted_email_writes", claims("microsoft.com", email_verified=True), WRITES),
    Case("oidc_asserted_email_writes", claims("oidc.corp", email_verified=True), WRITES),
    Case("saml_asserted_email_writes", claims("saml.corp", email_verified=True), WRITES),
    Case("oidc_unasserted_email_is_refused", claims("oidc.corp", email_verified=False), EMAIL),
    Case("apple_unasserted_email_is_refused", claims("apple.com", email_verified=False), EMAIL),
    Case("federated_without_email_is_refused", claims("oidc.corp"), EMAIL),
    Case("custom_token_without_email_is_refused", claims("custom"), EMAIL),
    Case("custom_token_with_verified_email_writes", claims("custom", email_verified=True), WRITES),
    Case(
        "phone_second_factor_does_not_verify_an_email",
        claims(
            "password",
            email_verified=False,
            firebase={"sign_in_provider": "password", "sign_in_second_factor": "phone"},
        ),
        EMAIL,
    ),
    Case("anonymous_is_refused", claims("anonymous"), ANONYMOUS),
    Case(
        "anonymous_is_refused_whatever_else_the_token_says",
        claims("anonymous", email_verified=True),
        ANONYMOUS,
    ),
    Case(
        "email_verified_must_be_the_boolean_true", claims("password", email_verified="true"), EMAIL
    ),
    Case(
        "no_sign_in_provider_with_verified_email_writes", claims(None, email_verified=True), WRITES
    ),
    Case("no_sign_in_provider_nor_email_is_refused", claims(None), EMAIL),
]


def gate(principal: Principal, *, require: bool = True, allow_anonymous: bool = False) -> str:
    try:
        declaration.check_write_gate(
            principal, require_verified_identity=require, allow_anonymous_writes=allow_anonymous
        )
    except (AnonymousNotAllowed, EmailNotVerified) as refusal:
        return refusal.code
    return WRITES


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_default_gate(case: Case) -> None:
    principal = principal_from_claims(case.claims)
    assert gate(principal) == case.outcome
    assert principal.verified_identity is (case.outcome == WRITES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_verification_off_still_refuses_guests(case: Case) -> None:
    expected = ANONYMOUS if case.outcome == ANONYMOUS else WRITES
    assert gate(principal_from_claims(case.claims), require=False) == expected


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_anonymous_writes_on_lets_only_guests_through(case: Case) -> None:
    expected = WRITES if case.outcome == ANONYMOUS else case.outcome
    assert gate(principal_from_claims(case.claims), allow_anonymous=True) == expected


@pytest.mark.parametrize("require", [True, False], ids=["verification_on", "verification_off"])
def test_anonymous_writes_on_needs_no_verification(require: bool) -> None:
    guest = principal_from_claims(claims("anonymous"))
    assert gate(guest, require=require, allow_anonymous=True) == WRITES


def test_phone_number_claim_reaches_the_principal() -> None:
    principal = principal_from_claims(claims("phone", phone_number="+15555550100"))
    assert principal.phone_number == "+15555550100"
    assert principal.is_anonymous is False


# --- the gate inside authorize: reads pass, the 404 comes first, leaving is free ----

GUEST = Principal("u-guest", sign_in_provider="anonymous")
SHARED_WITH_GUEST_AS_EDITOR = ProjectAccess("u-owner", frozenset({"u-guest"}))
SHARED_WITH_GUEST_AS_VIEWER = ProjectAccess("u-owner", viewers=frozenset({"u-guest"}))
NOT_SHARED = ProjectAccess("u-owner")


@pytest.mark.parametrize(
    "project", [SHARED_WITH_GUEST_AS_EDITOR, SHARED_WITH_GUEST_AS_VIEWER], ids=["editor", "viewer"]
)
def test_guest_reads_what_is_shared_with_it(project: ProjectAccess) -> None:
    assert policy.authorize(GUEST, Action.READ, project, require_verified_email=True).allowed


def test_guest_cannot_create() -> None:
    with pytest.raises(AnonymousNotAllowed):
        policy.authorize_create(GUEST, require_verified_email=True)


def test_guest_editor_cannot_edit() -> None:
    with pytest.raises(AnonymousNotAllowed):
        policy.authorize(
            GUEST, Action.UPDATE, SHARED_WITH_GUEST_AS_EDITOR, require_verified_email=True
        )


def test_guest_editor_edits_when_anonymous_writes_are_on() -> None:
    decision = policy.authorize(
        GUEST,
        Action.UPDATE,
        SHARED_WITH_GUEST_AS_EDITOR,
        require_verified_email=True,
        allow_anonymous_writes=True,
    )
    assert decision.rule == "editor"


def test_guest_viewer_is_refused_as_a_guest_before_the_grant() -> None:
    """The gate comes before the grants: the code says why, not just "forbidden"."""
    with pytest.raises(AnonymousNotAllowed):
        policy.authorize(
            GUEST, Action.UPDATE, SHARED_WITH_GUEST_AS_VIEWER, require_verified_email=True
        )


def test_guest_viewer_with_anonymous_writes_on_is_still_only_a_viewer() -> None:
    with pytest.raises(PermissionDenied) as refused:
        policy.authorize(
            GUEST,
            Action.UPDATE,
            SHARED_WITH_GUEST_AS_VIEWER,
            require_verified_email=True,
            allow_anonymous_writes=True,
        )
    assert refused.value.code == "forbidden"


def test_guest_stranger_gets_404_not_the_guest_refusal() -> None:
    with pytest.raises(NotFound):
        policy.authorize(GUEST, Action.UPDATE, NOT_SHARED, require_verified_email=True)


def test_guest_may_leave_a_project_it_was_added_to() -> None:
    """Nobody asked the guest's consent to add it: leaving is not gated (as for
    unverified emails), in the rules too."""
    assert PROJECTS.grant(Action.LEAVE).verified is False
    decision = policy.authorize(
        GUEST, Action.LEAVE, SHARED_WITH_GUEST_AS_VIEWER, require_verified_email=True
    )
    assert decision.allowed
