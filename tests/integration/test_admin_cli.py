"""tools.admin on the emulators: every command, what it changes, and what it audits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.api import Api, error_code
from tests.integration.emulator import AuthEmulator, EmulatorUser, MakeUser, token_claims
from tools.admin import cli, users
from tools.admin import main as admin


@pytest.fixture
def admin_user(make_user: MakeUser) -> EmulatorUser:
    return make_user(roles=["admin"])


def claims(auth_emulator: AuthEmulator, uid: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(auth_emulator.get_user(uid).get("customAttributes") or "{}")
    return loaded


def audit_entries(api: Api, reader: EmulatorUser) -> list[dict[str, Any]]:
    response = api.call("GET", "/admin/audit?limit=100", reader)
    assert response.status_code == 200, response.get_json()
    items: list[dict[str, Any]] = response.get_json()["items"]
    return items


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


def after_revocation(
    auth_emulator: AuthEmulator, user: EmulatorUser, otherwise: tuple[int, str | None]
) -> tuple[int, str | None]:
    """What the backend answers ``user``'s token with once the CLI revoked their sessions.

    The CLI is another process than the backend's instances: they learn of the revocation
    from the user record. Firebase records it in whole seconds and keeps tokens issued in
    that very second, so a token issued in an earlier second is refused, and one of the
    same second gets ``otherwise``.
    """
    valid_since = int(auth_emulator.get_user(user.uid)["validSince"])
    if token_claims(user.id_token)["iat"] < valid_since:
        return (401, "token_revoked")
    return otherwise


# --- grant / revoke / roles ---------------------------------------------------------


def test_grant_adds_a_role_keeps_other_claims_and_is_audited(
    api: Api,
    make_user: MakeUser,
    admin_user: EmulatorUser,
    auth_emulator: AuthEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = make_user(roles=["auditor"])
    auth_emulator.set_custom_claims(user.uid, {"roles": ["auditor"], "tier": "gold"})
    assert admin(["--emulator", "grant", user.email, "admin"]) == 0
    assert out_of(capsys).startswith(
        f"{user.email} (uid {user.uid}) now has roles: admin, auditor\n"
    )
    assert claims(auth_emulator, user.uid) == {"roles": ["admin", "auditor"], "tier": "gold"}
    (entry,) = audit_entries(api, admin_user)
    assert (entry["action"], entry["actor"], entry["target"], entry["outcome"]) == (
        "roles.set",
        "cli:grant",
        user.uid,
        "applied",
    )
    assert (entry["before"], entry["after"]) == (
        {"roles": ["auditor"]},
        {"roles": ["admin", "auditor"]},
    )
    # The new role works once the token refreshes.
    refreshed = auth_emulator.refresh(user)
    assert api.call("GET", "/admin/users/" + user.uid + "/roles", refreshed).status_code == 200


def test_grant_by_uid_and_a_second_grant_changes_nothing(
    api: Api,
    make_user: MakeUser,
    admin_user: EmulatorUser,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = make_user()
    assert admin(["grant", user.uid, "auditor", "--emulator"]) == 0
    assert admin(["grant", user.uid, "auditor", "--emulator"]) == 0
    out = out_of(capsys)
    assert f"{user.email} (uid {user.uid}) already has auditor; nothing changed." in out
    assert len(audit_entries(api, admin_user)) == 1


def test_revoke_removes_the_role_and_it_stops_working_at_once(
    api: Api,
    make_user: MakeUser,
    admin_user: EmulatorUser,
    auth_emulator: AuthEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    auditor = make_user(roles=["auditor"])
    assert api.call("GET", "/admin/audit", auditor).status_code == 200
    assert admin(["--emulator", "revoke", auditor.email, "auditor"]) == 0
    out = out_of(capsys)
    assert f"{auditor.email} (uid {auditor.uid}) now has roles: (none)" in out
    assert "Their sessions were revoked" in out
    assert "roles" not in claims(auth_emulator, auditor.uid)
    response = api.call("GET", "/admin/audit", auditor)
    # Role-bearing tokens are checked against a fresh record: the role no longer counts.
    expected = after_revocation(auth_emulator, auditor, otherwise=(403, "forbidden"))
    assert (response.status_code, error_code(response)) == expected
    (entry,) = audit_entries(api, admin_user)
    assert (entry["actor"], entry["before"], entry["after"]) == (
        "cli:revoke",
        {"roles": ["auditor"]},
        {"roles": []},
    )
    assert admin(["--emulator", "revoke", auditor.email, "auditor"]) == 0
    assert "does not have auditor; nothing changed." in out_of(capsys)


def test_roles_prints_the_roles(make_user: MakeUser, capsys: pytest.CaptureFixture[str]) -> None:
    both = make_user(roles=["auditor", "admin"])
    none = make_user()
    assert admin(["--emulator", "roles", both.email]) == 0
    assert admin(["--emulator", "roles", none.uid]) == 0
    assert admin(["--emulator", "--json", "roles", both.uid]) == 0
    lines = out_of(capsys).splitlines()
    assert lines[0] == f"{both.email} (uid {both.uid}): admin, auditor"
    assert lines[1] == f"{none.email} (uid {none.uid}): (none)"
    assert json.loads(lines[2]) == {
        "uid": both.uid,
        "email": both.email,
        "roles": ["admin", "auditor"],
    }


# --- admins / lookup ----------------------------------------------------------------


def test_admins_pages_through_every_user(
    make_user: MakeUser, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(users, "PAGE_SIZE", 2)
    admins = sorted(
        (make_user(roles=["admin"], email=f"admin{i}@example.com") for i in range(3)),
        key=lambda u: u.email,
    )
    make_user(roles=["auditor"], email="auditor@example.com")
    for i in range(2):
        make_user(email=f"plain{i}@example.com")
    assert admin(["--emulator", "admins"]) == 0
    lines = out_of(capsys).splitlines()
    assert lines[0].split() == ["uid", "email", "roles"]
    assert [line.split()[:2] for line in lines[1:]] == [[u.uid, u.email] for u in admins]
    assert admin(["--emulator", "--json", "admins", "--role", "auditor"]) == 0
    (listed,) = json.loads(out_of(capsys))
    assert listed["email"] == "auditor@example.com"


def test_admins_with_nobody(capsys: pytest.CaptureFixture[str]) -> None:
    assert admin(["--emulator", "admins"]) == 0
    assert out_of(capsys) == "No user has the admin role.\n"


def test_lookup_by_email_and_by_uid(
    make_user: MakeUser, auth_emulator: AuthEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    user = make_user(roles=["auditor"])
    auth_emulator.set_custom_claims(user.uid, {"roles": ["auditor"], "tier": "gold"})
    assert admin(["--emulator", "lookup", user.email]) == 0
    text = out_of(capsys)
    for line in (
        f"uid:                 {user.uid}",
        f"email:               {user.email}",
        "email verified:      yes",
        "disabled:            no",
        "roles:               auditor",
        "other claims:        tier",
        "providers:           password",
    ):
        assert line in text.splitlines(), text
    auth_emulator.disable(user.uid)
    assert admin(["--emulator", "--json", "lookup", user.uid]) == 0
    record = json.loads(out_of(capsys))
    assert (record["uid"], record["disabled"], record["emailVerified"]) == (user.uid, True, True)
    assert record["customClaims"] == {"roles": ["auditor"], "tier": "gold"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["lookup", "ghost@example.com"],
            "error user_not_found: No user has the email address 'ghost@example.com'.",
        ),
        (
            ["grant", "no-such-uid", "admin"],
            "error user_not_found: No user has the uid 'no-such-uid'.",
        ),
        (["revoke-sessions", "ghost@example.com"], "error user_not_found"),
    ],
    ids=["lookup", "grant", "revoke_sessions"],
)
def test_unknown_users_exit_1_with_the_code(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(["--emulator", *argv]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


# --- revoke-sessions ----------------------------------------------------------------


def test_revoke_sessions_refuses_the_users_tokens_and_is_audited(
    api: Api,
    make_user: MakeUser,
    admin_user: EmulatorUser,
    auth_emulator: AuthEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = make_user()
    assert admin(["--emulator", "revoke-sessions", user.email]) == 0
    assert out_of(capsys).startswith(f"Revoked the sessions of {user.email} (uid {user.uid})")
    response = api.call("GET", "/me", user)
    # Within the second of the revocation, another instance still serves the token.
    expected = after_revocation(auth_emulator, user, otherwise=(200, None))
    assert (response.status_code, error_code(response)) == expected
    (entry,) = audit_entries(api, admin_user)
    assert (entry["action"], entry["actor"], entry["target"], entry["outcome"]) == (
        "sessions.revoked",
        "cli:revoke-sessions",
        user.uid,
        "applied",
    )
    valid_since = int(auth_emulator.get_user(user.uid)["validSince"])
    assert entry["after"]["validSince"] <= valid_since
    assert entry["before"]["validSince"] <= entry["after"]["validSince"]


# --- audit --------------------------------------------------------------------------


def test_audit_prints_the_newest_entries_oldest_first(
    make_user: MakeUser, capsys: pytest.CaptureFixture[str]
) -> None:
    user = make_user()
    for argv in (
        ["grant", user.uid, "admin"],
        ["grant", user.uid, "auditor"],
        ["revoke", user.uid, "admin"],
    ):
        assert admin(["--emulator", *argv]) == 0
    capsys.readouterr()
    assert admin(["--emulator", "audit", "--limit", "2"]) == 0
    lines = out_of(capsys).splitlines()
    assert len(lines) == 2
    assert f"roles.set  cli:grant -> {user.uid}" in lines[0]
    assert '{"roles":["admin"]} -> {"roles":["admin","auditor"]}  [applied]' in lines[0]
    assert f"roles.set  cli:revoke -> {user.uid}" in lines[1]
    assert admin(["--emulator", "--json", "audit"]) == 0
    entries = [json.loads(line) for line in out_of(capsys).splitlines()]
    assert [e["actor"] for e in entries] == ["cli:grant", "cli:grant", "cli:revoke"]
    assert {"id", "action", "before", "after", "time", "outcome", "requestId"} <= entries[0].keys()


def test_audit_follow_prints_new_entries_until_ctrl_c(
    make_user: MakeUser, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    user = make_user()
    assert admin(["--emulator", "grant", user.uid, "auditor"]) == 0
    capsys.readouterr()
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        """Stands in for the poll interval: a change between polls, then Ctrl-C."""
        polls.append(seconds)
        if len(polls) == 1:
            assert admin(["grant", user.uid, "admin"]) == 0
        elif len(polls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_sleep", sleep)
    assert admin(["--emulator", "audit", "--follow", "--interval", "0.5"]) == 0
    assert polls == [0.5, 0.5, 0.5]
    entries = [line for line in out_of(capsys).splitlines() if "roles.set" in line]
    assert len(entries) == 2, entries
    assert '{"roles":[]} -> {"roles":["auditor"]}' in entries[0]
    assert '{"roles":["auditor"]} -> {"roles":["admin","auditor"]}' in entries[1]


# --- the first admin ------------------------------------------------------------------


def test_make_admin_is_grant_admin_with_its_own_actor(
    api: Api, make_user: MakeUser, auth_emulator: AuthEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools import make_admin

    user = make_user()
    assert make_admin.main(["--email", user.email, "--emulator"]) == 0
    assert "now has roles: admin" in out_of(capsys)
    entries = audit_entries(api, auth_emulator.refresh(user))
    assert [(e["actor"], e["after"]) for e in entries] == [("cli:make_admin", {"roles": ["admin"]})]
