"""Concurrent writes: every read-check-write is one transaction, so races resolve
to some serial order and never to a lost update or a stale authorization."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from werkzeug.test import TestResponse

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
