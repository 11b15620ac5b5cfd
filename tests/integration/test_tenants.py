"""Identity Platform tenants on the emulators: two tenants made through the Auth
emulator's REST API, users signed up in each, and one backend that accepts both (and
project-level users). Every cross-realm read, write, share, role change and admin
lookup is refused, and the data stays as it was; ``firestore.rules`` keeps the same
partition for clients that talk to Firestore directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from app import build_container
from core.settings import Settings
from handlers import event_entry_point
from tests.entry_points import serving
from tests.integration.api import Api, error_code
from tests.integration.emulator import (
    AuthEmulator,
    EmulatorError,
    EmulatorUser,
    FirestoreEmulator,
    MakeUser,
    TenantUsers,
    token_claims,
)
from tests.integration.sign_outs import created_event, records_of


def backend(**changes: Any) -> Api:
    """A fresh instance of the whole backend, on the emulators, with settings changed."""
    settings = dataclasses.replace(Settings.from_env(), **changes)
    return Api(serving("local", build_container(settings)).test_client())


@dataclass(frozen=True)
class World:
    api: Api
    users: TenantUsers
    acme: str
    globex: str
    #: acme's project owner, another acme user, acme's admin; globex's user and admin.
    alice: EmulatorUser
    amos: EmulatorUser
    acme_admin: EmulatorUser
    bob: EmulatorUser
    globex_admin: EmulatorUser
    #: A project of alice's, shared with amos, with one task.
    project_id: str
    task_id: str


@pytest.fixture
def world(auth_emulator: AuthEmulator) -> World:
    users = TenantUsers(auth_emulator)
    acme, globex = users.create_tenant(), users.create_tenant()
    api = backend(tenants=frozenset({acme, globex}), allow_project_level_users=True)
    alice, amos = users.make(acme), users.make(acme)
    acme_admin = users.make(acme, roles=["admin"])
    bob, globex_admin = users.make(globex), users.make(globex, roles=["admin"])
    project_id = api.create_project(alice, "Acme plans")["id"]
    api.share(alice, project_id, amos.uid, "editor")
    task = api.call("POST", f"/projects/{project_id}/tasks", alice, {"title": "Ship"})
    assert task.status_code == 201, task.get_json()
    return World(
        api,
        users,
        acme,
        globex,
        alice,
        amos,
        acme_admin,
        bob,
        globex_admin,
        project_id,
        task.get_json()["id"],
    )


def test_tokens_carry_the_tenant(world: World) -> None:
    assert token_claims(world.alice.id_token)["firebase"]["tenant"] == world.acme
    me = world.api.call("GET", "/me", world.alice)
    assert (me.status_code, me.get_json()["tenant"]) == (200, world.acme)


def test_a_tenants_documents_live_under_it(
    world: World, firestore_emulator: FirestoreEmulator
) -> None:
    stored = firestore_emulator.get_document(f"tenants/{world.acme}/projects/{world.project_id}")
    assert stored is not None
    assert stored["ownerId"] == world.alice.uid
    assert firestore_emulator.get_document(f"projects/{world.project_id}") is None
    task = f"tenants/{world.acme}/projects/{world.project_id}/tasks/{world.task_id}"
    assert firestore_emulator.get_document(task) is not None


CROSS_TENANT = [
    pytest.param("GET", "", None, id="read project"),
    pytest.param("PATCH", "", {"name": "Mine now"}, id="rename project"),
    pytest.param("DELETE", "", None, id="delete project"),
    pytest.param("PUT", "/members/{bob}", {"role": "editor"}, id="add self as member"),
    pytest.param("POST", "/transfer", {"ownerId": "{bob}"}, id="transfer to self"),
    pytest.param("GET", "/tasks", None, id="list tasks"),
    pytest.param("POST", "/tasks", {"title": "Injected"}, id="create task"),
    pytest.param("GET", "/tasks/{task}", None, id="read task"),
    pytest.param("PATCH", "/tasks/{task}", {"done": True}, id="update task"),
    pytest.param("DELETE", "/tasks/{task}", None, id="delete task"),
]


@pytest.mark.parametrize("who", ["bob", "globex_admin"])
@pytest.mark.parametrize(("method", "suffix", "body"), CROSS_TENANT)
def test_another_tenants_project_does_not_exist(
    world: World,
    firestore_emulator: FirestoreEmulator,
    who: str,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    """Even globex's admin gets 404 for acme's project, and nothing changes."""
    caller: EmulatorUser = getattr(world, who)
    before = _acme_state(world, firestore_emulator)
    path = f"/projects/{world.project_id}" + suffix.format(bob=caller.uid, task=world.task_id)
    if body is not None:
        body = {k: v.format(bob=caller.uid) if isinstance(v, str) else v for k, v in body.items()}
    response = world.api.call(method, path, caller, body)
    assert (response.status_code, error_code(response)) == (404, "not_found"), response.get_json()
    assert _acme_state(world, firestore_emulator) == before


def test_a_project_level_user_sees_no_tenant_data(
    world: World, make_user: MakeUser, firestore_emulator: FirestoreEmulator
) -> None:
    outsider = make_user(roles=["admin"])
    before = _acme_state(world, firestore_emulator)
    response = world.api.project_as(outsider, world.project_id)
    assert response.status_code == 404
    listed = world.api.call("GET", f"/projects?ownerId={world.alice.uid}", outsider)
    assert (listed.status_code, listed.get_json()["items"]) == (200, [])
    audit = world.api.call("GET", "/admin/audit?limit=100", outsider)
    assert audit.status_code == 200
    assert audit.get_json()["items"] == []
    assert _acme_state(world, firestore_emulator) == before


def test_lists_are_per_tenant(world: World) -> None:
    own = world.api.call("GET", "/projects", world.amos)
    assert [p["id"] for p in own.get_json()["items"]] == [world.project_id]
    for caller in (world.bob, world.globex_admin):
        listed = world.api.call("GET", f"/projects?ownerId={world.alice.uid}", caller)
        assert listed.status_code in {200, 403}, listed.get_json()
        assert world.project_id not in json.dumps(listed.get_json())
        mine = world.api.call("GET", "/projects", caller)
        assert mine.get_json()["items"] == []
    by_admin = world.api.call("GET", f"/projects?ownerId={world.alice.uid}", world.acme_admin)
    assert [p["id"] for p in by_admin.get_json()["items"]] == [world.project_id]


def test_members_come_from_the_owners_tenant(
    world: World, firestore_emulator: FirestoreEmulator
) -> None:
    """Sharing with a user of another tenant, by uid or by email, finds nobody."""
    before = _acme_state(world, firestore_emulator)
    path = f"/projects/{world.project_id}/members"
    by_uid = world.api.call("PUT", f"{path}/{world.bob.uid}", world.alice, {"role": "viewer"})
    assert (by_uid.status_code, error_code(by_uid)) == (400, "unknown_user"), by_uid.get_json()
    by_email = world.api.call(
        "POST", path, world.alice, {"email": world.bob.email, "role": "viewer"}
    )
    assert by_email.status_code == 404, by_email.get_json()
    assert _acme_state(world, firestore_emulator) == before


def test_admins_act_within_their_tenant(world: World) -> None:
    users, api = world.users, world.api
    # globex's admin can neither find nor change acme's users...
    found = api.call("GET", f"/admin/users?email={world.alice.email}", world.globex_admin)
    assert (found.status_code, error_code(found)) == (404, "user_not_found")
    roles_path = f"/admin/users/{world.amos.uid}/roles"
    read = api.call("GET", roles_path, world.globex_admin)
    assert (read.status_code, error_code(read)) == (404, "user_not_found")
    changed = api.call("PUT", roles_path, world.globex_admin, {"roles": ["admin"]})
    assert (changed.status_code, error_code(changed)) == (404, "user_not_found")
    assert users.roles(world.acme, world.amos.uid) is None
    # ...and acme's admin changes acme's users, in acme.
    granted = api.call("PUT", roles_path, world.acme_admin, {"roles": ["auditor"]})
    assert granted.status_code == 200, granted.get_json()
    assert users.roles(world.acme, world.amos.uid) == ["auditor"]
    lookup = api.call("GET", f"/admin/users?email={world.amos.email}", world.acme_admin)
    assert (lookup.status_code, lookup.get_json()["uid"]) == (200, world.amos.uid)


def test_the_audit_log_is_per_tenant(world: World) -> None:
    grant = f"/admin/users/{world.bob.uid}/roles"
    assert (
        world.api.call("PUT", grant, world.globex_admin, {"roles": ["auditor"]}).status_code == 200
    )
    acme = world.api.call("GET", "/admin/audit?limit=100", world.acme_admin).get_json()["items"]
    globex = world.api.call("GET", "/admin/audit?limit=100", world.globex_admin).get_json()["items"]
    assert {entry["target"] for entry in acme} >= {f"projects/{world.project_id}"}
    assert all(world.bob.uid not in entry["target"] for entry in acme)
    assert [entry["target"] for entry in globex] == [world.bob.uid]


def tenant_settings(world: World, **changes: Any) -> Settings:
    return dataclasses.replace(
        Settings.from_env(),
        tenants=frozenset({world.acme, world.globex}),
        allow_project_level_users=True,
        **changes,
    )


def test_a_tenant_user_signs_out_in_their_tenant(
    world: World, firestore_emulator: FirestoreEmulator
) -> None:
    """The sign-out is recorded in the tenant's realm, every instance of that realm
    refuses the old session, and the ``signouts`` function revokes in that tenant."""

    def valid_since(tenant: str, user: EmulatorUser) -> int:
        return int(world.users.get(tenant, user.uid).get("validSince", "0"))

    amos_before, alice_before = (
        valid_since(world.acme, world.amos),
        valid_since(world.acme, world.alice),
    )
    revoked = world.api.call("POST", "/me/revoke-sessions", world.amos)
    assert revoked.status_code == 204, revoked.get_json()
    refused = world.api.call("GET", "/me", world.amos)
    assert (refused.status_code, error_code(refused)) == (401, "token_revoked")
    # Recorded under the tenant only; me changed no user record.
    recorded = records_of(firestore_emulator, world.amos.uid, tenant=world.acme)
    assert [record["uid"] for record in recorded.values()] == [world.amos.uid]
    assert records_of(firestore_emulator, world.amos.uid, tenant=None) == {}
    assert records_of(firestore_emulator, world.amos.uid, tenant=world.globex) == {}
    assert valid_since(world.acme, world.amos) == amos_before
    # Another instance, with its own caches, reads the tenant's records. (A session
    # begun in the sign-out's own second survives there, as with Firebase's validSince:
    # a sign-out a second after amos signed in, recorded in acme's realm.)
    container = build_container(tenant_settings(world))
    began = int(token_claims(world.amos.id_token)["auth_time"])
    container.for_tenant(world.acme).sign_outs.record(
        world.amos.uid, began + 1, now=datetime.now(UTC)
    )
    other = backend(tenants=frozenset({world.acme, world.globex}), allow_project_level_users=True)
    refused = other.call("GET", "/me", world.amos)
    assert (refused.status_code, error_code(refused)) == (401, "token_revoked")
    # Only amos was signed out: alice, of the same tenant, was not.
    assert other.call("GET", "/me", world.alice).status_code == 200
    # The signouts function revokes amos in acme (the tenant named by the path).
    (second,) = recorded
    key = hashlib.sha256(world.amos.uid.encode()).hexdigest()
    path = f"tenants/{world.acme}/signOuts/{key}/signOutEvents/{second}"
    event_entry_point("signouts", container)(created_event(f"documents/{path}"))
    assert valid_since(world.acme, world.amos) >= int(second)
    assert valid_since(world.acme, world.alice) == alice_before
    applied = firestore_emulator.get_document(path)
    assert applied is not None
    assert applied["appliedAt"] is not None


@pytest.mark.parametrize(
    "realm",
    ["tenants/initech/", "tenants/a.b/", "tenants//", "other/acme/"],
    ids=["unlisted_tenant", "malformed_tenant", "empty_tenant", "other_collection"],
)
def test_the_signouts_function_drops_records_outside_the_listed_realms(
    world: World, realm: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = hashlib.sha256(world.amos.uid.encode()).hexdigest()
    subject = f"documents/{realm}signOuts/{key}/signOutEvents/001800000000"
    container = build_container(tenant_settings(world))
    with caplog.at_level(logging.WARNING, logger="handlers.sign_outs"):
        event_entry_point("signouts", container)(created_event(subject))
    assert "signouts:" in caplog.text
    assert "sign_out_service" not in container.built


def test_a_realms_store_refuses_another_realms_record(world: World) -> None:
    container = build_container(tenant_settings(world))
    key = hashlib.sha256(b"x").hexdigest()
    record = f"signOuts/{key}/signOutEvents/001800000000"
    with pytest.raises(ValueError, match="in the store's realm"):
        container.for_tenant(world.acme).sign_outs.get(record)
    with pytest.raises(ValueError, match="in the store's realm"):
        container.for_tenant(world.acme).sign_outs.get(f"tenants/{world.globex}/{record}")
    with pytest.raises(ValueError, match="in the store's realm"):
        container.sign_outs.get(f"tenants/{world.acme}/{record}")
    assert container.for_tenant(world.acme).sign_outs.get(f"tenants/{world.acme}/{record}") is None


def test_tenant_users_get_no_session_cookie(world: World) -> None:
    response = world.api.call("POST", "/session", world.alice)
    assert (response.status_code, error_code(response)) == (400, "tenant_session_unsupported")
    assert "Set-Cookie" not in response.headers


def test_unlisted_tenants_and_realms_are_refused(
    world: World, auth_emulator: AuthEmulator, make_user: MakeUser
) -> None:
    initech = world.users.create_tenant()
    stranger = world.users.make(initech)
    response = world.api.call("GET", "/me", stranger)
    assert (response.status_code, error_code(response)) == (401, "tenant_not_allowed")
    assert world.api.call("POST", "/projects", stranger, {"name": "x"}).status_code == 401
    # A deployment for tenants only refuses project-level users...
    tenants_only = backend(tenants=frozenset({world.acme}), allow_project_level_users=False)
    refused = tenants_only.call("GET", "/me", make_user())
    assert (refused.status_code, error_code(refused)) == (401, "tenant_not_allowed")
    # ...and the default deployment (no TENANTS) refuses every tenant user.
    default = backend()
    refused = default.call("GET", "/me", world.alice)
    assert (refused.status_code, error_code(refused)) == (401, "tenant_not_allowed")


# --- firestore.rules: the same partition for direct clients ----------------------------


def _can_read(fs: FirestoreEmulator, user: EmulatorUser, path: str) -> bool:
    """True if allowed, False if the rules deny (403); any other answer fails."""
    try:
        fs.request("GET", path, token=user.id_token)
    except EmulatorError as error:
        status = error.status
    else:
        return True
    assert status == 403
    return False


def test_rules_keep_tenants_apart(
    world: World, firestore_emulator: FirestoreEmulator, make_user: MakeUser
) -> None:
    fs = firestore_emulator
    project = f"tenants/{world.acme}/projects/{world.project_id}"
    task = f"{project}/tasks/{world.task_id}"
    assert _can_read(fs, world.alice, project)
    assert _can_read(fs, world.amos, task)
    assert not _can_read(fs, world.bob, project)
    assert not _can_read(fs, world.globex_admin, project)
    assert not _can_read(fs, world.globex_admin, task)
    assert not _can_read(fs, make_user(roles=["admin"]), project)
    assert _can_read(fs, world.acme_admin, f"tenants/{world.acme}/auditLog?pageSize=5")
    assert not _can_read(fs, world.globex_admin, f"tenants/{world.acme}/auditLog?pageSize=5")
    # A tenant's user cannot reach project-level data either, even with the same id.
    mirror = {key: value for key, value in (fs.get_document(project) or {}).items()}
    fs.set_document(f"projects/{world.project_id}", mirror)
    assert not _can_read(fs, world.alice, f"projects/{world.project_id}")


def _acme_state(world: World, fs: FirestoreEmulator) -> tuple[Any, ...]:
    project = f"tenants/{world.acme}/projects/{world.project_id}"
    return (
        fs.get_document(project),
        fs.list_documents(f"{project}/tasks"),
        sorted(fs.list_documents("projects")),
    )


def test_the_admin_cli_bootstraps_a_tenants_first_admin(
    world: World, auth_emulator: AuthEmulator
) -> None:
    """The operator's CLI reaches a tenant's users with ``--tenant``, and only them."""
    from tools.admin import main as admin

    assert admin(["--emulator", "--tenant", world.globex, "grant", world.bob.email, "admin"]) == 0
    assert world.users.roles(world.globex, world.bob.uid) == ["admin"]
    # Without --tenant the CLI works on project-level users: bob is not one.
    assert admin(["--emulator", "grant", world.bob.email, "auditor"]) == 1
    assert world.users.roles(world.globex, world.bob.uid) == ["admin"]
    # The grant is in globex's audit log, not in acme's.
    bob = world.users.sign_in(world.globex, world.bob.email)
    globex = world.api.call("GET", "/admin/audit?limit=10", bob).get_json()["items"]
    assert [(e["target"], e["action"]) for e in globex] == [(world.bob.uid, "roles.set")]
    acme = world.api.call("GET", "/admin/audit?limit=100", world.acme_admin).get_json()["items"]
    assert all(e["target"] != world.bob.uid for e in acme)


@pytest.mark.parametrize("tenant", ["acme/x", "-x", ""])
def test_the_admin_cli_refuses_a_malformed_tenant(tenant: str) -> None:
    from tools.admin import main as admin

    with pytest.raises(SystemExit) as usage:
        admin(["--emulator", "--tenant", tenant, "roles", "someone@example.com"])
    assert usage.value.code == 2
