"""``auth.revocation`` with recorded sign-outs: a user's latest recorded "sign out
everywhere" ends every session begun before it, on every instance, before (and
whether or not) Firebase Auth revokes the refresh tokens.

The record is compared with the session's ``auth_time``: a token refreshed after the
sign-out from a session begun before it carries a new ``iat`` but the old
``auth_time``, and is refused. The record is cached with the user record, in the same
bounded cache for the same time (no extra read on a warm cache).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from auth.revocation import RevocationChecker
from core.errors import TokenRevoked, Unavailable
from tests.unit.test_tokens_production import UID, FakeDirectory, user

SIGNED_OUT = 1_800_000_000  # the second of the recorded sign-out


class Records:
    """The recorded sign-outs (``auth.revocation.SignOutRecords``): seconds by uid;
    counts lookups."""

    def __init__(self, second: int | None = None) -> None:
        self.seconds: dict[str, int] = {} if second is None else {UID: second}
        self.calls = 0
        self.down = False

    def latest(self, uid: str) -> int | None:
        self.calls += 1
        if self.down:
            raise Unavailable()
        return self.seconds.get(uid)

    def record(self, uid: str, at: int, *, now: datetime) -> str:
        if self.down:
            raise Unavailable()
        self.seconds[uid] = max(at, self.seconds.get(uid, at))
        return f"signOuts/{uid}/signOutEvents/{at:012d}"


class Directory(FakeDirectory):
    """Also notes revocations (which recording a sign-out must not make)."""

    def __init__(self) -> None:
        super().__init__(user())
        self.revoked: list[str] = []

    def revoke_refresh_tokens(self, uid: str) -> int:
        self.revoked.append(uid)
        return SIGNED_OUT


def checker(
    records: Records | None, *, max_age_seconds: int = 60, directory: Directory | None = None
) -> RevocationChecker:
    return RevocationChecker(
        directory or Directory(),
        max_age_seconds=max_age_seconds,
        max_entries=100,
        clock=lambda: SIGNED_OUT + 10.0,
        sign_outs=None if records is None else (lambda: records),
    )


# (session began, token issued, relative to the recorded sign-out; refused)
CASES: dict[str, tuple[int | None, int, bool]] = {
    "session_from_before_refused": (-600, -60, True),
    "token_refreshed_after_the_sign_out_from_an_old_session_refused": (-600, 5, True),
    "session_begun_in_the_sign_out_second_accepted": (0, 0, False),
    "session_begun_after_accepted": (3, 4, False),
    "no_auth_time_falls_back_to_iat_before_refused": (None, -1, True),
    "no_auth_time_falls_back_to_iat_after_accepted": (None, 1, False),
}


@pytest.mark.parametrize(("began", "issued", "refused"), CASES.values(), ids=CASES.keys())
def test_a_recorded_sign_out_ends_the_sessions_begun_before_it(
    began: int | None, issued: int, refused: bool
) -> None:
    sessions = checker(Records(SIGNED_OUT))
    auth_time = None if began is None else SIGNED_OUT + began
    for fresh in (False, True):
        if refused:
            with pytest.raises(TokenRevoked):
                sessions.check(UID, SIGNED_OUT + issued, fresh=fresh, auth_time=auth_time)
        else:
            record = sessions.check(UID, SIGNED_OUT + issued, fresh=fresh, auth_time=auth_time)
            assert record.uid == UID


def test_without_a_record_nothing_is_refused() -> None:
    sessions = checker(Records())
    assert sessions.check(UID, 1, fresh=True, auth_time=1).uid == UID


def test_the_record_is_cached_with_the_user_record_and_read_fresh_when_privileged() -> None:
    records = Records()
    directory = Directory()
    sessions = checker(records, directory=directory)
    old_session = SIGNED_OUT - 100
    assert sessions.check(UID, old_session, fresh=False, auth_time=old_session).uid == UID
    records.seconds[UID] = SIGNED_OUT  # another instance records a sign-out
    # An ordinary request may use the cached answer (the documented staleness bound),
    # with no read of either the user record or the sign-outs ...
    assert sessions.check(UID, old_session, fresh=False, auth_time=old_session).uid == UID
    assert (records.calls, directory.calls) == (1, 1)
    # ... a privileged one reads both again, and the refusal is cached for ordinary ones.
    with pytest.raises(TokenRevoked):
        sessions.check(UID, old_session, fresh=True, auth_time=old_session)
    with pytest.raises(TokenRevoked):
        sessions.check(UID, old_session, fresh=False, auth_time=old_session)
    assert (records.calls, directory.calls) == (2, 2)


def test_with_caching_off_every_check_reads_the_record() -> None:
    records = Records()
    sessions = checker(records, max_age_seconds=0)
    for _ in range(3):
        sessions.check(UID, SIGNED_OUT, fresh=False, auth_time=SIGNED_OUT)
    assert records.calls == 3


def test_unreadable_records_fail_closed_and_are_not_cached() -> None:
    records = Records()
    records.down = True
    sessions = checker(records)
    with pytest.raises(Unavailable):
        sessions.check(UID, SIGNED_OUT, fresh=False, auth_time=SIGNED_OUT)
    records.down = False
    assert sessions.check(UID, SIGNED_OUT, fresh=False, auth_time=SIGNED_OUT).uid == UID
    assert records.calls == 2


def test_recording_a_sign_out_refuses_the_asking_token_at_once_and_revokes_nothing() -> None:
    records = Records()
    directory = Directory()
    sessions = checker(records, directory=directory)
    began = SIGNED_OUT - 100
    assert sessions.check(UID, began, fresh=False, auth_time=began).uid == UID  # cached
    assert sessions.record_sign_out(UID) == SIGNED_OUT + 10
    assert records.seconds[UID] == SIGNED_OUT + 10
    with pytest.raises(TokenRevoked):
        sessions.check(UID, began, fresh=False, auth_time=began)
    assert directory.revoked == [], "the user record is not changed"
    # Another instance, with its own cache: refused from the record alone.
    with pytest.raises(TokenRevoked):
        checker(records).check(UID, SIGNED_OUT + 5, fresh=False, auth_time=began)


def test_an_unrecorded_sign_out_signs_nobody_out() -> None:
    records = Records()
    sessions = checker(records)
    began = SIGNED_OUT - 100
    records.down = True
    with pytest.raises(Unavailable):
        sessions.record_sign_out(UID)
    records.down = False
    assert sessions.check(UID, began, fresh=False, auth_time=began).uid == UID


def test_recording_needs_the_records() -> None:
    with pytest.raises(RuntimeError, match="expected recorded sign-outs"):
        checker(None).record_sign_out(UID)
