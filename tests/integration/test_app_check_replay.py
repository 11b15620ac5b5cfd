"""App Check replay protection on the emulators: the single-use operations spend their
App Check token in Firestore (``appCheckConsumed``), so a second request with it is
``401 app_check_replayed`` and changes nothing.

App Check has no emulator: tokens are real RS256 JWTs signed with the unit tier's test
key, whose JWKS a local server publishes (allowed only with a ``demo-`` project). The
backend is the whole app (``main.py``'s ``local``) with ``APP_CHECK`` switched on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from app import build_container
from core.settings import AppCheckMode, Settings
from handlers import entry_point
from handlers import http as http_module
from store import app_check as ledger
from tests.entry_points import flask_app
from tests.integration.api import Api, error_code
from tests.integration.emulator import (
    AuthEmulator,
    EmulatorUser,
    FirestoreEmulator,
    MakeUser,
    bearer,
)
from tests.unit import app_check_forge as forge
from tests.unit import tokenforge
from tests.unit.tokenforge import CertServer

SetMode = Callable[[AppCheckMode], None]
HEADER = http_module.APP_CHECK_HEADER


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[CertServer]:
    with CertServer(forge.jwks(tokenforge.signing_key())) as server:
        yield server


@dataclasses.dataclass
class Backend:
    """The whole backend (``local``), rebuilt from other settings by ``app_check``."""

    serve: Callable[[Any], Any]


@pytest.fixture
def backend() -> Backend:
    return Backend(entry_point("local", build_container()))


@pytest.fixture
def api(backend: Backend) -> Api:
    """This module's API: the backend of ``backend`` (switched by ``app_check``)."""
    return Api(flask_app(lambda request: backend.serve(request)).test_client())


@pytest.fixture
def app_check(backend: Backend, jwks_server: CertServer) -> SetMode:
    """Serve with a backend in an App Check mode, with the local key set."""

    def set_mode(mode: AppCheckMode) -> None:
        settings = dataclasses.replace(
            Settings.from_env(),
            app_check=mode,
            project_number=forge.PROJECT_NUMBER,
            app_check_jwks_url=jwks_server.url,
        )
        settings.check_safety()  # a local key set is accepted with the demo- project
        backend.serve = entry_point("local", build_container(settings))

    return set_mode


@pytest.fixture
def mint(project_id: str) -> Callable[..., str]:
    """A fresh App Check token for the emulators' project."""

    def make(**overrides: Any) -> str:
        audience = [f"projects/{forge.PROJECT_NUMBER}", f"projects/{project_id}"]
        return forge.mint({"aud": audience, **overrides})

    return make


def with_app_check(user: EmulatorUser, token: str) -> dict[str, str]:
    return {**bearer(user), HEADER: token}


def stored_roles(auth_emulator: AuthEmulator, uid: str) -> list[str]:
    claims = json.loads(auth_emulator.get_user(uid).get("customAttributes") or "{}")
    roles: list[str] = claims.get("roles", [])
    return roles


# --- each single-use operation -------------------------------------------------------


def test_put_roles_spends_the_token_and_a_replay_changes_nothing(
    app_check: SetMode,
    mint: Callable[..., str],
    api: Api,
    make_user: MakeUser,
    auth_emulator: AuthEmulator,
    firestore_emulator: FirestoreEmulator,
) -> None:
    app_check("enforce")
    admin, user = make_user(roles=["admin"]), make_user()
    token = mint()
    path = f"/admin/users/{user.uid}/roles"
    first = api.client.put(path, json={"roles": ["auditor"]}, headers=with_app_check(admin, token))
    assert first.status_code == 200, first.get_json()
    replay = api.client.put(path, json={"roles": []}, headers=with_app_check(admin, token))
    assert (replay.status_code, error_code(replay)) == (401, "app_check_replayed")
    assert replay.headers["WWW-Authenticate"] == "Bearer"
    assert stored_roles(auth_emulator, user.uid) == ["auditor"]
    assert len(firestore_emulator.list_documents("auditLog")) == 1, "the replay left no entry"
    fresh = api.client.put(path, json={"roles": []}, headers=with_app_check(admin, mint()))
    assert fresh.status_code == 200
    assert stored_roles(auth_emulator, user.uid) == []


def test_revoke_sessions_spends_the_token(
    app_check: SetMode, mint: Callable[..., str], api: Api, make_user: MakeUser
) -> None:
    app_check("enforce")
    user, other = make_user(), make_user()
    token = mint()
    first = api.client.post("/me/revoke-sessions", headers=with_app_check(user, token))
    assert first.status_code == 204
    # Another signed-in user with the spent token: refused before authentication.
    replay = api.client.post("/me/revoke-sessions", headers=with_app_check(other, token))
    assert (replay.status_code, error_code(replay)) == (401, "app_check_replayed")
    still = api.client.get("/me", headers=with_app_check(other, mint()))
    assert still.status_code == 200, "the replay did not sign the other user out"


