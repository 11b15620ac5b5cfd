"""Failures of the backing services: the request fails closed with 503 and nothing
is half-applied."""

from __future__ import annotations

import os
from collections.abc import Iterator

import firebase_admin
import pytest
from flask.testing import FlaskClient

from auth.directory import UserDirectory
from auth.identity import Authenticator
from auth.revocation import RevocationChecker
from core.settings import get_settings
from services import context
from store.client import Firestore
from tests.integration.api import Api, error_code
from tests.integration.emulator import FirestoreEmulator, MakeUser
from tests.integration.faults import CuttableProxy

FAST_TIMEOUT = 2


_EMULATOR = os.environ.get("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8080")


def _emulator_address() -> tuple[str, int]:
    host, port = _EMULATOR.rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def flaky_firestore(monkeypatch: pytest.MonkeyPatch) -> Iterator[CuttableProxy]:
    """The backend's Firestore client goes through a proxy the test can cut."""
    proxy = CuttableProxy(*_emulator_address())
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", proxy.address)
    db = Firestore(get_settings().project_id, timeout_seconds=FAST_TIMEOUT)
    monkeypatch.setattr(context, "firestore", lambda: db)
    yield proxy
    proxy.close()


def test_firestore_outage_is_503_and_leaves_data_whole(
    api: Api,
    make_user: MakeUser,
    flaky_firestore: CuttableProxy,
    firestore_emulator: FirestoreEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner = make_user()
    project = api.create_project(owner, "before the outage")
    path = f"projects/{project['id']}"
    flaky_firestore.cut()

    for method, url, body in (
        ("PATCH", f"/{path}", {"name": "during the outage"}),
        ("POST", "/projects", {"name": "another"}),
        ("GET", f"/{path}", None),
        ("DELETE", f"/{path}", None),
    ):
        response = api.call(method, url, owner, body)
        assert (response.status_code, error_code(response)) == (503, "unavailable"), method
        assert response.headers["Retry-After"].isdigit()

    # What the emulator holds (read directly, not through the cut line) is untouched.
    stored = firestore_emulator.get_document(path)
    assert stored is not None
    assert (stored["name"], stored["version"]) == ("before the outage", 1)
    assert len(firestore_emulator.list_documents("projects")) == 1

    # Back online, as a fresh instance sees it (a new address, so that gRPC's
    # process-wide reconnect back-off for the cut one is not what is tested):
    # the same request applies, once.
    with_proxy = CuttableProxy(*_emulator_address())
    try:
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", with_proxy.address)
        db = Firestore(get_settings().project_id, timeout_seconds=FAST_TIMEOUT)
        monkeypatch.setattr(context, "firestore", lambda: db)
        response = api.call("PATCH", f"/{path}", owner, {"name": "after the outage"})
        assert response.status_code == 200
        assert response.get_json()["version"] == 2
    finally:
        with_proxy.close()


@pytest.fixture
def unreachable_auth(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Auth backend (user records) cannot be reached; token checks still run."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"  # closed again: nothing listens
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", dead)
    settings = get_settings()
    app = firebase_admin.initialize_app(
        options={"projectId": settings.project_id, "httpTimeout": 2}, name="unreachable-auth"
    )
    directory = UserDirectory(app)
    revocation = RevocationChecker(directory, max_age_seconds=60, max_entries=100)
    authenticator = Authenticator(settings, app, directory, revocation)
    monkeypatch.setattr(context, "authenticator", lambda: authenticator)
    monkeypatch.setattr(context, "directory", lambda: directory)
    yield
    firebase_admin.delete_app(app)


@pytest.mark.parametrize("roles", [None, ["admin"]], ids=["plain_user", "admin"])
def test_auth_backend_unreachable_fails_closed(
    client: FlaskClient,
    make_user: MakeUser,
    roles: list[str] | None,
    request: pytest.FixtureRequest,
) -> None:
    user = make_user(roles=roles)  # made while the Auth emulator is still reachable
    request.getfixturevalue("unreachable_auth")
    for path in ("/me", "/projects", "/admin/audit"):
        response = client.get(path, headers={"Authorization": f"Bearer {user.id_token}"})
        assert (response.status_code, error_code(response)) == (503, "auth_unavailable"), path
