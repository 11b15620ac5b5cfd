"""Concurrent writes: every read-check-write commits only if the project is still as
it was read (else it is decided again on a fresh read), so races resolve to some
serial order and never to a lost update or a stale authorization."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from werkzeug.test import TestResponse

from app import build_container
from auth.principal import Principal
from core.errors import PreconditionFailed
from services.project_changes import MemberRole
from services.projects import ProjectService
from tests.integration.api import Api
from tests.integration.emulator import EmulatorUser, MakeUser


def in_parallel(api: Api, calls: list[Callable[[Api], TestResponse]]) -> list[TestResponse]:
    """Run each call on its own thread and test client, all at once."""
    app = api.client.application
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(Api(app.test_client())), calls))


def test_concurrent_member_additions_all_survive(api: Api, make_user: MakeUser) -> None:
    owner = make_user()
    newcomers = [make_user() for _ in range(6)]
    pid = api.create_project(owner)["id"]

    def add(user: EmulatorUser) -> Callable[[Api], TestResponse]:
        return lambda a: a.call(
            "PUT", f"/projects/{pid}/members/{user.uid}", owner, {"role": "viewer"}
        )

    responses = in_parallel(api, [add(user) for user in newcomers])
    assert [r.status_code for r in responses] == [200] * len(newcomers)
    final = api.project_as(owner, pid).get_json()
    assert sorted(final["viewers"]) == sorted(user.uid for user in newcomers)
    assert final["version"] == 1 + len(newcomers)


def test_a_double_delete_deletes_once(api: Api, make_user: MakeUser) -> None:
    owner = make_user()
    pid = api.create_project(owner)["id"]
    responses = in_parallel(api, [lambda a: a.call("DELETE", f"/projects/{pid}", owner)] * 4)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [204, 404, 404, 404]


def test_concurrent_edits_with_one_if_match_one_wins(api: Api, make_user: MakeUser) -> None:
    owner = make_user()
    pid = api.create_project(owner)["id"]

    def edit(name: str) -> Callable[[Api], TestResponse]:
        return lambda a: a.call(
            "PATCH", f"/projects/{pid}", owner, {"name": name}, headers={"If-Match": '"1"'}
        )

    responses = in_parallel(api, [edit(f"n{i}") for i in range(4)])
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1
    assert sorted(r.status_code for r in responses if r.status_code != 200) == [412] * 3
    assert api.project_as(owner, pid).get_json()["name"] == winners[0].get_json()["name"]


def test_an_unshare_is_never_overtaken_by_the_edit_it_races(api: Api, make_user: MakeUser) -> None:
    """If the edit succeeds it must come before the unshare in the serial order."""
    owner = make_user()
    for round_ in range(4):
        editor = make_user()
        pid = api.create_project(owner, f"race {round_}")["id"]
        api.share(owner, pid, editor.uid, "editor")
        unshare, edit = in_parallel(api, race_calls(owner, editor, pid))
        assert unshare.status_code == 200
        unshared_at: int = unshare.get_json()["version"]
        if edit.status_code == 200:
            assert edit.get_json()["version"] < unshared_at, "an edit landed after the unshare"
        else:
            assert edit.status_code == 404  # the editor can no longer even see it
        final: dict[str, Any] = api.project_as(owner, pid).get_json()
        assert editor.uid not in final["editors"]
        assert final["version"] == (4 if edit.status_code == 200 else 3)


def race_calls(
    owner: EmulatorUser, editor: EmulatorUser, pid: str
) -> list[Callable[[Api], TestResponse]]:
    return [
        lambda a: a.call("DELETE", f"/projects/{pid}/members/{editor.uid}", owner),
        lambda a: a.call("PATCH", f"/projects/{pid}", editor, {"name": "edited"}),
    ]


def service_with_a_write_in_between(write: Callable[[], None]) -> ProjectService:
    """A service whose membership check (it runs between the read and the commit of
    ``put_member``) first lets another request write the same project, once."""

    def user_exists(uid: str) -> bool:
        write()
        return True

    return dataclasses.replace(build_container().projects, user_exists=user_exists)


def as_principal(user: EmulatorUser) -> Principal:
    return Principal(user.uid, email=user.email, email_verified=True)


def test_a_member_added_between_read_and_commit_is_kept(api: Api, make_user: MakeUser) -> None:
    owner, first, second = make_user(), make_user(), make_user()
    pid = api.create_project(owner)["id"]

    def share() -> None:
        api.share(owner, pid, second.uid, "editor")

    service = service_with_a_write_in_between(share)

    updated = service.put_member(
        as_principal(owner), pid, first.uid, MemberRole.VIEWER, if_match=None
    )

    # Recomputed on the project with ``second`` in it: both survive.
    assert (updated.editors, updated.viewers, updated.version) == ((second.uid,), (first.uid,), 3)
    stored = api.project_as(owner, pid).get_json()
    assert (stored["editors"], stored["viewers"], stored["version"]) == (
        [second.uid],
        [first.uid],
        3,
    )


def test_an_if_match_write_that_lost_the_race_is_refused_and_writes_nothing(
    api: Api, make_user: MakeUser
) -> None:
    owner, member = make_user(), make_user()
    pid = api.create_project(owner)["id"]

    def rename() -> None:
        response = api.call("PATCH", f"/projects/{pid}", owner, {"name": "renamed"})
        assert response.status_code == 200

    service = service_with_a_write_in_between(rename)
    with pytest.raises(PreconditionFailed):
        service.put_member(as_principal(owner), pid, member.uid, MemberRole.VIEWER, if_match=1)

    stored = api.project_as(owner, pid).get_json()
    assert (stored["name"], stored["viewers"], stored["version"]) == ("renamed", [], 2)
