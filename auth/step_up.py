"""Step-up: whether a verified sign-in is strong and recent enough for an operation,
and whether its provider is accepted at all. Pure functions over the ``Principal``.

Privileged endpoints (the ``/admin`` routes, role changes among them) and the
operations named in ``STEP_UP_OPERATIONS`` may demand a second factor
(``firebase.sign_in_second_factor``) and a sign-in (``auth_time``) at most
``ADMIN_MAX_AUTH_AGE_SECONDS`` old. A sign-in that falls short is asked to sign in
again (``StepUpRequired``: 401 with the RFC 9470 challenge), not refused outright:
the same user may do it after a stronger sign-in.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from auth.principal import Principal
from core.errors import ProviderNotAllowed, StepUpRequired
from core.settings import Settings


@dataclass(frozen=True)
class StepUpPolicy:
    """What a privileged or listed operation demands of the sign-in.

    Attributes:
        require_second_factor: the sign-in used a second factor.
        max_auth_age_seconds: the sign-in is at most this old (``None``: any age).
        operations: operation ids held to the same rules as privileged endpoints.
    """

    require_second_factor: bool = False
    max_auth_age_seconds: int | None = None
    operations: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> StepUpPolicy:
        return cls(
            require_second_factor=settings.admin_require_second_factor,
            max_auth_age_seconds=settings.admin_max_auth_age_seconds,
            operations=settings.step_up_operations,
        )

    def applies_to(self, operation_id: str, *, privileged: bool) -> bool:
        """Whether the rules bind this operation: every privileged one, and those listed."""
        return privileged or operation_id in self.operations


@dataclass(frozen=True)
class Shortfall:
    """How a sign-in falls short of a policy (both ``False``: it does not)."""

    second_factor: bool = False
    too_old: bool = False

    def __bool__(self) -> bool:
        return self.second_factor or self.too_old


def shortfall(principal: Principal, policy: StepUpPolicy, now: float) -> Shortfall:
    """How ``principal``'s sign-in falls short of ``policy`` at ``now`` (epoch seconds).

    A sign-in exactly ``max_auth_age_seconds`` old still counts; one without an
    ``auth_time`` is too old whenever an age is demanded (deny by default).
    """
    missing_factor = policy.require_second_factor and not principal.second_factor
    too_old = False
    if policy.max_auth_age_seconds is not None:
        too_old = (
            principal.auth_time is None or now - principal.auth_time > policy.max_auth_age_seconds
        )
    return Shortfall(second_factor=missing_factor, too_old=too_old)


def require_step_up(
    principal: Principal,
    policy: StepUpPolicy,
    now: float,
    *,
    operation_id: str,
    privileged: bool,
) -> None:
    """Raise unless ``principal`` may call ``operation_id`` under ``policy``.

    Raises:
        StepUpRequired: the sign-in lacks the second factor or is too old; ``max_age``
            is set when the age was (one of) the reasons.
    """
    if not policy.applies_to(operation_id, privileged=privileged):
        return
    found = shortfall(principal, policy, now)
    if not found:
        return
    if found.second_factor and found.too_old:
        message = (
            f"Sign in again with your second factor (a sign-in of the last "
            f"{policy.max_auth_age_seconds} seconds is required)."
        )
    elif found.second_factor:
        message = "Sign in again with your second factor."
    else:
        message = (
            f"Sign in again: this needs a sign-in of the last "
            f"{policy.max_auth_age_seconds} seconds."
        )
    raise StepUpRequired(message, max_age=policy.max_auth_age_seconds if found.too_old else None)


def require_allowed_provider(principal: Principal, allowed: Set[str] | None) -> None:
    """Raise unless ``principal`` signed in with a provider in ``allowed`` (``None``: any).

    Raises:
        ProviderNotAllowed: another provider, or none named in the token.
    """
    if allowed is None or principal.sign_in_provider in allowed:
        return
    raise ProviderNotAllowed()
