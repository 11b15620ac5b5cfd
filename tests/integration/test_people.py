"""Members are shown by email and display name, and the owner shares by email."""

from __future__ import annotations

import pytest

from tests.integration.api import Api, error_code
from tests.integration.emulator import MakeUser


def people_of(body: dict[str, object]) -> list[tuple[object, ...]]:
    people = body["people"]
    assert isinstance(people, list)
    return [(p["uid"], p["role"], p["email"]) for p in people]


def test_owner_shares_by_email_and_sees_members_by_email(api: Api, make_user: MakeUser) -> None:
    owner, viewer = make_user(), make_user()
    project = api.create_project(owner)
    response = api.call(
        "POST",
        f"/projects/{project['id']}/members",
        owner,
        {"email": viewer.email.upper(), "role": "viewer"},
    )
    assert response.status_code == 200, response.get_json()
    assert people_of(response.get_json()) == [
        (owner.uid, "owner", owner.email),
        (viewer.uid, "viewer", viewer.email),
    ]
    listed = api.call("GET", "/projects", viewer).get_json()["items"]
    assert [people_of(item) for item in listed] == [people_of(response.get_json())]


def test_unknown_email_is_a_clear_404_and_changes_nothing(api: Api, make_user: MakeUser) -> None:
    owner = make_user()
    project = api.create_project(owner)
    response = api.call(
        "POST",
        f"/projects/{project['id']}/members",
        owner,
        {"email": "nobody@example.com", "role": "editor"},
    )
    assert (response.status_code, error_code(response)) == (404, "user_not_found")
    assert api.project_as(owner, project["id"]).get_json() == project


@pytest.mark.parametrize(
    ("who", "expected"),
    [("stranger", (404, "not_found")), ("editor", (403, "forbidden"))],
    ids=["stranger_cannot_probe_emails", "editor_cannot_share"],
)
def test_only_those_who_may_share_can_look_emails_up(
    api: Api, make_user: MakeUser, who: str, expected: tuple[int, str]
) -> None:
    owner, editor, stranger = make_user(), make_user(), make_user()
    project = api.create_project(owner)
    project = api.share(owner, project["id"], editor.uid, "editor")
    actor = {"stranger": stranger, "editor": editor}[who]
    for email in (owner.email, "nobody@example.com"):
        response = api.call(
            "POST", f"/projects/{project['id']}/members", actor, {"email": email, "role": "viewer"}
        )
        assert (response.status_code, error_code(response)) == expected
    assert api.project_as(owner, project["id"]).get_json() == project


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "role": "viewer"},
        {"email": "a@b.c", "role": "owner"},
        {"email": "a@b.c"},
    ],
    ids=["bad_email", "bad_role", "no_role"],
)
def test_share_by_email_validates(api: Api, make_user: MakeUser, body: dict[str, str]) -> None:
    owner = make_user()
    project = api.create_project(owner)
    response = api.call("POST", f"/projects/{project['id']}/members", owner, body)
    assert (response.status_code, error_code(response)) == (400, "validation_error")
