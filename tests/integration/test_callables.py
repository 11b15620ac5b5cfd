"""The callables over HTTP on the emulators: each kind of refusal of the real endpoints
arrives as its canonical status, HTTP status and ``details.code``, a refused call changes
nothing, and a call returns what REST returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from handlers import CALLABLES, callable_functions
from tests.integration.api import Api
from tests.integration.emulator import EmulatorUser, MakeUser, bearer


@dataclass(frozen=True)
class World:
    owner: EmulatorUser
    viewer: EmulatorUser
    stranger: EmulatorUser
    admin: EmulatorUser
    unverified: EmulatorUser
    project: dict[str, Any]


@pytest.fixture
def world(api: Api, make_user: MakeUser) -> World:
    owner, viewer, stranger = make_user(), make_user(), make_user()
    admin, unverified = make_user(roles=["admin"]), make_user(verified=False)
    project = api.create_project(owner, "Callable")
    project = api.share(owner, project["id"], viewer.uid, "viewer")
    return World(owner, viewer, stranger, admin, unverified, project)


#: The callable function that serves each operation (``handlers.CALLABLES``): admin's
#: at ``/admincall/``, the others' (and unknown ones) at ``/call/``.
CALLABLE_OF = {
    endpoint.operation_id: name
    for name in CALLABLES
    for function in callable_functions(name)
    for endpoint in function.endpoints
}


def call(client: FlaskClient, operation: str, data: Any, user: EmulatorUser | None) -> TestResponse:
    headers = bearer(user) if user else {}
    prefix = CALLABLE_OF.get(operation, "call")
    return client.post(f"/{prefix}/{operation}", json={"data": data}, headers=headers)


Case = Callable[[World], tuple[str, Any, EmulatorUser | None]]
P = "project_id"

#: (id, the call, HTTP status, canonical status, details.code)
REFUSALS: list[tuple[str, Case, int, str, str]] = [
    ("no_token", lambda w: ("get_me", None, None), 401, "UNAUTHENTICATED", "missing_token"),
    (
        "stranger_reads",
        lambda w: ("get_project", {P: w.project["id"]}, w.stranger),
        404,
        "NOT_FOUND",
        "not_found",
    ),
    (
        "viewer_renames",
        lambda w: ("patch_project", {P: w.project["id"], "name": "x"}, w.viewer),
        403,
        "PERMISSION_DENIED",
        "forbidden",
    ),
    (
        "unverified_creates",
        lambda w: ("create_project", {"name": "x"}, w.unverified),
        403,
        "PERMISSION_DENIED",
        "email_not_verified",
    ),
    (
        "stale_if_match",
        lambda w: ("patch_project", {P: w.project["id"], "name": "x", "ifMatch": 1}, w.owner),
        409,
        "ABORTED",
        "precondition_failed",
    ),
    (
        "foreign_if_match",
        lambda w: ("delete_project", {P: w.project["id"], "ifMatch": "W/1"}, w.owner),
        409,
        "ABORTED",
        "precondition_failed",
    ),
    (
        "missing_name",
        lambda w: ("create_project", {}, w.owner),
        400,
        "INVALID_ARGUMENT",
        "validation_error",
    ),
    (
        "limit_out_of_range",
        lambda w: ("list_projects", {"limit": 0}, w.owner),
        400,
        "INVALID_ARGUMENT",
        "validation_error",
    ),
    (
        "forged_cursor",
        lambda w: ("list_projects", {"cursor": "not-ours"}, w.owner),
        400,
        "INVALID_ARGUMENT",
        "invalid_cursor",
    ),
    (
        "unknown_uid",
        lambda w: ("put_member", {P: w.project["id"], "uid": "nobody", "role": "editor"}, w.owner),
        400,
        "FAILED_PRECONDITION",
        "unknown_user",
    ),
    (
        "assignee_not_member",
        lambda w: (
            "create_task",
            {P: w.project["id"], "title": "t", "assigneeId": w.stranger.uid},
            w.owner,
        ),
        400,
        "FAILED_PRECONDITION",
        "assignee_not_member",
    ),
    (
        "unknown_email",
        lambda w: (
            "share_by_email",
            {P: w.project["id"], "email": "nobody@example.com", "role": "viewer"},
            w.owner,
        ),
        404,
        "NOT_FOUND",
        "user_not_found",
    ),
    (
        "non_admin_finds_users",
        lambda w: ("find_user", {"email": w.owner.email}, w.owner),
        403,
        "PERMISSION_DENIED",
        "forbidden",
    ),
    (
        "self_demotion",
        lambda w: ("put_roles", {"uid": w.admin.uid, "roles": []}, w.admin),
        400,
        "FAILED_PRECONDITION",
        "self_demotion",
    ),
    (
        "unknown_operation",
        lambda w: ("drop_database", {}, w.owner),
        404,
        "NOT_FOUND",
        "not_found",
    ),
]


@pytest.mark.parametrize(
    ("case", "http_status", "status", "code"),
    [pytest.param(case, h, s, c, id=name) for name, case, h, s, c in REFUSALS],
)
def test_refusals_arrive_as_callable_errors_and_change_nothing(
    client: FlaskClient, world: World, case: Case, http_status: int, status: str, code: str
) -> None:
    before = client.get(f"/projects/{world.project['id']}", headers=bearer(world.owner))
    operation, data, user = case(world)
    response = call(client, operation, data, user)
    assert response.status_code == http_status, response.get_json()
    error = response.get_json()["error"]
    assert (error["status"], error["details"]["code"]) == (status, code)
    after = client.get(f"/projects/{world.project['id']}", headers=bearer(world.owner))
    assert after.get_json() == before.get_json()


def test_a_reused_idempotency_key_is_already_exists(client: FlaskClient, world: World) -> None:
    first = call(client, "create_project", {"name": "a", "idempotencyKey": "k1"}, world.owner)
    again = call(client, "create_project", {"name": "a", "idempotencyKey": "k1"}, world.owner)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json()["result"]["id"] == first.get_json()["result"]["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = call(client, "create_project", {"name": "b", "idempotencyKey": "k1"}, world.owner)
    assert other.status_code == 409
    error = other.get_json()["error"]
    assert (error["status"], error["details"]["code"]) == (
        "ALREADY_EXISTS",
        "idempotency_key_reused",
    )


def test_a_call_returns_what_rest_returns(client: FlaskClient, world: World) -> None:
    project_id = world.project["id"]
    rest = client.get(f"/projects/{project_id}", headers=bearer(world.viewer))
    called = call(client, "get_project", {P: project_id}, world.viewer)
    assert called.status_code == 200
    assert called.get_json() == {"result": rest.get_json()}
    assert called.headers["ETag"] == rest.headers["ETag"]
    listed = call(client, "list_projects", {"limit": 5}, world.viewer).get_json()["result"]
    assert [p["id"] for p in listed["items"]] == [project_id]


def test_tasks_through_callables(client: FlaskClient, world: World) -> None:
    project_id = world.project["id"]
    task = call(
        client,
        "create_task",
        {P: project_id, "title": "Write", "assigneeId": world.viewer.uid},
        world.owner,
    ).get_json()["result"]
    done = call(
        client,
        "patch_task",
        {P: project_id, "task_id": task["id"], "done": True, "ifMatch": task["version"]},
        world.viewer,  # the assignee may tick it
    ).get_json()["result"]
    assert done["done"] is True
    open_tasks = call(client, "list_tasks", {P: project_id, "done": False}, world.owner)
    assert open_tasks.get_json()["result"]["items"] == []
    deleted = call(client, "delete_task", {P: project_id, "task_id": task["id"]}, world.owner)
    assert deleted.get_json() == {"result": None}


def test_a_role_change_is_audited_with_the_calls_request_id(
    client: FlaskClient, world: World
) -> None:
    changed = call(client, "put_roles", {"uid": world.owner.uid, "roles": ["auditor"]}, world.admin)
    assert changed.get_json()["result"]["roles"] == ["auditor"]
    audit = call(client, "list_audit", {"limit": 5}, world.admin).get_json()["result"]["items"]
    entry = next(e for e in audit if e["action"] == "roles.set")
    assert entry["target"] == world.owner.uid
    assert entry["requestId"] == changed.headers["X-Request-Id"]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/call/put_roles", {"roles": ["admin"]}),
        ("/call/get_roles", {}),
        ("/admincall/get_me", None),
        ("/admincall/create_project", {"name": "x"}),
    ],
    ids=["call_put_roles", "call_get_roles", "admincall_get_me", "admincall_create_project"],
)
def test_each_callable_function_serves_only_its_own_operations(
    client: FlaskClient, world: World, path: str, data: dict[str, Any] | None
) -> None:
    """admin's operations are not served by ``call`` (whose identity holds none of
    admin's roles), nor the others' by ``admincall``: NOT_FOUND, nothing changed."""
    roles = f"/admin/users/{world.stranger.uid}/roles"
    before = client.get(roles, headers=bearer(world.admin)).get_json()
    projects = client.get("/projects", headers=bearer(world.admin)).get_json()
    if data is not None and path.endswith("_roles"):
        data = {"uid": world.stranger.uid, **data}
    response = client.post(path, json={"data": data}, headers=bearer(world.admin))
    assert response.status_code == 404, response.get_json()
    error = response.get_json()["error"]
    assert (error["status"], error["details"]["code"]) == ("NOT_FOUND", "not_found")
    assert client.get(roles, headers=bearer(world.admin)).get_json() == before
    assert client.get("/projects", headers=bearer(world.admin)).get_json() == projects
