"""``Idempotency-Key`` on ``POST /projects``: retries create one project."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store.idempotency import fingerprint
from tests.integration.api import Api, error_code
from tests.integration.emulator import EmulatorUser, FirestoreEmulator, MakeUser


@pytest.fixture
def alice(make_user: MakeUser) -> EmulatorUser:
    return make_user()


def create(api: Api, user: EmulatorUser, key: str, name: str = "Once") -> Any:
    return api.call("POST", "/projects", user, {"name": name}, headers={"Idempotency-Key": key})


def owned(api: Api, user: EmulatorUser) -> list[str]:
    return [p["id"] for p in api.call("GET", "/projects", user).get_json()["items"]]


def record_path(uid: str, key: str) -> str:
    return f"idempotency/{fingerprint(uid, key)}"


def test_same_key_and_body_replays_the_first_response(api: Api, alice: EmulatorUser) -> None:
    first = create(api, alice, "key-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    api.call("PATCH", first.headers["Location"], alice, {"name": "changed since"})
    again = create(api, alice, "key-1")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert (again.headers["Location"], again.headers["ETag"]) == (
        first.headers["Location"],
        first.headers["ETag"],
    )
    assert owned(api, alice) == [first.get_json()["id"]]


def test_same_key_other_body_is_422(api: Api, alice: EmulatorUser) -> None:
    assert create(api, alice, "key-2", "A").status_code == 201
    other = create(api, alice, "key-2", "B")
    assert (other.status_code, error_code(other)) == (422, "idempotency_key_reused")
    assert len(owned(api, alice)) == 1


def test_retry_while_the_first_is_in_flight_is_409(
    api: Api, alice: EmulatorUser, firestore_emulator: FirestoreEmulator
) -> None:
    now = datetime.now(UTC)
    firestore_emulator.set_document(
        record_path(alice.uid, "key-3"),
        {
            "state": "pending",
            "fingerprint": fingerprint("In flight", ""),
            "leaseUntil": now + timedelta(seconds=30),
            "expiresAt": now + timedelta(hours=24),
        },
    )
    response = create(api, alice, "key-3", "In flight")
    assert (response.status_code, error_code(response)) == (409, "idempotency_in_progress")
    assert response.headers["Retry-After"] == "1"
    assert owned(api, alice) == []


def test_an_expired_record_no_longer_binds_the_key(
    api: Api, alice: EmulatorUser, firestore_emulator: FirestoreEmulator
) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    firestore_emulator.set_document(
        record_path(alice.uid, "key-4"),
        {"state": "pending", "fingerprint": "other", "leaseUntil": past, "expiresAt": past},
    )
    assert create(api, alice, "key-4").status_code == 201
    assert len(owned(api, alice)) == 1


def test_keys_belong_to_one_user(api: Api, alice: EmulatorUser, make_user: MakeUser) -> None:
    bob = make_user()
    mine = create(api, alice, "shared-key").get_json()
    theirs = create(api, bob, "shared-key").get_json()
    assert mine["id"] != theirs["id"]
    assert theirs["ownerId"] == bob.uid


def test_without_a_key_every_post_creates(api: Api, alice: EmulatorUser) -> None:
    api.create_project(alice, "same")
    api.create_project(alice, "same")
    assert len(owned(api, alice)) == 2


@pytest.mark.parametrize(
    "key", ["", "x" * 256, "has space", "ünï"], ids=["empty", "too_long", "space", "non_ascii"]
)
def test_malformed_keys_are_400(api: Api, alice: EmulatorUser, key: str) -> None:
    response = api.client.post(
        "/projects",
        json={"name": "x"},
        headers={"Authorization": f"Bearer {alice.id_token}", "Idempotency-Key": key},
    )
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    assert owned(api, alice) == []


def test_concurrent_retries_create_one_project(api: Api, alice: EmulatorUser) -> None:
    app = api.client.application

    def post(_: int) -> tuple[int, str | None]:
        response = create(Api(app.test_client()), alice, "race")
        return response.status_code, (response.get_json(silent=True) or {}).get("id")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(post, range(6)))
    created = {pid for status, pid in results if status == 201}
    assert {status for status, _ in results} <= {201, 409}
    assert len(created) == 1
    assert owned(api, alice) == list(created)
