"""``auth.revocation``: what the revoking instance refuses after "sign out everywhere",
and for how long, with an injected clock (audit finding: a sign-in within the
revocation's second was refused on that instance for the token's whole life)."""

from __future__ import annotations

import pytest

from auth.revocation import SAME_SECOND_REFUSAL_SECONDS, RevocationChecker
from core.errors import TokenRevoked
from tests.unit.test_tokens_production import UID, FakeDirectory, user

REVOKED_AT = 1_800_000_000  # the second of the revocation (whole seconds, as Firebase)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def checker(clock: Clock, *, max_age_seconds: int = 60) -> RevocationChecker:
    # Firebase sets validSince to the revocation's second and accepts iat == validSince.
    directory = FakeDirectory(user(valid_since=REVOKED_AT))
    sessions = RevocationChecker(
        directory, max_age_seconds=max_age_seconds, max_entries=100, clock=clock
    )
    sessions.note_revoked(UID, REVOKED_AT)
    return sessions


# (token's iat relative to the revocation second, our clock relative to it, refused)
CASES: dict[str, tuple[int, float, bool]] = {
    "issued_before_refused_at_once": (-1, 0.2, True),
    "issued_before_refused_later": (-1, SAME_SECOND_REFUSAL_SECONDS + 600, True),
    "issued_long_before_refused": (-3000, 1.0, True),
    "same_second_refused_at_once": (0, 0.2, True),
    "same_second_refused_just_before_the_window_ends": (
        0,
        SAME_SECOND_REFUSAL_SECONDS - 0.01,
        True,
    ),
    "same_second_accepted_when_the_window_ends": (0, SAME_SECOND_REFUSAL_SECONDS, False),
    "same_second_accepted_minutes_later": (0, 600, False),
    "same_second_accepted_near_the_end_of_the_tokens_life": (0, 3500, False),
    "issued_after_accepted": (1, 1.5, False),
}


@pytest.mark.parametrize(("iat", "now", "refused"), CASES.values(), ids=CASES.keys())
def test_refusal_after_a_revocation_by_this_instance(iat: int, now: float, refused: bool) -> None:
    clock = Clock(REVOKED_AT + now)
    sessions = checker(clock)
    if refused:
        with pytest.raises(TokenRevoked):
            sessions.check(UID, REVOKED_AT + iat, fresh=False)
    else:
        assert sessions.check(UID, REVOKED_AT + iat, fresh=False).uid == UID


@pytest.mark.parametrize("fresh", [False, True], ids=["plain", "privileged"])
def test_a_sign_in_in_the_revocation_second_works_once_the_window_passed(fresh: bool) -> None:
    clock = Clock(REVOKED_AT + 0.5)
    sessions = checker(clock)
    new_sign_in = REVOKED_AT
    with pytest.raises(TokenRevoked):
        sessions.check(UID, new_sign_in, fresh=fresh)
    clock.now = REVOKED_AT + SAME_SECOND_REFUSAL_SECONDS
    assert sessions.check(UID, new_sign_in, fresh=fresh).uid == UID
    with pytest.raises(TokenRevoked):  # while a token from before stays refused
        sessions.check(UID, REVOKED_AT - 1, fresh=fresh)


def test_a_later_revocation_moves_the_window() -> None:
    clock = Clock(REVOKED_AT + SAME_SECOND_REFUSAL_SECONDS + 10)
    sessions = checker(clock)
    assert sessions.check(UID, REVOKED_AT, fresh=True).uid == UID
    later = REVOKED_AT + SAME_SECOND_REFUSAL_SECONDS + 10
    sessions.note_revoked(UID, later)
    with pytest.raises(TokenRevoked):
        sessions.check(UID, REVOKED_AT, fresh=True)
    with pytest.raises(TokenRevoked):
        sessions.check(UID, later, fresh=True)
    sessions.note_revoked(UID, REVOKED_AT)  # an older one never moves it back
    with pytest.raises(TokenRevoked):
        sessions.check(UID, later, fresh=True)