def test_session_cookie_creation_spends_the_token(
    app_check: SetMode, mint: Callable[..., str], api: Api, make_user: MakeUser
) -> None:
    app_check("enforce")
    user = make_user()
    browser = api.client.application.test_client()
    token = mint()
    first = browser.post("/session", headers=with_app_check(user, token))
    assert first.status_code == 204
    assert first.headers["Set-Cookie"].startswith("__session=")
    replay = browser.post("/session", headers=with_app_check(user, token))
    assert (replay.status_code, error_code(replay)) == (401, "app_check_replayed")
    assert "Set-Cookie" not in replay.headers


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/session", None),
        ("POST", "/me/revoke-sessions", None),
        ("PUT", "/admin/users/{uid}/roles", {"roles": ["auditor"]}),
    ],
    ids=["session", "revoke_sessions", "put_roles"],
)
def test_single_use_operations_without_a_token_are_refused_unchanged(
    app_check: SetMode,
    mint: Callable[..., str],
    api: Api,
    make_user: MakeUser,
    auth_emulator: AuthEmulator,
    firestore_emulator: FirestoreEmulator,
    method: str,
    path: str,
    body: Any,
) -> None:
    app_check("enforce")
    admin, user = make_user(roles=["admin"]), make_user()
    response = api.call(method, path.format(uid=user.uid), admin, body)
    assert (response.status_code, error_code(response)) == (401, "app_check_failed")
    assert "Set-Cookie" not in response.headers
    assert stored_roles(auth_emulator, user.uid) == []
    assert firestore_emulator.list_documents("auditLog") == {}
    assert api.call("GET", "/me", admin, headers={HEADER: mint()}).status_code == 200, (
        "the admin's session was not touched"
    )


# --- the ledger ----------------------------------------------------------------------


def test_reads_accept_a_token_many_times_and_spend_nothing(
    app_check: SetMode,
    mint: Callable[..., str],
    api: Api,
    make_user: MakeUser,
    firestore_emulator: FirestoreEmulator,
) -> None:
    app_check("enforce")
    user, token = make_user(), mint()
    for _ in range(3):
        assert api.client.get("/me", headers=with_app_check(user, token)).status_code == 200
    assert firestore_emulator.list_documents(ledger.COLLECTION) == {}


def test_a_spent_token_is_recorded_by_a_hash_with_its_expiry(
    app_check: SetMode,
    mint: Callable[..., str],
    api: Api,
    make_user: MakeUser,
    firestore_emulator: FirestoreEmulator,
) -> None:
    app_check("enforce")
    user, token = make_user(), mint()
    response = api.client.post("/me/revoke-sessions", headers=with_app_check(user, token))
    assert response.status_code == 204
    claims = tokenforge.claims_of(token)
    records = firestore_emulator.list_documents(ledger.COLLECTION)
    replay_id = hashlib.sha256(f"jti:{claims['jti']}".encode()).hexdigest()
    assert list(records) == [replay_id]
    record = records[replay_id]
    skew = Settings.from_env().clock_skew_seconds
    assert record["appId"] == forge.APP_ID
    assert record["expiresAt"] == datetime.fromtimestamp(claims["exp"] + skew, UTC)
    assert isinstance(record["consumedAt"], datetime)
    assert token not in json.dumps(record, default=str)


def test_concurrent_spends_of_one_token_succeed_once(
    firestore_emulator: FirestoreEmulator,
) -> None:
    """Across threads (as across instances), Firestore's create lets exactly one win."""
    outcomes: list[bool] = []
    start = threading.Barrier(8)
    expires_at = datetime(2100, 1, 1, tzinfo=UTC)
    db = build_container().firestore

    def spend() -> None:
        start.wait()
        outcomes.append(
            ledger.consume(db, "a" * 64, app_id=forge.APP_ID, expires_at=expires_at, now=expires_at)
        )

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False] * 7 + [True]
    assert list(firestore_emulator.list_documents(ledger.COLLECTION)) == ["a" * 64]


# --- monitor mode ----------------------------------------------------------------------


def test_monitor_lets_a_replay_through_and_logs_it(
    app_check: SetMode,
    mint: Callable[..., str],
    api: Api,
    make_user: MakeUser,
    auth_emulator: AuthEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app_check("monitor")
    admin, user = make_user(roles=["admin"]), make_user()
    token, path = mint(), f"/admin/users/{user.uid}/roles"
    assert (
        api.client.put(
            path, json={"roles": ["auditor"]}, headers=with_app_check(admin, token)
        ).status_code
        == 200
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="handlers.http"):
        replay = api.client.put(path, json={"roles": []}, headers=with_app_check(admin, token))
    assert replay.status_code == 200
    assert stored_roles(auth_emulator, user.uid) == []
    (line,) = [r for r in caplog.records if r.name == "handlers.http"]
    assert (getattr(line, "appCheck", None), getattr(line, "appId", None)) == (
        "replayed",
        forge.APP_ID,
    )
    assert token.split(".")[2] not in caplog.text
