"""Fixtures of the emulator tier: emulator clients, per-test wipe, users, app client.

These tests need the Auth and Firestore emulators, which ``scripts/test`` starts
(``firebase emulators:exec`` sets the variables checked below). Without them the
run stops with an error: this tier is never skipped silently.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import functions_framework
import pytest
from flask.testing import FlaskClient

from tests.integration.api import Api
from tests.integration.emulator import (
    AuthEmulator,
    EmulatorUser,
    FirestoreEmulator,
    MakeUser,
    stop_unless_emulators,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stop the run when integration tests are collected but the emulators are absent."""
    stop_unless_emulators(
        items,
        Path(__file__).parent,
        "integration tests",
        "Run the suite with scripts/test (it starts and stops the emulators), or only "
        "the unit tier with `python -m pytest tests/unit`.",
    )


#: Password of every user made by ``make_user``.
PASSWORD = "integration-password-1"


@pytest.fixture(scope="session")
def project_id() -> str:
    """The emulators' project (``emulators:exec`` exports GCLOUD_PROJECT)."""
    return os.environ.get("GCLOUD_PROJECT") or os.environ.get("PROJECT_ID") or "demo-backend"


@pytest.fixture(scope="session")
def auth_emulator(project_id: str) -> AuthEmulator:
    return AuthEmulator(os.environ["FIREBASE_AUTH_EMULATOR_HOST"], project_id)


@pytest.fixture(scope="session")
def firestore_emulator(project_id: str) -> FirestoreEmulator:
    return FirestoreEmulator(os.environ["FIRESTORE_EMULATOR_HOST"], project_id)


@pytest.fixture(autouse=True)
def _wipe_emulators(auth_emulator: AuthEmulator, firestore_emulator: FirestoreEmulator) -> None:
    """Each test starts with no users and no documents."""
    auth_emulator.wipe()
    firestore_emulator.wipe()


@pytest.fixture
def make_user(auth_emulator: AuthEmulator) -> MakeUser:
    """Factory: a new signed-in user with a unique email, verified unless told otherwise.

    ``roles`` become the custom claims ``{"roles": [...]}``; the user then signs in
    again so that the returned ID token carries them (and ``email_verified``).
    """

    def make(
        *, roles: list[str] | None = None, verified: bool = True, email: str | None = None
    ) -> EmulatorUser:
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
        user = auth_emulator.sign_up(email, PASSWORD)
        if verified:
            auth_emulator.set_email_verified(user.uid, True)
        if roles is not None:
            auth_emulator.set_custom_claims(user.uid, {"roles": roles})
        if verified or roles is not None:
            user = auth_emulator.sign_in(email, PASSWORD)
        return user

    return make


@pytest.fixture
def api(client: FlaskClient) -> Api:
    """The backend's HTTP API, as a client with a bearer token uses it."""
    return Api(client)


@pytest.fixture(scope="session")
def client() -> FlaskClient:
    """The whole backend (``main.py``'s ``local`` target) as a Flask test client.

    Not used as a context manager: ``with test_client()`` keeps the last request's
    context pushed, which would leak across tests from a session fixture.
    """
    app = functions_framework.create_app(  # type: ignore[no-untyped-call]  # untyped upstream
        target="local", source=str(REPO_ROOT / "main.py")
    )
    test_client: FlaskClient = app.test_client()
    return test_client
