"""Sharing, member removal, transfer and deletion of projects are audited, each entry
written in the same commit as the change it records."""

from __future__ import annotations

from tests.integration.api import Api, error_code
from tests.integration.emulator import MakeUser


def test_access_changes_appear_in_the_audit_log(api: Api, make_user: MakeUser) -> None:
    owner, editor, viewer = make_user(), make_user(), make_user()
    admin = make_user(roles=["admin"])
    pid = api.create_project(owner)["id"]
    path = f"/projects/{pid}"
    api.share(owner, pid, editor.uid, "editor")
    shared = api.call("POST", f"{path}/members", owner, {"email": viewer.email, "role": "viewer"})
    assert shared.status_code == 200
    assert api.call("DELETE", f"{path}/members/{viewer.uid}", viewer).status_code == 200
    refused = api.call("DELETE", f"{path}/members/{editor.uid}", viewer)
    assert (refused.status_code, error_code(refused)) == (404, "not_found")
    assert api.call("POST", f"{path}/transfer", owner, {"ownerId": editor.uid}).status_code == 200
    assert api.call("DELETE", path, editor).status_code == 204

    listed = api.call("GET", "/admin/audit?limit=20", admin)
    assert listed.status_code == 200, listed.get_json()
    entries = [e for e in listed.get_json()["items"] if e["target"] == f"projects/{pid}"]
    assert [(e["action"], e["actor"], e["outcome"]) for e in entries] == [
        ("project.deleted", editor.uid, "applied"),
        ("project.transferred", owner.uid, "applied"),
        ("project.member_removed", viewer.uid, "applied"),
        ("project.shared", owner.uid, "applied"),
        ("project.shared", owner.uid, "applied"),
    ]
    deleted, transferred = entries[0], entries[1]
    assert deleted["after"] == {}
    assert deleted["before"] == {"ownerId": editor.uid, "editors": [owner.uid], "viewers": []}
    assert transferred["after"] == {"ownerId": editor.uid, "editors": [owner.uid], "viewers": []}
    assert all(e["requestId"] for e in entries)
