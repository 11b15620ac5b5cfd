"""Hostile requests: odd credentials and hostile paths get a clear 4xx, never a 500,
and never change anything."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.integration.api import Api, error_code
from tests.integration.emulator import EmulatorUser, MakeUser


@pytest.fixture
def alice(make_user: MakeUser) -> EmulatorUser:
    return make_user()


def test_two_authorization_headers_are_refused(client: FlaskClient, alice: EmulatorUser) -> None:
    headers = [("Authorization", f"Bearer {alice.id_token}")] * 2
    response = client.get("/me", headers=headers)
    assert (response.status_code, error_code(response)) == (401, "invalid_token")


@pytest.mark.parametrize("where", ["query", "cookie"])
def test_tokens_outside_the_header_are_ignored(
    client: FlaskClient, alice: EmulatorUser, where: str
) -> None:
    """Only the session cookie is read (and an ID token is not one: see its tests)."""
    browser = client.application.test_client()
    if where == "query":
        response = browser.get(f"/me?access_token={alice.id_token}&token={alice.id_token}")
    else:
        for name in ("token", "id_token", "Authorization"):
            browser.set_cookie(name, alice.id_token)
        response = browser.get("/me")
    assert (response.status_code, error_code(response)) == (401, "missing_token")


def test_a_60_kb_header_is_a_4xx(client: FlaskClient) -> None:
    response = client.get("/me", headers={"Authorization": "Bearer " + "A" * 60_000})
    assert 400 <= response.status_code < 500
    assert error_code(response) == "invalid_token"


@pytest.mark.parametrize(
    "segment",
    [
        "%00aaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaa%0A",
        "aaaaaaaaaaaaaaaaaaa%09",
        "%E2%80%8Baaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaa%FF%FE",
        "aaaaaaaaaa%2Faaaaaaaaa",
        "%2e%2e",
        ".",
        "__aaaaaaaaaaaaaaaa__",
        "a" * 1500,
    ],
    ids=[
        "nul",
        "newline",
        "tab",
        "zero_width",
        "invalid_utf8",
        "encoded_slash",
        "encoded_dotdot",
        "dot",
        "reserved",
        "over_long",
    ],
)
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_hostile_project_ids_are_4xx(
    api: Api, alice: EmulatorUser, segment: str, method: str
) -> None:
    body = {"name": "x"} if method == "PATCH" else None
    response = api.call(method, f"/projects/{segment}", alice, body)
    assert response.status_code in (400, 404), response.get_data(as_text=True)
    assert response.mimetype == "application/json"


@pytest.mark.parametrize(
    "uid",
    ["%00", "a%0Ab", "a%20b", "%E2%80%8B", "%FF", "a" * 129],
    ids=["nul", "newline", "space", "zero_width", "invalid_utf8", "too_long"],
)
def test_hostile_member_uids_are_4xx_and_change_nothing(
    api: Api, alice: EmulatorUser, uid: str
) -> None:
    project = api.create_project(alice)
    response = api.call(
        "PUT", f"/projects/{project['id']}/members/{uid}", alice, {"role": "viewer"}
    )
    # 404 where functions-framework's own route cannot match the path (a newline).
    assert (response.status_code, error_code(response)) in {
        (400, "validation_error"),
        (404, "not_found"),
    }
    assert api.project_as(alice, project["id"]).get_json() == project


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "x", "description": "\\ud800"}',
        b'{"name": 1e999}',
        b'{"name": 123456789012345678901234567890}',
        b'{"name": "x", "a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {}}}}}}}}}',
        b'{"name": "' + b"n" * 201 + b'"}',
        b'{"name": "x", "description": ' + b'"' + b"d" * 5001 + b'"}',
    ],
    ids=["lone_surrogate", "float_overflow", "huge_int", "too_deep", "name_cap", "description_cap"],
)
def test_hostile_bodies_are_400_and_create_nothing(
    api: Api, alice: EmulatorUser, body: bytes
) -> None:
    response = api.client.post(
        "/projects",
        data=body,
        headers={"Authorization": f"Bearer {alice.id_token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert error_code(response) in ("invalid_json", "validation_error")
    assert api.call("GET", "/projects", alice).get_json()["items"] == []
