"""Who may sign up and sign in, and the custom claims a new account starts with. Pure.

Identity Platform asks the ``identity`` function before it creates an account
(``beforeCreate``) and before every sign-in (``beforeSignIn``); see ``auth.blocking``.
The rules:

- ``SIGNUP_ALLOWED_EMAIL_DOMAINS`` (empty: any). The domain of the address (what
  follows its last ``@``), lower-cased, must be one of the listed domains *exactly*:
  no suffix or subdomain matching (``evil-example.com`` and ``mail.example.com`` are
  not ``example.com``; list a subdomain to allow it). With a list, an account without
  an email address (phone, anonymous) is refused. Both events check it, so accounts
  created before the list was set cannot sign in either.
- ``SIGNUP_DEFAULT_CLAIMS`` (a JSON object): stamped on every new account in
  ``beforeCreate``, so that its first ID token carries them. They pass the rules of
  ``auth.claims`` (no reserved names, 1000 characters); a ``roles`` value must be a
  list of known roles, never ``admin`` (an admin is made on purpose, not by default).

The address is the one the user claims; that they own it is proven by verifying it,
which the API requires for writes (``REQUIRE_VERIFIED_EMAIL``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from auth.claims import claims_problems
from auth.principal import ROLES_CLAIM, Role
from core.errors import EmailDomainNotAllowed, EmailRequired, PermissionDenied

#: The blocking events this policy decides (Identity Platform's ``event_type`` values).
BEFORE_CREATE: Final = "beforeCreate"
BEFORE_SIGN_IN: Final = "beforeSignIn"
EVENTS: Final = (BEFORE_CREATE, BEFORE_SIGN_IN)

#: Roles that are never granted by default.
NEVER_BY_DEFAULT: Final = frozenset({Role.ADMIN})
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
#: A DNS name of at least two labels, lower case, no trailing dot.
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
MAX_DOMAIN_LENGTH: Final = 253


class Rule(StrEnum):
    """The rule that decided (logged; a refusal's error names it too)."""

    ANY_DOMAIN = "any_domain"
    DOMAIN_ALLOWED = "domain_allowed"
    DOMAIN_NOT_ALLOWED = "domain_not_allowed"
    EMAIL_REQUIRED = "email_required"


#: The error each refusing rule answers with.
REFUSALS: Final[Mapping[Rule, type[PermissionDenied]]] = MappingProxyType(
    {Rule.DOMAIN_NOT_ALLOWED: EmailDomainNotAllowed, Rule.EMAIL_REQUIRED: EmailRequired}
)


@dataclass(frozen=True)
class SignupPolicy:
    """The sign-up policy, from ``SIGNUP_ALLOWED_EMAIL_DOMAINS`` and ``SIGNUP_DEFAULT_CLAIMS``
    (already checked by ``parse_allowed_domains`` and ``parse_default_claims``)."""

    #: Lower-case domains; empty allows any address (and none).
    allowed_domains: frozenset[str] = frozenset()
    #: Claims every new account starts with.
    default_claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Verdict:
    """The answer to one event."""

    allowed: bool
    rule: Rule
    #: The new account's custom claims (replacing what it has), or ``None``: unchanged.
    custom_claims: dict[str, Any] | None = None

    def refusal(self) -> PermissionDenied:
        """The error a refused event answers with. Raises: ValueError when allowed."""
        if self.allowed:
            raise ValueError(f"expected a refused verdict, got {self.rule}")
        return REFUSALS[self.rule]()


def decide(
    policy: SignupPolicy,
    event_type: str,
    *,
    email: str | None,
    custom_claims: Mapping[str, Any] | None = None,
) -> Verdict:
    """Decide a ``beforeCreate`` or ``beforeSignIn`` event.

    Args:
        policy: the configured policy.
        event_type: ``BEFORE_CREATE`` or ``BEFORE_SIGN_IN``.
        email: the account's email address, if it has one.
        custom_claims: the account's custom claims as Identity Platform sent them.

    Raises:
        ValueError: ``event_type`` is not one of ``EVENTS`` (the caller checks first).
    """
    if event_type not in EVENTS:
        raise ValueError(f"expected one of {', '.join(EVENTS)}, got {event_type!r}")
    rule = _domain_rule(policy.allowed_domains, email)
    if rule in REFUSALS:
        return Verdict(allowed=False, rule=rule)
    if event_type != BEFORE_CREATE:
        return Verdict(allowed=True, rule=rule)
    return Verdict(
        allowed=True, rule=rule, custom_claims=_stamped(policy.default_claims, custom_claims)
    )


def email_domain(email: str) -> str | None:
    """The lower-cased domain of ``email`` (after its last ``@``), or ``None`` if it has none."""
    _, at, domain = email.rpartition("@")
    return domain.lower() if at and domain else None


def _domain_rule(allowed: frozenset[str], email: str | None) -> Rule:
    if not allowed:
        return Rule.ANY_DOMAIN
    domain = email_domain(email) if email else None
    if domain is None:
        return Rule.EMAIL_REQUIRED
    return Rule.DOMAIN_ALLOWED if domain in allowed else Rule.DOMAIN_NOT_ALLOWED


def _stamped(
    defaults: Mapping[str, Any], existing: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The defaults under the account's own claims, or ``None`` when that changes nothing.

    A new account normally has no claims; if it has some, they win over the defaults.
    When the merge would break Firebase's rules, nothing is stamped (Identity Platform
    would refuse the answer, and with it the sign-up).
    """
    current = dict(existing) if isinstance(existing, Mapping) else {}
    merged = {**_copy(defaults), **current}
    if merged == current or claims_problems(merged):
        return None
    return merged


def _copy(claims: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of JSON data, so no answer shares lists with the configuration."""
    copied: dict[str, Any] = json.loads(json.dumps(dict(claims)))
    return copied


# --- parsing the settings (called by core.settings at start-up) -----------------


def parse_allowed_domains(raw: str) -> tuple[str, ...]:
    """``SIGNUP_ALLOWED_EMAIL_DOMAINS``: comma-separated domains, lower-cased, unique.

    Raises:
        ValueError: an entry is not a plain domain (``@``, wildcards, a leading dot,
            a scheme, a trailing dot or a single label are refused: matching is exact).
    """
    domains: list[str] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        domain = entry.lower()
        if len(domain) > MAX_DOMAIN_LENGTH or not _DOMAIN.fullmatch(domain):
            raise ValueError(
                "expected plain domains like example.com (matched exactly, subdomains only "
                f"when listed; no @, *, leading or trailing dot), got {entry!r}"
            )
        if domain not in domains:
            domains.append(domain)
    return tuple(domains)


def parse_default_claims(raw: str) -> dict[str, Any]:
    """``SIGNUP_DEFAULT_CLAIMS``: a JSON object of claims every new account starts with.

    Raises:
        ValueError: not a JSON object; a reserved name or over 1000 characters
            (``auth.claims``); a ``roles`` value that is not a list of known roles, or
            that names ``admin``.
    """
    text = raw.strip()
    if not text:
        return {}
    try:
        claims = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ValueError(f"expected a JSON object, got {_shown(text)}") from None
    if not isinstance(claims, dict):
        raise ValueError(f"expected a JSON object, got {type(claims).__name__}")
    problems = claims_problems(claims)
    if ROLES_CLAIM in claims:
        problems += _roles_problems(claims[ROLES_CLAIM])
    if problems:
        raise ValueError("; ".join(problems))
    return claims


def _roles_problems(roles: Any) -> list[str]:
    known = {role.value for role in Role}
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        return [f"{ROLES_CLAIM} must be a list of role names, got {_shown(json.dumps(roles))}"]
    problems = []
    unknown = sorted(set(roles) - known)
    if unknown:
        problems.append(
            f"{ROLES_CLAIM}: unknown roles {', '.join(map(repr, unknown))} "
            f"(expected some of: {', '.join(sorted(known))})"
        )
    refused = sorted(role for role in NEVER_BY_DEFAULT if role.value in roles)
    if refused:
        problems.append(
            f"{ROLES_CLAIM}: {', '.join(refused)} is never granted by default "
            "(grant it to one user with python -m tools.admin)"
        )
    return problems


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _shown(text: str) -> str:
    return repr(text[:60] + ("…" if len(text) > 60 else ""))
