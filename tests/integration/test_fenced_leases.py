"""Fenced leases on the Firestore emulator: a holder stalled past its lease (its clock
says it still holds it; its successor's clock says it expired: no sleeps) cannot
release, complete or overwrite its successor's work, and the successor's work stands.

The stall is injected through hooks: the successor runs inside the stale holder's
call, between its read and its writes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app import build_container
from auth import Role, UserRecord
from core.errors import Busy, IdempotencyInProgress
from core.settings import Settings
from services.roles import RoleService
from store.audit import APPLIED, PENDING, FirestoreAuditLog
from store.client import Firestore
from store.idempotency import PENDING_LEASE, Claim, FirestoreIdempotency, fingerprint
from store.locks import FirestoreLeases, _doc_id
from store.models import AuditEntry, Project
from tests.integration.emulator import AuthEmulator, FirestoreEmulator, MakeUser

LEASE = timedelta(seconds=30)


@pytest.fixture
def db() -> Firestore:
    return Firestore(Settings.from_env().project_id, timeout_seconds=10)


def _entry(audit: FirestoreAuditLog, actor: str, target: str) -> AuditEntry:
    return audit.record(
        AuditEntry(
            id=audit.new_id(),
            action="roles.set",
            actor=actor,
            target=target,
            before={"roles": []},
            after={"roles": ["auditor"]},
            time=datetime.now(UTC),
        )
    )


def test_a_stale_lease_holder_neither_releases_nor_completes_under_its_successor(
    db: Firestore, firestore_emulator: FirestoreEmulator
) -> None:
    t0 = datetime.now(UTC)
    stale_leases = FirestoreLeases(db, lease=LEASE, clock=lambda: t0)
    next_leases = FirestoreLeases(db, lease=LEASE, clock=lambda: t0 + LEASE + timedelta(seconds=1))
    audit = FirestoreAuditLog(db)
    lock = f"locks/{_doc_id('claims:someone')}"

    with stale_leases.held("claims:someone", "stale") as stale:
        stale_entry = _entry(audit, "stale", "someone")
        # Stalled past its lease: the next holder's clock says it expired; it takes over.
        with next_leases.held("claims:someone", "next") as successor:
            next_entry = _entry(audit, "next", "someone")
            with pytest.raises(Busy):
                stale_leases.check(stale)
            with pytest.raises(Busy):
                audit.mark_applied(stale_entry.id, fence=stale)
            stale_leases.release(stale)
            assert (firestore_emulator.get_document(lock) or {}).get("holder") == "next"
            next_leases.check(successor)  # still its own
            audit.mark_applied(next_entry.id, fence=successor)  # and releases it
    assert firestore_emulator.get_document(lock) is None
    outcomes = {
        entry.id: (firestore_emulator.get_document(f"auditLog/{entry.id}") or {}).get("outcome")
        for entry in (stale_entry, next_entry)
    }
    assert outcomes == {stale_entry.id: PENDING, next_entry.id: APPLIED}


class _StallingDirectory:
    """The real user directory, except that ``get`` runs ``after_read`` once, right
    after reading (the holder stalls there: it has read the claims it will merge)."""

    def __init__(self, real: Any, after_read: Callable[[], object]) -> None:
        self._real = real
        self._after_read: list[Callable[[], object]] = [after_read]

    def get(self, uid: str) -> UserRecord:
        record: UserRecord = self._real.get(uid)
        while self._after_read:
            self._after_read.pop()()
        return record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_role_change_stalled_past_its_lease_does_not_overwrite_the_next_one(
    db: Firestore,
    make_user: MakeUser,
    auth_emulator: AuthEmulator,
    firestore_emulator: FirestoreEmulator,
) -> None:
    """The stale change read the claims, stalled; the next change (to ``admin``) ran to
    the end under the lease it took over. The stale one then writes no claims (they
    stay the next change's), is told ``busy``, and leaves its audit entry ``pending``."""
    user = make_user()
    container = build_container(Settings.from_env(), firestore=db)
    t0 = datetime.now(UTC)
    lease = container.leases.lease
    service: RoleService = container.roles
    successor = dataclasses.replace(
        service,
        leases=FirestoreLeases(db, lease=lease, clock=lambda: t0 + lease + timedelta(seconds=1)),
    )
    changes: list[Any] = []

    def next_change() -> None:
        changes.append(
            successor.change_roles_as_operator(
                user.uid, add=frozenset({Role.ADMIN}), actor="cli:next"
            )
        )

    stale = dataclasses.replace(
        service,
        directory=_StallingDirectory(service.directory, next_change),  # type: ignore[arg-type]
        leases=FirestoreLeases(db, lease=lease, clock=lambda: t0),
    )
    with pytest.raises(Busy):
        stale.change_roles_as_operator(user.uid, add=frozenset({Role.AUDITOR}), actor="cli:stale")

    (done,) = changes
    assert done.after == frozenset({Role.ADMIN})
    claims = json.loads(auth_emulator.get_user(user.uid).get("customAttributes", "{}"))
    assert claims == {"roles": ["admin"]}  # the next change's claims stand
    entries = {
        doc["actor"]: doc["outcome"]
        for doc in firestore_emulator.list_documents("auditLog").values()
    }
    assert entries == {"cli:next": APPLIED, "cli:stale": PENDING}
    assert firestore_emulator.get_document(f"locks/{_doc_id(f'claims:{user.uid}')}") is None


def _project(project_id: str, owner: str) -> Project:
    now = datetime.now(UTC)
    return Project(
        id=project_id,
        name=project_id,
        description="",
        owner_id=owner,
        editors=(),
        viewers=(),
        created_at=now,
        updated_at=now,
        version=1,
    )


def test_a_stale_idempotency_claim_neither_completes_nor_deletes_its_successors_record(
    db: Firestore, firestore_emulator: FirestoreEmulator
) -> None:
    records = FirestoreIdempotency(db)
    t0 = datetime.now(UTC)
    body = fingerprint("n", "d")
    stale = records.claim("u1", "key", body, now=t0)
    # Stalled past its pending lease: a retry (its clock past the lease) takes the key over.
    successor = records.claim("u1", "key", body, now=t0 + PENDING_LEASE + timedelta(seconds=1))
    assert isinstance(stale, Claim)
    assert isinstance(successor, Claim)
    record = f"idempotency/{fingerprint('u1', 'key')}"

    records.release("u1", "key", stale)
    assert (firestore_emulator.get_document(record) or {}).get("state") == "pending"
    with pytest.raises(IdempotencyInProgress):
        records.create_project("u1", "key", _project("A" * 20, "u1"), stale)
    assert firestore_emulator.get_document(f"projects/{'A' * 20}") is None  # both or neither

    created = records.create_project("u1", "key", _project("B" * 20, "u1"), successor)
    records.release("u1", "key", stale)  # still nothing of the successor's to delete
    assert firestore_emulator.get_document(f"projects/{'B' * 20}") is not None
    assert records.claim("u1", "key", body, now=t0) == created  # a replay of its project
