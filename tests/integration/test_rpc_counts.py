"""Firestore RPCs (and Auth backend calls) per API operation, counted on the emulators.

The counts are deterministic, so they are asserted (times never are; ``bench/`` reports
those). Each RPC is counted where the Firestore client issues it, at the methods of its
GAPIC client, and each Auth call at firebase-admin's HTTP client. A change that adds a
read, a second commit or a per-request Auth lookup fails here with the numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from firebase_admin import _http_client
from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

from tests.integration.api import Api
from tests.integration.emulator import MakeUser

#: Every FirestoreClient method that issues an RPC.
FIRESTORE_METHODS = (
    "batch_get_documents",
    "batch_write",
    "begin_transaction",
    "commit",
    "create_document",
    "delete_document",
    "get_document",
    "list_collection_ids",
    "list_documents",
    "listen",
    "partition_query",
    "rollback",
    "run_aggregation_query",
    "run_query",
    "update_document",
    "write",
)

TRANSACTION = {"begin_transaction": 1, "batch_get_documents": 1, "commit": 1}


class Calls:
    """What one operation sent: Firestore RPCs by method, Auth calls by endpoint."""

    def __init__(self) -> None:
        self.firestore: Counter[str] = Counter()
        self.auth: Counter[str] = Counter()

    def reset(self) -> None:
        self.firestore.clear()
        self.auth.clear()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    counted = Calls()

    def firestore_counter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            counted.firestore[name] += 1
            return original(self, *args, **kwargs)

        return call

    for name in FIRESTORE_METHODS:
        monkeypatch.setattr(
            FirestoreClient, name, firestore_counter(name, getattr(FirestoreClient, name))
        )
    original_request = _http_client.HttpClient.request

    def auth_request(self: Any, method: str, url: str, **kwargs: Any) -> Any:
        counted.auth[url.rsplit("/", 1)[-1].split("?")[0]] += 1
        return original_request(self, method, url, **kwargs)

    monkeypatch.setattr(_http_client.HttpClient, "request", auth_request)
    return counted


def test_rpcs_per_operation(api: Api, make_user: MakeUser, calls: Calls) -> None:
    owner, member = make_user(), make_user()
    assert api.call("GET", "/me", owner).status_code == 200  # caches the owner's record

    def counted(method: str, path: str, json: Any = None, **headers: str) -> Any:
        calls.reset()
        response = api.call(method, path, owner, json, headers or None)
        assert response.status_code < 300, response.get_json()
        return response.get_json(silent=True)

    project = counted("POST", "/projects", {"name": "counted"})
    assert (calls.firestore, calls.auth) == ({"commit": 1}, {}), "create: one commit"
    path = f"/projects/{project['id']}"

    counted("GET", path)
    assert (calls.firestore, calls.auth) == ({"batch_get_documents": 1}, {}), "get: one read"

    counted("PATCH", path, {"description": "edited"})
    assert (calls.firestore, calls.auth) == (TRANSACTION, {}), "patch: one transaction"

    counted("GET", "/projects?limit=20")
    assert (calls.firestore, calls.auth) == ({"run_query": 1}, {}), "list: one query per page"

    counted("PUT", f"{path}/members/{member.uid}", {"role": "viewer"})
    assert (calls.firestore, calls.auth) == (TRANSACTION, {"accounts:lookup": 1}), (
        "add member: one transaction, and one lookup that the uid exists"
    )

    counted("DELETE", path)
    assert (calls.firestore, calls.auth) == (TRANSACTION, {}), "delete: one transaction"

    counted("GET", "/me")
    assert (calls.firestore, calls.auth) == ({}, {}), "/me: no Firestore, cached user record"


def test_idempotent_create_adds_one_commit_for_the_record(
    api: Api, make_user: MakeUser, calls: Calls
) -> None:
    owner = make_user()
    api.call("GET", "/me", owner)
    calls.reset()
    response = api.call(
        "POST", "/projects", owner, {"name": "once"}, {"Idempotency-Key": "create-1"}
    )
    assert response.status_code == 201, response.get_json()
    # Claim the key (create-if-absent), then the project and the completed record together.
    assert calls.firestore == {"commit": 2}
    assert calls.auth == {}


def test_revocation_checks_are_cached_per_user(api: Api, make_user: MakeUser, calls: Calls) -> None:
    """Ordinary requests of one user: one Auth lookup, then none within the window."""
    user = make_user()
    calls.reset()
    for _ in range(20):
        assert api.call("GET", "/me", user).status_code == 200
    assert calls.auth == {"accounts:lookup": 1}
