"""The claims lease outlives the worst case of a role change, for every timeout the
settings admit (``services.roles``); a shorter one is refused at start-up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import build_container
from core.settings import Settings
from services.roles import (
    AUTH_CALLS_UNDER_LEASE,
    FIRESTORE_CALLS_UNDER_LEASE,
    LEASE_MARGIN,
    check_claims_lease,
    claims_lease,
    worst_case_under_lease,
)

#: The range ``Settings.from_env`` admits for AUTH_TIMEOUT_SECONDS and FIRESTORE_TIMEOUT_SECONDS.
TIMEOUTS = (1, 10, 60)


@pytest.mark.parametrize("auth", TIMEOUTS)
@pytest.mark.parametrize("firestore", TIMEOUTS)
def test_the_lease_outlives_every_call_at_its_timeout(auth: int, firestore: int) -> None:
    lease = claims_lease(auth_timeout=auth, firestore_timeout=firestore)
    worst = timedelta(
        seconds=FIRESTORE_CALLS_UNDER_LEASE * firestore + AUTH_CALLS_UNDER_LEASE * auth
    )
    assert lease - worst == LEASE_MARGIN > timedelta(0)
    check_claims_lease(lease, auth_timeout=auth, firestore_timeout=firestore)


def test_the_default_lease() -> None:
    """10 s timeouts: 6 Firestore and 3 Auth calls, plus 10 s."""
    assert claims_lease(auth_timeout=10, firestore_timeout=10) == timedelta(seconds=100)


def test_a_lease_a_role_change_could_outlive_is_refused() -> None:
    worst = worst_case_under_lease(auth_timeout=10, firestore_timeout=10)
    with pytest.raises(ValueError, match="expected a claims lease of at least 0:01:40"):
        check_claims_lease(worst, auth_timeout=10, firestore_timeout=10)


def test_the_container_builds_leases_from_the_settings_timeouts() -> None:
    settings = Settings(
        project_id="demo-lease", auth_timeout_seconds=20, firestore_timeout_seconds=5
    )
    container = build_container(settings, firestore=object())  # type: ignore[typeddict-item]
    assert container.leases.lease == timedelta(seconds=6 * 5 + 3 * 20) + LEASE_MARGIN
