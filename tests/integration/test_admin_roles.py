"""Role administration on the emulators: lookups, assignment, audit, revocation."""

from __future__ import annotations

import hashlib
import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.api import Api, error_code
from tests.integration.emulator import AuthEmulator, EmulatorUser, FirestoreEmulator, MakeUser
from tools import make_admin


@pytest.fixture
def admin(make_user: MakeUser) -> EmulatorUser:
    return make_user(roles=["admin"])


def put_roles(api: Api, actor: EmulatorUser, uid: str, roles: Any) -> Any:
    return api.call("PUT", f"/admin/users/{uid}/roles", actor, {"roles": roles})


def stored_claims(auth_emulator: AuthEmulator, uid: str) -> dict[str, Any]:
    raw = auth_emulator.get_user(uid).get("customAttributes") or "{}"
    claims: dict[str, Any] = json.loads(raw)
    return claims


def test_admin_finds_a_user_by_email(api: Api, admin: EmulatorUser, make_user: MakeUser) -> None:
    user = make_user(roles=["auditor"])
    response = api.call("GET", f"/admin/users?email={user.email}", admin)
    assert response.status_code == 200
    assert response.get_json() == {
        "uid": user.uid,
        "email": user.email,
        "roles": ["auditor"],
        "disabled": False,
    }


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?email=nobody@example.com", 404, "user_not_found"),
        ("?email=not-an-email", 400, "validation_error"),
        ("", 400, "validation_error"),
    ],
    ids=["unknown_email", "malformed_email", "missing_email"],
)
def test_user_lookup_errors(
    api: Api, admin: EmulatorUser, query: str, status: int, code: str
) -> None:
    response = api.call("GET", f"/admin/users{query}", admin)
    assert (response.status_code, error_code(response)) == (status, code)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/admin/users?email=a@example.com", None),
        ("GET", "/admin/users/{uid}/roles", None),
        ("PUT", "/admin/users/{uid}/roles", {"roles": ["admin"]}),
    ],
    ids=["lookup", "get_roles", "put_roles"],
)
@pytest.mark.parametrize("role", [None, "auditor"], ids=["plain_user", "auditor"])
def test_only_admins_manage_users(
    api: Api,
    make_user: MakeUser,
    auth_emulator: AuthEmulator,
    method: str,
    path: str,
    body: Any,
    role: str | None,
) -> None:
    caller = make_user(roles=[role] if role else None)
    target = make_user()
    response = api.call(method, path.format(uid=target.uid), caller, body)
    assert (response.status_code, error_code(response)) == (403, "forbidden")
    assert stored_claims(auth_emulator, target.uid) == {}


