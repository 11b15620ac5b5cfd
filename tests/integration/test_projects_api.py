"""The projects API on the emulators: contract, paging, versions, validation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api import Api, error_code
from tests.integration.emulator import EmulatorUser, FirestoreEmulator, MakeUser


@pytest.fixture
def alice(make_user: MakeUser) -> EmulatorUser:
    return make_user()


def test_create_returns_201_location_etag_and_server_fields(api: Api, alice: EmulatorUser) -> None:
    response = api.call("POST", "/projects", alice, {"name": " Roadmap ", "description": "Q3"})
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/projects/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["name"] == "Roadmap"
    assert (body["ownerId"], body["editors"], body["viewers"]) == (alice.uid, [], [])
    assert body["version"] == 1
    assert body["createdAt"] == body["updatedAt"]
    assert len(body["id"]) == 20


def test_created_document_is_what_firestore_holds(
    api: Api, alice: EmulatorUser, firestore_emulator: FirestoreEmulator
) -> None:
    body = api.create_project(alice, "Stored")
    stored = firestore_emulator.get_document(f"projects/{body['id']}")
    assert stored is not None
    assert (stored["name"], stored["ownerId"], stored["version"]) == ("Stored", alice.uid, 1)
    assert stored["members"] == [alice.uid]
    assert (stored["editors"], stored["viewers"]) == ([], [])


def test_get_returns_etag(api: Api, alice: EmulatorUser) -> None:
    project = api.create_project(alice)
    response = api.project_as(alice, project["id"])
    assert response.status_code == 200
    assert response.get_json() == project
    assert response.headers["ETag"] == '"1"'


def test_unverified_user_cannot_create(api: Api, make_user: MakeUser) -> None:
    unverified = make_user(verified=False)
    response = api.call("POST", "/projects", unverified, {"name": "x"})
    assert (response.status_code, error_code(response)) == (403, "email_not_verified")
    listing = api.call("GET", "/projects", unverified).get_json()
    assert listing == {"items": [], "nextCursor": None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "ownerId": "someone"}, "ownerId"),
        ({"name": "x", "editors": ["u"]}, "editors"),
        ({"name": "x", "version": 7}, "version"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "x", "description": "y" * 5001}, "description"),
        ({"name": 42}, "name"),
    ],
    ids=[
        "owner_is_server_set",
        "editors_are_server_set",
        "version_is_server_set",
        "empty_name",
        "long_name",
        "long_description",
        "name_not_string",
    ],
)
def test_invalid_create_is_400_with_field_details_and_creates_nothing(
    api: Api, alice: EmulatorUser, body: dict[str, Any], field: str
) -> None:
    response = api.call("POST", "/projects", alice, body)
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    assert field in response.get_json()["error"]["details"]
    assert api.call("GET", "/projects", alice).get_json()["items"] == []


def test_patch_bumps_version_and_honours_if_match(api: Api, alice: EmulatorUser) -> None:
    project = api.create_project(alice)
    path = f"/projects/{project['id']}"
    first = api.call("PATCH", path, alice, {"name": "v2"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200
    assert (first.get_json()["version"], first.headers["ETag"]) == (2, '"2"')
    stale = api.call("PATCH", path, alice, {"name": "lost"}, headers={"If-Match": '"1"'})
    assert (stale.status_code, error_code(stale)) == (412, "precondition_failed")
    assert api.project_as(alice, project["id"]).get_json()["name"] == "v2"


def test_stale_if_match_stops_a_delete(api: Api, alice: EmulatorUser) -> None:
    project = api.create_project(alice)
    path = f"/projects/{project['id']}"
    api.call("PATCH", path, alice, {"description": "changed"})
    response = api.call("DELETE", path, alice, headers={"If-Match": '"1"'})
    assert response.status_code == 412
    assert api.project_as(alice, project["id"]).status_code == 200
    assert api.call("DELETE", path, alice, headers={"If-Match": '"2"'}).status_code == 204


def test_patch_of_server_fields_is_400_and_changes_nothing(api: Api, alice: EmulatorUser) -> None:
    project = api.create_project(alice)
    path = f"/projects/{project['id']}"
    for body in ({"ownerId": "x"}, {"viewers": []}, {"createdAt": "now"}, {}):
        response = api.call("PATCH", path, alice, body)
        assert (response.status_code, error_code(response)) == (400, "validation_error")
    assert api.project_as(alice, project["id"]).get_json() == project


def test_delete_twice_deletes_once(api: Api, alice: EmulatorUser) -> None:
    project = api.create_project(alice)
    path = f"/projects/{project['id']}"
    assert api.call("DELETE", path, alice).status_code == 204
    again = api.call("DELETE", path, alice)
    assert (again.status_code, error_code(again)) == (404, "not_found")
    assert api.project_as(alice, project["id"]).status_code == 404


def test_members_and_transfer(api: Api, alice: EmulatorUser, make_user: MakeUser) -> None:
    bob, carol = make_user(), make_user()
    project = api.create_project(alice)
    pid = project["id"]
    api.share(alice, pid, bob.uid, "viewer")
    promoted = api.share(alice, pid, bob.uid, "editor")
    assert (promoted["editors"], promoted["viewers"]) == ([bob.uid], [])
    api.share(alice, pid, carol.uid, "viewer")
    moved = api.call("POST", f"/projects/{pid}/transfer", alice, {"ownerId": carol.uid})
    assert moved.status_code == 200
    body = moved.get_json()
    assert body["ownerId"] == carol.uid
    assert body["editors"] == [bob.uid, alice.uid]
    assert body["viewers"] == []
    # The old owner is now an editor: may edit, may no longer delete.
    assert api.call("PATCH", f"/projects/{pid}", alice, {"name": "n"}).status_code == 200
    assert api.call("DELETE", f"/projects/{pid}", alice).status_code == 403


def test_member_can_leave(api: Api, alice: EmulatorUser, make_user: MakeUser) -> None:
    bob = make_user()
    project = api.create_project(alice)
    api.share(alice, project["id"], bob.uid, "viewer")
    left = api.call("DELETE", f"/projects/{project['id']}/members/{bob.uid}", bob)
    assert left.status_code == 200
    assert left.get_json()["viewers"] == []
    assert api.project_as(bob, project["id"]).status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PUT", "/members/no-such-user", {"role": "viewer"}),
        ("POST", "/transfer", {"ownerId": "no-such-user"}),
    ],
    ids=["share_with_unknown_uid", "transfer_to_unknown_uid"],
)
def test_unknown_uid_is_400_and_changes_nothing(
    api: Api, alice: EmulatorUser, method: str, suffix: str, body: dict[str, str]
) -> None:
    project = api.create_project(alice)
    response = api.call(method, f"/projects/{project['id']}{suffix}", alice, body)
    assert (response.status_code, error_code(response)) == (400, "unknown_user")
    assert api.project_as(alice, project["id"]).get_json() == project


@pytest.mark.parametrize(
    "path",
    [
        "/projects/short",
        "/projects/..",
        "/projects/__name__xxxxxxxxxxxxxx",
        "/projects/" + "a" * 21,
        "/projects/abc%2Fdefghijklmnopqrs",
        "/projects/aaaaaaaaaaaaaaaaaaa%20",
        "/projects/aaaaaaaaaaaaaaaaaaa%E2%80%8B",
    ],
    ids=["short", "dotdot", "reserved", "too_long", "encoded_slash", "space", "zero_width"],
)
def test_impossible_ids_are_404_without_touching_firestore(
    api: Api, alice: EmulatorUser, path: str
) -> None:
    response = api.call("GET", path, alice)
    assert response.status_code in (400, 404)
    assert error_code(response) in {"not_found", "validation_error"}


def test_listing_newest_first_with_cursor(
    api: Api, alice: EmulatorUser, make_user: MakeUser
) -> None:
    bob = make_user()
    names = [f"p{i}" for i in range(5)]
    for name in names:
        api.create_project(alice, name)
    shared = api.create_project(bob, "bob's")
    api.share(bob, shared["id"], alice.uid, "viewer")
    api.create_project(bob, "private")  # not alice's

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", f"/projects{query}", alice).get_json()
        seen += [item["name"] for item in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ["bob's", *reversed(names)]
    assert pages == 3


def test_bad_cursor_and_limit_are_400(api: Api, alice: EmulatorUser) -> None:
    bad_cursor = api.call("GET", "/projects?cursor=garbage!", alice)
    assert (bad_cursor.status_code, error_code(bad_cursor)) == (400, "invalid_cursor")
    bad_limit = api.call("GET", "/projects?limit=101", alice)
    assert (bad_limit.status_code, error_code(bad_limit)) == (400, "validation_error")


def test_list_by_owner_is_for_admin_and_auditor(api: Api, make_user: MakeUser) -> None:
    alice, bob = make_user(), make_user()
    admin, auditor = make_user(roles=["admin"]), make_user(roles=["auditor"])
    api.create_project(alice, "a1")
    api.create_project(bob, "b1")
    for reader in (admin, auditor):
        page = api.call("GET", f"/projects?ownerId={alice.uid}", reader).get_json()
        assert [p["name"] for p in page["items"]] == ["a1"]
    refused = api.call("GET", f"/projects?ownerId={alice.uid}", bob)
    assert (refused.status_code, error_code(refused)) == (403, "forbidden")
    own = api.call("GET", f"/projects?ownerId={bob.uid}", bob).get_json()
    assert [p["name"] for p in own["items"]] == ["b1"]


def test_auditor_cannot_write_others_projects_but_can_own_one(
    api: Api, alice: EmulatorUser, make_user: MakeUser
) -> None:
    auditor = make_user(roles=["auditor"])
    project = api.create_project(alice)
    assert api.project_as(auditor, project["id"]).status_code == 200
    edit = api.call("PATCH", f"/projects/{project['id']}", auditor, {"name": "x"})
    assert (edit.status_code, error_code(edit)) == (403, "forbidden")
    own = api.create_project(auditor, "mine")
    assert api.call("DELETE", f"/projects/{own['id']}", auditor).status_code == 204
