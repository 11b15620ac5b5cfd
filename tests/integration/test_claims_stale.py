"""The stale-claims signal on the emulators: after an admin grants a role (or the email
is verified), the user's next response carries ``X-Claims-Stale: 1``; after a token
refresh the mark is gone and the new claims work.

The backend reads the user record fresh for privileged requests, and for others reuses
it for up to ``REVOCATION_CHECK_MAX_AGE_SECONDS``; the first tests run with ``0`` (every
request reads the record), the others with the default and show when the mark comes.
"""

from __future__ import annotations

import dataclasses

import pytest
from flask.testing import FlaskClient

from app import build_container
from core.settings import Settings
from handlers.http import CLAIMS_STALE_HEADER
from tests.entry_points import serving
from tests.integration.api import Api, error_code
from tests.integration.emulator import AuthEmulator, EmulatorUser, MakeUser


@pytest.fixture
def fresh_api() -> Api:
    """The whole backend with ``REVOCATION_CHECK_MAX_AGE_SECONDS=0``."""
    settings = dataclasses.replace(Settings.from_env(), revocation_check_max_age_seconds=0)
    client: FlaskClient = serving("local", build_container(settings)).test_client()
    return Api(client)


@pytest.fixture
def cached_api() -> Api:
    """The whole backend with the default cache bound (60 s)."""
    settings = dataclasses.replace(Settings.from_env(), revocation_check_max_age_seconds=60)
    client: FlaskClient = serving("local", build_container(settings)).test_client()
    return Api(client)


def marked(response: object) -> bool:
    headers = getattr(response, "headers")  # noqa: B009 - werkzeug TestResponse
    return bool(headers.get(CLAIMS_STALE_HEADER) == "1")


def test_granted_role_marks_the_next_response_until_the_token_refreshes(
    fresh_api: Api, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    admin, user, other = make_user(roles=["admin"]), make_user(), make_user()
    project = fresh_api.create_project(other, "Someone else's")
    before = fresh_api.call("GET", "/me", user)
    assert before.status_code == 200
    assert not marked(before)

    granted = fresh_api.call("PUT", f"/admin/users/{user.uid}/roles", admin, {"roles": ["auditor"]})
    assert granted.status_code == 200, granted.get_json()
    assert not marked(granted), "the admin's own claims are current"

    me = fresh_api.call("GET", "/me", user)
    assert me.status_code == 200
    assert marked(me)
    assert me.get_json()["roles"] == [], "a granted role counts only once in the token"
    listing = fresh_api.call("GET", f"/projects?ownerId={other.uid}", user)
    assert (listing.status_code, error_code(listing)) == (403, "forbidden")
    assert marked(listing), "the refusal the missing role caused carries the mark"

    refreshed = auth_emulator.refresh(user)
    me = fresh_api.call("GET", "/me", refreshed)
    assert me.status_code == 200
    assert not marked(me)
    assert me.get_json()["roles"] == ["auditor"]
    listing = fresh_api.call("GET", f"/projects?ownerId={other.uid}", refreshed)
    assert listing.status_code == 200
    assert not marked(listing)
    assert [item["id"] for item in listing.get_json()["items"]] == [project["id"]]


def test_email_verified_later_marks_until_the_token_refreshes(
    fresh_api: Api, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    user = make_user(verified=False)
    refused = fresh_api.call("POST", "/projects", user, {"name": "P"})
    assert (refused.status_code, error_code(refused)) == (403, "email_not_verified")
    assert not marked(refused)
    auth_emulator.set_email_verified(user.uid, True)
    refused = fresh_api.call("POST", "/projects", user, {"name": "P"})
    assert (refused.status_code, error_code(refused)) == (403, "email_not_verified")
    assert marked(refused)
    refreshed = auth_emulator.refresh(user)
    created = fresh_api.call("POST", "/projects", refreshed, {"name": "P"})
    assert created.status_code == 201
    assert not marked(created)


def test_removed_role_is_not_stale(
    fresh_api: Api, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    """Removal applies at once (the role stops counting): nothing for a refresh to add.
    (Removing through the API also revokes the sessions; here the claim is edited
    directly, so the token stays valid.)"""
    user = make_user(roles=["auditor"])
    auth_emulator.set_custom_claims(user.uid, {})
    me = fresh_api.call("GET", "/me", user)
    assert me.status_code == 200
    assert me.get_json()["roles"] == []
    assert not marked(me)


def test_grant_by_this_instance_is_seen_at_once_with_the_cache(
    cached_api: Api, make_user: MakeUser
) -> None:
    """The instance that changes the claims drops its cached record of the user."""
    admin, user = make_user(roles=["admin"]), make_user()
    assert not marked(cached_api.call("GET", "/me", user))  # caches the record
    granted = cached_api.call(
        "PUT", f"/admin/users/{user.uid}/roles", admin, {"roles": ["auditor"]}
    )
    assert granted.status_code == 200
    assert marked(cached_api.call("GET", "/me", user))


def test_grant_elsewhere_is_seen_at_once_on_a_privileged_request(
    cached_api: Api, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    """A grant made elsewhere (another instance, the CLI) reaches an ordinary request
    within REVOCATION_CHECK_MAX_AGE_SECONDS; a privileged one (every /admin route) reads
    the record fresh and carries the mark at once, even when it is refused."""
    user: EmulatorUser = make_user()
    assert not marked(cached_api.call("GET", "/me", user))  # caches the record
    auth_emulator.set_custom_claims(user.uid, {"roles": ["auditor"]})
    audit = cached_api.call("GET", "/admin/users?email=a@example.com", user)
    assert (audit.status_code, error_code(audit)) == (403, "forbidden")
    assert marked(audit)
