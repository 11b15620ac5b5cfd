"""The ownership table over HTTP, on the emulators: every (actor, action) row.

Refusals must leave the project exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.integration.api import Api, error_code
from tests.integration.emulator import EmulatorUser, MakeUser
from tests.policy_table import ALLOWED, CASES, FORBIDDEN, HIDDEN, Actor, Case, Op, removal_target


@dataclass(frozen=True)
class World:
    api: Api
    users: dict[Actor, EmulatorUser]
    outsider: EmulatorUser  # someone to add as a new member
    project: dict[str, Any]


@pytest.fixture
def world(client: FlaskClient, make_user: MakeUser) -> World:
    api = Api(client)
    users = {
        Actor.OWNER: make_user(),
        Actor.EDITOR: make_user(),
        Actor.VIEWER: make_user(),
        Actor.STRANGER: make_user(),
        Actor.ADMIN: make_user(roles=["admin"]),
        Actor.AUDITOR: make_user(roles=["auditor"]),
    }
    owner = users[Actor.OWNER]
    project = api.create_project(owner)
    api.share(owner, project["id"], users[Actor.EDITOR].uid, "editor")
    project = api.share(owner, project["id"], users[Actor.VIEWER].uid, "viewer")
    return World(api, users, make_user(), project)


def perform(world: World, actor: Actor, op: Op) -> TestResponse:
    user, pid = world.users[actor], world.project["id"]
    call = world.api.call
    match op:
        case Op.CREATE:
            return call("POST", "/projects", user, {"name": "Mine"})
        case Op.READ:
            return call("GET", f"/projects/{pid}", user)
        case Op.UPDATE:
            return call("PATCH", f"/projects/{pid}", user, {"name": "Renamed"})
        case Op.ADD_MEMBER:
            target = world.outsider.uid
            return call("PUT", f"/projects/{pid}/members/{target}", user, {"role": "viewer"})
        case Op.REMOVE_OTHER:
            target = world.users[removal_target(actor)].uid
            return call("DELETE", f"/projects/{pid}/members/{target}", user)
        case Op.LEAVE:
            return call("DELETE", f"/projects/{pid}/members/{user.uid}", user)
        case Op.TRANSFER:
            new_owner = world.users[Actor.EDITOR].uid
            return call("POST", f"/projects/{pid}/transfer", user, {"ownerId": new_owner})
        case Op.DELETE:
            return call("DELETE", f"/projects/{pid}", user)
    raise AssertionError(op)


EXPECTED_REFUSAL = {FORBIDDEN: (403, "forbidden"), HIDDEN: (404, "not_found")}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_ownership_table_over_http(world: World, case: Case) -> None:
    owner = world.users[Actor.OWNER]
    response = perform(world, case.actor, case.op)
    if case.outcome == ALLOWED:
        assert response.status_code in (200, 201, 204), response.get_json()
        return
    assert (response.status_code, error_code(response)) == EXPECTED_REFUSAL[case.outcome]
    # Nothing changed: the owner still sees the very same document.
    after = world.api.project_as(owner, world.project["id"])
    assert after.get_json() == world.project
