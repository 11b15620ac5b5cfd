"""Failures of the backing services: the request fails closed with 503 and nothing
is half-applied."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import firebase_admin
import pytest
from flask.testing import FlaskClient

from app import build_container
from core.settings import Settings
from store.client import Firestore, connect
from tests.entry_points import serving
from tests.integration.api import Api, error_code
from tests.integration.emulator import FirestoreEmulator, MakeUser
from tests.integration.faults import CuttableProxy

FAST_TIMEOUT = 2


_EMULATOR = os.environ.get("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8080")


def _emulator_address() -> tuple[str, int]:
    host, port = _EMULATOR.rsplit(":", 1)
    return host, int(port)


def backend_through(proxy: CuttableProxy, monkeypatch: pytest.MonkeyPatch) -> Api:
    """A fresh instance of the backend whose Firestore client goes through ``proxy``."""
    settings = Settings.from_env()
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", proxy.address)  # read by the client
    client = connect(settings.project_id, FAST_TIMEOUT)
    firestore = Firestore(settings.project_id, timeout_seconds=FAST_TIMEOUT, client=client)
    container = build_container(settings, firestore=firestore)
    return Api(serving("local", container).test_client())


@pytest.fixture
def flaky_firestore() -> Iterator[CuttableProxy]:
    """A line to the Firestore emulator that the test can cut."""
    proxy = CuttableProxy(*_emulator_address())
    yield proxy
    proxy.close()


def test_firestore_outage_is_503_and_leaves_data_whole(
    make_user: MakeUser,
    flaky_firestore: CuttableProxy,
    firestore_emulator: FirestoreEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = backend_through(flaky_firestore, monkeypatch)
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
        response = backend_through(with_proxy, monkeypatch).call(
            "PATCH", f"/{path}", owner, {"name": "after the outage"}
        )
        assert response.status_code == 200
        assert response.get_json()["version"] == 2
    finally:
        with_proxy.close()


@pytest.fixture
def unreachable_auth(monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    """The backend, with an Auth backend (user records) that cannot be reached; token
    checks still run."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"  # closed again: nothing listens
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", dead)
    settings = Settings.from_env()
    app = firebase_admin.initialize_app(
        options={"projectId": settings.project_id, "httpTimeout": 2}, name="unreachable-auth"
    )
    container = build_container(settings, firebase_app=app)
    yield serving("local", container).test_client()
    firebase_admin.delete_app(app)


@pytest.mark.parametrize("roles", [None, ["admin"]], ids=["plain_user", "admin"])
def test_auth_backend_unreachable_fails_closed(
    make_user: MakeUser, roles: list[str] | None, request: pytest.FixtureRequest
) -> None:
    user = make_user(roles=roles)  # made while the Auth emulator is still reachable
    client: FlaskClient = request.getfixturevalue("unreachable_auth")
    for path in ("/me", "/projects", "/admin/audit"):
        response = client.get(path, headers={"Authorization": f"Bearer {user.id_token}"})
        assert (response.status_code, error_code(response)) == (503, "auth_unavailable"), path
