"""Documents written by clients through ``firestore.rules`` are untrusted: whatever the
rules let a client store, the backend answers it cleanly (never a 500).

The rules language cannot check the type of each element of a list, so an owner may
store a member list with a number or an over-long string in it; the backend drops
what is not a uid (it matches no caller) instead of failing on it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from store.models import Project
from store.projects import to_document
from tests.integration.api import Api
from tests.integration.emulator import FirestoreEmulator, MakeUser
from tests.integration.test_rules_parity import ALLOWED, write_update


@pytest.mark.parametrize(
    "junk", [123, "x" * 300, "has space", True], ids=["number", "long", "space", "bool"]
)
def test_junk_members_written_by_the_owner_never_break_the_api(
    junk: object, api: Api, make_user: MakeUser, firestore_emulator: FirestoreEmulator
) -> None:
    owner, viewer = make_user(), make_user()
    created = api.create_project(owner)
    created = api.share(owner, created["id"], viewer.uid, "viewer")
    stored = Project(
        id=created["id"],
        name=created["name"],
        description=created["description"],
        owner_id=owner.uid,
        editors=(),
        viewers=(viewer.uid,),
        created_at=datetime.fromisoformat(created["createdAt"]).astimezone(UTC),
        updated_at=datetime.fromisoformat(created["updatedAt"]).astimezone(UTC),
        version=created["version"],
    )
    state = dataclasses.replace(stored, version=stored.version + 1)
    document = {
        **to_document(state),
        "editors": [junk],
        "members": [owner.uid, junk, viewer.uid],
    }
    answer = write_update(firestore_emulator, owner.id_token, state, document=document)
    assert answer.outcome == ALLOWED, "the rules let an owner store this: the backend must cope"

    for user in (owner, viewer):
        one = api.call("GET", f"/projects/{created['id']}", user)
        assert one.status_code == 200, one.get_json()
        assert one.get_json()["editors"] == []
        listed = api.call("GET", "/projects", user)
        assert listed.status_code == 200, listed.get_json()
    renamed = api.call("PATCH", f"/projects/{created['id']}", owner, {"name": "Cleaned"})
    assert renamed.status_code == 200, renamed.get_json()
    assert firestore_emulator.get_document(f"projects/{created['id']}")["editors"] == []