def test_put_roles_merges_into_other_claims(
    api: Api, admin: EmulatorUser, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    user = make_user()
    auth_emulator.set_custom_claims(user.uid, {"tier": "gold", "roles": ["junk"]})
    response = put_roles(api, admin, user.uid, ["auditor"])
    assert response.status_code == 200
    assert response.get_json() == {"uid": user.uid, "roles": ["auditor"], "sessionsRevoked": False}
    assert stored_claims(auth_emulator, user.uid) == {"tier": "gold", "roles": ["auditor"]}
    got = api.call("GET", f"/admin/users/{user.uid}/roles", admin)
    assert got.get_json() == {"uid": user.uid, "roles": ["auditor"]}


@pytest.mark.parametrize(
    ("roles", "field"),
    [(["root"], "roles.0"), ("admin", "roles"), ([1], "roles.0")],
    ids=["unknown_role", "not_a_list", "not_a_string"],
)
def test_bad_roles_are_400_and_change_nothing(
    api: Api,
    admin: EmulatorUser,
    make_user: MakeUser,
    auth_emulator: AuthEmulator,
    roles: Any,
    field: str,
) -> None:
    user = make_user(roles=["auditor"])
    response = put_roles(api, admin, user.uid, roles)
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    assert field in response.get_json()["error"]["details"]
    assert stored_claims(auth_emulator, user.uid) == {"roles": ["auditor"]}


def test_unknown_user_is_404(api: Api, admin: EmulatorUser) -> None:
    response = put_roles(api, admin, "no-such-uid", ["auditor"])
    assert (response.status_code, error_code(response)) == (404, "user_not_found")
    response = api.call("GET", "/admin/users/no-such-uid/roles", admin)
    assert (response.status_code, error_code(response)) == (404, "user_not_found")


def test_admin_cannot_demote_themselves(
    api: Api, admin: EmulatorUser, auth_emulator: AuthEmulator
) -> None:
    response = put_roles(api, admin, admin.uid, ["auditor"])
    assert (response.status_code, error_code(response)) == (409, "self_demotion")
    assert stored_claims(auth_emulator, admin.uid) == {"roles": ["admin"]}
    assert put_roles(api, admin, admin.uid, ["admin", "auditor"]).status_code == 200


def test_claims_over_the_limit_are_refused_unchanged(
    api: Api, admin: EmulatorUser, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    user = make_user()
    big = {"blob": "x" * 975}
    auth_emulator.set_custom_claims(user.uid, big)
    response = put_roles(api, admin, user.uid, ["admin", "auditor"])
    assert (response.status_code, error_code(response)) == (400, "claims_too_large")
    assert stored_claims(auth_emulator, user.uid) == big


def test_granted_role_takes_effect_after_token_refresh(
    api: Api, admin: EmulatorUser, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    user = make_user()
    assert api.call("GET", "/admin/audit", user).status_code == 403
    assert put_roles(api, admin, user.uid, ["auditor"]).status_code == 200
    # The old token does not carry the role yet ...
    assert api.call("GET", "/admin/audit", user).status_code == 403
    # ... the refreshed one does.
    refreshed = auth_emulator.refresh(user)
    assert api.call("GET", "/admin/audit", refreshed).status_code == 200
    assert api.call("GET", "/me", refreshed).get_json()["roles"] == ["auditor"]


def test_demotion_takes_effect_at_once(api: Api, admin: EmulatorUser, make_user: MakeUser) -> None:
    auditor = make_user(roles=["auditor"])
    project_owner = make_user()
    project = api.create_project(project_owner)
    assert api.project_as(auditor, project["id"]).status_code == 200
    response = put_roles(api, admin, auditor.uid, [])
    assert response.get_json()["sessionsRevoked"] is True
    # The token still says "auditor", but it is refused at once.
    after = api.project_as(auditor, project["id"])
    assert (after.status_code, error_code(after)) == (401, "token_revoked")
    audit = api.call("GET", "/admin/audit", auditor)
    assert audit.status_code == 401


def test_demoted_role_is_dropped_even_without_revocation(
    api: Api, admin: EmulatorUser, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    """A token's role counts only while the user record still has it."""
    auditor = make_user(roles=["auditor"])
    # Changed behind the backend's back (no revocation): the role claim is stale.
    auth_emulator.set_custom_claims(auditor.uid, {})
    response = api.call("GET", "/admin/audit", auditor)
    assert (response.status_code, error_code(response)) == (403, "forbidden")


def test_every_change_is_audited_newest_first(
    api: Api, admin: EmulatorUser, make_user: MakeUser, make_user_auditor: EmulatorUser
) -> None:
    user = make_user()
    for roles in (["auditor"], ["admin", "auditor"], []):
        assert put_roles(api, admin, user.uid, roles).status_code == 200
    page = api.call("GET", "/admin/audit?limit=2", make_user_auditor).get_json()
    first, second = page["items"]
    assert (first["before"], first["after"]) == ({"roles": ["admin", "auditor"]}, {"roles": []})
    assert (second["before"], second["after"]) == (
        {"roles": ["auditor"]},
        {"roles": ["admin", "auditor"]},
    )
    assert {first["actor"], first["target"], first["outcome"]} == {admin.uid, user.uid, "applied"}
    rest = api.call(
        "GET", f"/admin/audit?limit=2&cursor={page['nextCursor']}", make_user_auditor
    ).get_json()
    assert [e["after"] for e in rest["items"]] == [{"roles": ["auditor"]}]
    assert rest["nextCursor"] is None


@pytest.fixture
def make_user_auditor(make_user: MakeUser) -> EmulatorUser:
    return make_user(roles=["auditor"])


def test_plain_user_cannot_read_the_audit_log(api: Api, make_user: MakeUser) -> None:
    response = api.call("GET", "/admin/audit", make_user())
    assert (response.status_code, error_code(response)) == (403, "forbidden")


def test_concurrent_changes_to_one_user_are_serialised(
    api: Api, admin: EmulatorUser, make_user: MakeUser, auth_emulator: AuthEmulator
) -> None:
    user = make_user()
    auth_emulator.set_custom_claims(user.uid, {"tier": "gold"})
    role_sets = [["auditor"], ["admin"], ["admin", "auditor"], [], ["auditor"], ["admin"]]
    app = api.client.application

    def change(roles: list[str]) -> int:
        with app.test_client() as own_client:
            return (
                Api(own_client)
                .call("PUT", f"/admin/users/{user.uid}/roles", admin, {"roles": roles})
                .status_code
            )

    with ThreadPoolExecutor(max_workers=len(role_sets)) as pool:
        statuses = list(pool.map(change, role_sets))
    assert statuses == [200] * len(role_sets)
    entries = api.call("GET", "/admin/audit?limit=100", admin).get_json()["items"]
    assert len(entries) == len(role_sets)
    chain = list(reversed(entries))  # oldest first
    assert chain[0]["before"] == {"roles": []}
    for earlier, later in itertools.pairwise(chain):
        assert later["before"] == earlier["after"], "a concurrent change was lost"
    final = stored_claims(auth_emulator, user.uid)
    assert final.get("tier") == "gold"
    assert sorted(final.get("roles", [])) == chain[-1]["after"]["roles"]


def test_make_admin_bootstraps_the_first_admin(
    api: Api, make_user: MakeUser, auth_emulator: AuthEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    user = make_user()
    assert make_admin.main(["--email", user.email]) == 0
    assert stored_claims(auth_emulator, user.uid) == {"roles": ["admin"]}
    assert "now has roles: admin" in capsys.readouterr().out
    admin = auth_emulator.refresh(user)
    entries = api.call("GET", "/admin/audit", admin).get_json()["items"]
    assert [(e["actor"], e["target"], e["after"]) for e in entries] == [
        ("cli:make_admin", user.uid, {"roles": ["admin"]})
    ]


def test_make_admin_reports_an_unknown_email(capsys: pytest.CaptureFixture[str]) -> None:
    assert make_admin.main(["--email", "ghost@example.com"]) == 1
    assert "user_not_found" in capsys.readouterr().err


def test_an_expired_lease_is_taken_over(
    api: Api, admin: EmulatorUser, make_user: MakeUser, firestore_emulator: FirestoreEmulator
) -> None:
    """A holder that died mid-change must not block the user's roles for ever."""
    user = make_user()
    lock_id = hashlib.sha256(f"claims:{user.uid}".encode()).hexdigest()
    firestore_emulator.set_document(
        f"locks/{lock_id}",
        {"holder": "dead-instance", "expiresAt": datetime.now(UTC) - timedelta(seconds=1)},
    )
    assert put_roles(api, admin, user.uid, ["auditor"]).status_code == 200
    assert firestore_emulator.get_document(f"locks/{lock_id}") is None
