"""Per-user abuse limits on the emulators: over budget is 429 before any Auth backend or
Firestore call, and the refused request changes nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

from app import build_container
from auth import UserDirectory, UserRecord
from core.settings import Settings
from tests.entry_points import serving
from tests.integration.api import Api, error_code
from tests.integration.emulator import MakeUser


class CountingDirectory(UserDirectory):
    """The real directory, counting the user-record reads (revocation checks)."""

    def __init__(self, inner: UserDirectory) -> None:
        self.__dict__.update(inner.__dict__)
        self.reads = 0

    def get(self, uid: str) -> UserRecord:
        self.reads += 1
        return super().get(uid)


def test_writes_over_the_user_budget_are_429_before_any_backend_call(
    make_user: MakeUser,
) -> None:
    settings = dataclasses.replace(
        Settings.from_env(),
        # A burst of 10 (the minimum), then one a minute: no token comes back mid-test.
        rate_limit_user_writes_per_minute=1,
        revocation_check_max_age_seconds=0,  # every request reads the user record
    )
    plain = build_container(settings)
    directory = CountingDirectory(plain.directory)
    api = Api(serving("local", build_container(settings, directory=directory)).test_client())
    user = make_user()

    statuses = [
        api.call("POST", "/projects", user, {"name": f"p{n}"}).status_code for n in range(10)
    ]
    assert statuses == [201] * 10
    reads = directory.reads
    refused = api.call("POST", "/projects", user, {"name": "one too many"})
    assert (refused.status_code, error_code(refused)) == (429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    assert directory.reads == reads, "refused before the revocation check's Auth call"
    listed: Any = api.call("GET", "/projects?limit=100", user).get_json()
    assert len(listed["items"]) == 10, "the refused write created nothing"
    # Reads have their own budget.
    assert api.call("GET", "/me", user).status_code == 200
