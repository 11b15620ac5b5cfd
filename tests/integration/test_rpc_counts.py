"""Firestore RPCs (and Auth backend calls) per API operation, counted on the emulators.

The counts are deterministic, so they are asserted (times never are; ``bench/`` reports
those). Each RPC is counted where the Firestore client issues it, at the methods of its
GAPIC client, and each Auth call at firebase-admin's HTTP client. A change that adds a
read, a second commit or a per-request Auth lookup fails here with the numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from firebase_admin import _http_client
from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

from app import build_container
from store import projects
from store.idempotency import fingerprint
from store.models import Project
from store.rest import FirestoreRest
from tests.integration.api import Api
from tests.integration.emulator import EmulatorUser, FirestoreEmulator, MakeUser

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

#: Firestore over REST (store.rest): one HTTP request each.
REST_METHODS = ("get", "latest", "commit")
#: A revocation check's read of the user's latest recorded sign-out (one runQuery).
SIGN_OUT_READ = {"rest:latest": 1}

#: A project write: one read, then one commit preconditioned on what was read.
READ_AND_COMMIT = {"batch_get_documents": 1, "commit": 1}
#: A task write: its invariants span the project and the task, so a transaction.
TRANSACTION = {"begin_transaction": 1, "batch_get_documents": 1, "commit": 1}
#: One Auth batch lookup (``get_users``: member profiles, or ``get_user``).
LOOKUP = {"accounts:lookup": 1}


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
    # The recorded sign-outs go over Firestore's REST API (store.rest): one HTTP
    # request each, counted as ``rest:<method>``.
    for name in REST_METHODS:
        monkeypatch.setattr(
            FirestoreRest, name, firestore_counter(f"rest:{name}", getattr(FirestoreRest, name))
        )
    return counted


def test_rpcs_per_operation(api: Api, make_user: MakeUser, calls: Calls) -> None:
    owner, member, heir = make_user(), make_user(), make_user()
    admin = make_user(roles=["admin"])
    for user in (owner, heir):  # caches their records (revocation checks)
        assert api.call("GET", "/me", user).status_code == 200

    def counted(user: EmulatorUser, method: str, path: str, json: Any = None) -> Any:
        calls.reset()
        response = api.call(method, path, user, json)
        assert response.status_code < 300, response.get_json()
        return response.get_json(silent=True)

    project = counted(owner, "POST", "/projects", {"name": "counted"})
    assert (calls.firestore, calls.auth) == ({"commit": 1}, LOOKUP), (
        "create: one commit; the owner's profile (email) for `people`, then cached"
    )
    path = f"/projects/{project['id']}"

    counted(owner, "GET", path)
    assert (calls.firestore, calls.auth) == ({"batch_get_documents": 1}, {}), "get: one read"

    counted(owner, "GET", "/projects?limit=20")
    assert (calls.firestore, calls.auth) == ({"run_query": 1}, {}), "list: one query per page"

    counted(owner, "PATCH", path, {"description": "edited"})
    assert (calls.firestore, calls.auth) == (READ_AND_COMMIT, {}), "patch: read + commit"

    counted(owner, "PUT", f"{path}/members/{member.uid}", {"role": "viewer"})
    assert (calls.firestore, calls.auth) == (READ_AND_COMMIT, {"accounts:lookup": 2}), (
        "put member: read + commit, one lookup that the uid exists, one of its profile"
    )

    counted(owner, "DELETE", f"{path}/members/{member.uid}")
    assert (calls.firestore, calls.auth) == (READ_AND_COMMIT, {}), "remove member: read + commit"

    counted(owner, "POST", f"{path}/transfer", {"ownerId": heir.uid})
    assert (calls.firestore, calls.auth) == (READ_AND_COMMIT, {"accounts:lookup": 2}), (
        "transfer: read + commit, one lookup that the new owner exists, one of its profile"
    )

    tasks = f"{path}/tasks"
    task = counted(heir, "POST", tasks, {"title": "counted"})
    assert (calls.firestore, calls.auth) == (TRANSACTION, {}), (
        "create task: a transaction over the project and the task (begin, one batchGet, commit)"
    )
    counted(heir, "GET", f"{tasks}/{task['id']}")
    assert (calls.firestore, calls.auth) == ({"batch_get_documents": 1}, {}), (
        "get task: the project and the task in one batchGet"
    )
    counted(heir, "GET", f"{tasks}?done=false")
    assert (calls.firestore, calls.auth) == ({"batch_get_documents": 1, "run_query": 1}, {}), (
        "list tasks: the project, then one query per page"
    )
    counted(heir, "PATCH", f"{tasks}/{task['id']}", {"done": True})
    assert (calls.firestore, calls.auth) == (TRANSACTION, {}), "patch task: one transaction"
    counted(heir, "DELETE", f"{tasks}/{task['id']}")
    assert (calls.firestore, calls.auth) == (TRANSACTION, {}), "delete task: one transaction"

    counted(heir, "DELETE", path)
    assert (calls.firestore, calls.auth) == ({**READ_AND_COMMIT, "run_query": 1}, {}), (
        "delete: read + commit, then one query finds no task left to delete"
    )

    counted(admin, "PUT", f"/admin/users/{member.uid}/roles", {"roles": ["auditor"]})
    assert (calls.firestore, calls.auth) == (
        {"commit": 3, "batch_get_documents": 1, **SIGN_OUT_READ},
        {"accounts:lookup": 2, "accounts:update": 1},
    ), (
        "roles change: take the lease, write the audit entry, check the lease is still held "
        "before the claims write, mark the entry applied and release the lease in one "
        "fenced commit; the admin's fresh record and latest recorded sign-out (one query), "
        "the target's claims, and writing them"
    )

    counted(owner, "GET", "/me")
    assert (calls.firestore, calls.auth) == ({}, {}), (
        "/me: cached user record and recorded sign-out, no RPC"
    )


def test_a_write_that_lost_a_race_costs_one_more_read_and_commit(
    api: Api, make_user: MakeUser, calls: Calls, firestore_emulator: FirestoreEmulator
) -> None:
    """Another writer between our read and commit (over REST, so not counted here)."""
    owner = make_user()
    pid = api.create_project(owner)["id"]

    def change(current: Project) -> Project:
        if current.name != "theirs":
            firestore_emulator.request(
                "PATCH",
                f"projects/{pid}",
                params={"updateMask.fieldPaths": "name"},
                json={"fields": {"name": {"stringValue": "theirs"}}},
            )
        return dataclasses.replace(current, description="ours", version=current.version + 1)

    calls.reset()
    before, after = projects.apply(build_container().firestore, pid, change)
    assert (before.name, after) == (
        "theirs",
        dataclasses.replace(before, description="ours", version=2),
    )
    assert calls.firestore == {"batch_get_documents": 2, "commit": 2}


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
    assert calls.auth == LOOKUP  # the owner's profile, for `people`

    calls.reset()
    again = api.call("POST", "/projects", owner, {"name": "once"}, {"Idempotency-Key": "create-1"})
    assert again.headers["Idempotent-Replayed"] == "true"
    # The claim fails (the record exists), then one read of the record: no write.
    assert (calls.firestore, calls.auth) == ({"commit": 1, "batch_get_documents": 1}, {})


def test_an_expired_idempotency_record_is_taken_over_in_one_commit(
    api: Api, make_user: MakeUser, calls: Calls, firestore_emulator: FirestoreEmulator
) -> None:
    owner = make_user()
    api.call("GET", "/me", owner)
    past = datetime.now(UTC) - timedelta(seconds=1)
    firestore_emulator.set_document(
        f"idempotency/{fingerprint(owner.uid, 'old-key')}",
        {"state": "pending", "fingerprint": "other", "leaseUntil": past, "expiresAt": past},
    )
    calls.reset()
    response = api.call("POST", "/projects", owner, {"name": "x"}, {"Idempotency-Key": "old-key"})
    assert response.status_code == 201, response.get_json()
    # Failed claim, read the expired record, replace it if unchanged; project + record.
    assert calls.firestore == {"commit": 3, "batch_get_documents": 1}


def test_revocation_checks_are_cached_per_user(api: Api, make_user: MakeUser, calls: Calls) -> None:
    """Ordinary requests of one user: one Auth lookup and one query of recorded
    sign-outs, then none within the window (one cache holds both)."""
    user = make_user()
    calls.reset()
    for _ in range(20):
        assert api.call("GET", "/me", user).status_code == 200
    assert calls.auth == {"accounts:lookup": 1}
    assert calls.firestore == SIGN_OUT_READ


def test_an_expired_lease_is_taken_over_in_one_commit(
    api: Api, make_user: MakeUser, calls: Calls, firestore_emulator: FirestoreEmulator
) -> None:
    admin, user = make_user(roles=["admin"]), make_user()
    lock_id = hashlib.sha256(f"claims:{user.uid}".encode()).hexdigest()
    past = datetime.now(UTC) - timedelta(seconds=1)
    firestore_emulator.set_document(f"locks/{lock_id}", {"holder": "dead", "expiresAt": past})
    calls.reset()
    response = api.call("PUT", f"/admin/users/{user.uid}/roles", admin, {"roles": ["auditor"]})
    assert response.status_code == 200, response.get_json()
    # The failed create and a read of the lease, then the conditional takeover; the
    # audit entry, the still-held check, and the fenced applied + release as in any
    # role change; the admin's latest recorded sign-out (privileged requests read it fresh).
    assert calls.firestore == {"commit": 4, "batch_get_documents": 2, **SIGN_OUT_READ}
