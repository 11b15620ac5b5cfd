"""The task rows of the policy table over HTTP, on the emulators, and the task API's
contract (201 + Location + ETag, If-Match, filters, pages, cascade on project delete).

Refusals must leave the task exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.integration.api import Api, error_code
from tests.integration.emulator import EmulatorUser, FirestoreEmulator, MakeUser
from tests.policy_table import (
    ALLOWED,
    FORBIDDEN,
    HIDDEN,
    TASK_CASES,
    TaskActor,
    TaskCase,
    TaskOp,
    task_assignee,
)


@dataclass(frozen=True)
class World:
    api: Api
    users: dict[TaskActor, EmulatorUser]
    project: dict[str, Any]
    task: dict[str, Any]

    @property
    def owner(self) -> EmulatorUser:
        return self.users[TaskActor.OWNER]

    def task_path(self, task_id: str | None = None) -> str:
        return f"/projects/{self.project['id']}/tasks/{task_id or self.task['id']}"


def make_world(api: Api, make_user: MakeUser, *, assignee: TaskActor) -> World:
    users = {actor: make_user() for actor in TaskActor}
    users[TaskActor.ADMIN] = make_user(roles=["admin"])
    users[TaskActor.AUDITOR] = make_user(roles=["auditor"])
    owner = users[TaskActor.OWNER]
    project = api.create_project(owner)
    pid = project["id"]
    api.share(owner, pid, users[TaskActor.EDITOR].uid, "editor")
    api.share(owner, pid, users[TaskActor.VIEWER].uid, "viewer")
    api.share(owner, pid, users[TaskActor.ASSIGNEE].uid, "viewer")
    api.share(owner, pid, users[TaskActor.REMOVED_ASSIGNEE].uid, "viewer")
    body = {"title": "Write the spec", "assigneeId": users[assignee].uid}
    created = api.call("POST", f"/projects/{pid}/tasks", users[TaskActor.EDITOR], body)
    assert created.status_code == 201, created.get_json()
    removed = users[TaskActor.REMOVED_ASSIGNEE].uid
    gone = api.call("DELETE", f"/projects/{pid}/members/{removed}", owner)
    assert gone.status_code == 200, gone.get_json()
    return World(api, users, gone.get_json(), created.get_json())


def perform(world: World, actor: TaskActor, op: TaskOp) -> TestResponse:
    user, call = world.users[actor], world.api.call
    match op:
        case TaskOp.READ:
            return call("GET", world.task_path(), user)
        case TaskOp.LIST:
            return call("GET", f"/projects/{world.project['id']}/tasks", user)
        case TaskOp.CREATE:
            return call("POST", f"/projects/{world.project['id']}/tasks", user, {"title": "New"})
        case TaskOp.RENAME:
            return call("PATCH", world.task_path(), user, {"title": "Renamed"})
        case TaskOp.ASSIGN:
            editor = world.users[TaskActor.EDITOR].uid
            return call("PATCH", world.task_path(), user, {"assigneeId": editor})
        case TaskOp.SET_DONE:
            return call("PATCH", world.task_path(), user, {"done": True})
        case TaskOp.DELETE:
            return call("DELETE", world.task_path(), user)
    raise AssertionError(op)


EXPECTED_REFUSAL = {FORBIDDEN: (403, "forbidden"), HIDDEN: (404, "not_found")}


@pytest.mark.parametrize("case", TASK_CASES, ids=lambda case: case.id)
def test_task_table_over_http(client: FlaskClient, make_user: MakeUser, case: TaskCase) -> None:
    world = make_world(Api(client), make_user, assignee=task_assignee(case.actor))
    response = perform(world, case.actor, case.op)
    if case.outcome == ALLOWED:
        assert response.status_code in (200, 201, 204), response.get_json()
        return
    assert (response.status_code, error_code(response)) == EXPECTED_REFUSAL[case.outcome]
    after = world.api.call("GET", world.task_path(), world.owner)
    assert after.get_json() == world.task


# --- the contract beyond the table ----------------------------------------------------


@pytest.fixture
def world(api: Api, make_user: MakeUser) -> World:
    return make_world(api, make_user, assignee=TaskActor.ASSIGNEE)


def test_create_answers_201_with_location_etag_and_server_fields(world: World) -> None:
    pid = world.project["id"]
    editor = world.users[TaskActor.EDITOR]
    response = world.api.call("POST", f"/projects/{pid}/tasks", editor, {"title": "  Ship  "})
    body = response.get_json()
    assert response.status_code == 201
    assert response.headers["Location"] == f"/projects/{pid}/tasks/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body | {"id": "-", "createdAt": "-", "updatedAt": "-"} == {
        "id": "-",
        "projectId": pid,
        "title": "Ship",
        "notes": "",
        "done": False,
        "assigneeId": None,
        "createdBy": editor.uid,
        "createdAt": "-",
        "updatedAt": "-",
        "version": 1,
    }


@pytest.mark.parametrize(
    "field", ["id", "projectId", "createdBy", "createdAt", "updatedAt", "version"]
)
def test_clients_never_set_server_fields(world: World, field: str) -> None:
    pid = world.project["id"]
    body = {"title": "x", field: "y"}
    created = world.api.call("POST", f"/projects/{pid}/tasks", world.owner, body)
    patched = world.api.call("PATCH", world.task_path(), world.owner, {field: "y"})
    for response in (created, patched):
        assert (response.status_code, error_code(response)) == (400, "validation_error")
        assert response.get_json()["error"]["details"] == {
            field: "is set by the server and cannot be sent"
        }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "x", "notes": "n" * 5001}, "notes"),
        ({"title": "x", "done": "yes"}, "done"),
        ({"title": "x", "assigneeId": 5}, "assigneeId"),
    ],
    ids=["empty_title", "blank_title", "long_title", "long_notes", "done_not_bool", "uid_not_str"],
)
def test_invalid_task_bodies_are_400(world: World, body: dict[str, Any], field: str) -> None:
    pid = world.project["id"]
    response = world.api.call("POST", f"/projects/{pid}/tasks", world.owner, body)
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    assert field in response.get_json()["error"]["details"]


def test_assignee_must_be_a_current_member(world: World, make_user: MakeUser) -> None:
    pid = world.project["id"]
    outsider = make_user()
    removed = world.users[TaskActor.REMOVED_ASSIGNEE]
    for uid in (outsider.uid, removed.uid):
        created = world.api.call(
            "POST", f"/projects/{pid}/tasks", world.owner, {"title": "x", "assigneeId": uid}
        )
        patched = world.api.call("PATCH", world.task_path(), world.owner, {"assigneeId": uid})
        for response in (created, patched):
            assert (response.status_code, error_code(response)) == (400, "assignee_not_member")
    assert world.api.call("GET", world.task_path(), world.owner).get_json() == world.task


def test_if_match_guards_task_writes(world: World) -> None:
    editor = world.users[TaskActor.EDITOR]
    stale = {"If-Match": '"7"'}
    patched = world.api.call("PATCH", world.task_path(), editor, {"title": "x"}, stale)
    deleted = world.api.call("DELETE", world.task_path(), editor, headers=stale)
    for response in (patched, deleted):
        assert (response.status_code, error_code(response)) == (412, "precondition_failed")
    fresh = {"If-Match": '"1"'}
    ok = world.api.call("PATCH", world.task_path(), editor, {"title": "x"}, fresh)
    assert (ok.status_code, ok.headers["ETag"], ok.get_json()["version"]) == (200, '"2"', 2)


def test_unassign_with_null(world: World) -> None:
    response = world.api.call("PATCH", world.task_path(), world.owner, {"assigneeId": None})
    assert response.status_code == 200
    assert response.get_json()["assigneeId"] is None


def test_list_filters_and_pages_newest_first(world: World) -> None:
    pid, api, owner = world.project["id"], world.api, world.owner
    viewer = world.users[TaskActor.VIEWER]
    made = [world.task["id"]]
    for n in range(4):
        body = {"title": f"t{n}", "done": n % 2 == 0, "assigneeId": viewer.uid if n < 2 else None}
        made.append(api.call("POST", f"/projects/{pid}/tasks", owner, body).get_json()["id"])
    ids: list[str] = []
    cursor: str | None = None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = api.call("GET", f"/projects/{pid}/tasks{query}", viewer).get_json()
        ids += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert ids == list(reversed(made))

    def listed(query: str) -> list[str]:
        response = api.call("GET", f"/projects/{pid}/tasks?{query}", viewer)
        assert response.status_code == 200, response.get_json()
        return [item["title"] for item in response.get_json()["items"]]

    assert listed("done=true") == ["t2", "t0"]
    assert listed("done=false") == ["t3", "t1", "Write the spec"]
    assert listed(f"assigneeId={viewer.uid}") == ["t1", "t0"]
    assert listed(f"done=true&assigneeId={viewer.uid}") == ["t0"]


@pytest.mark.parametrize(
    "query", ["done=yes", "limit=0", "limit=101", "cursor=@@", "assigneeId=a%20b"]
)
def test_bad_list_queries_are_400(world: World, query: str) -> None:
    pid = world.project["id"]
    response = world.api.call("GET", f"/projects/{pid}/tasks?{query}", world.owner)
    assert response.status_code == 400
    assert error_code(response) in ("validation_error", "invalid_cursor")


def test_removed_member_loses_task_access_at_once(world: World) -> None:
    pid, api = world.project["id"], world.api
    assignee = world.users[TaskActor.ASSIGNEE]
    assert api.call("PATCH", world.task_path(), assignee, {"done": True}).status_code == 200
    removed = api.call("DELETE", f"/projects/{pid}/members/{assignee.uid}", world.owner)
    assert removed.status_code == 200
    for response in (
        api.call("GET", world.task_path(), assignee),
        api.call("GET", f"/projects/{pid}/tasks", assignee),
        api.call("PATCH", world.task_path(), assignee, {"done": False}),
    ):
        assert (response.status_code, error_code(response)) == (404, "not_found")


def test_deleting_a_project_deletes_its_tasks(
    world: World, firestore_emulator: FirestoreEmulator
) -> None:
    pid, api = world.project["id"], world.api
    for n in range(3):
        api.call("POST", f"/projects/{pid}/tasks", world.owner, {"title": f"t{n}"})
    path = f"projects/{pid}/tasks/{world.task['id']}"
    assert firestore_emulator.get_document(path) is not None
    assert api.call("DELETE", f"/projects/{pid}", world.owner).status_code == 204
    assert firestore_emulator.get_document(path) is None
    listed = firestore_emulator.request("GET", f"projects/{pid}/tasks").json()
    assert listed.get("documents", []) == []
    gone = api.call("GET", world.task_path(), world.owner)
    assert (gone.status_code, error_code(gone)) == (404, "not_found")


@pytest.mark.parametrize("task_id", ["short", "a" * 21, "__x__", "a.b"])
def test_impossible_task_ids_are_404(world: World, task_id: str) -> None:
    response = world.api.call("GET", world.task_path(task_id), world.owner)
    assert (response.status_code, error_code(response)) == (404, "not_found")
