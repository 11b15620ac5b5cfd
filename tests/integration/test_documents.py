"""``store.documents.read_modify_write`` on the Firestore emulator, with real races.

The competing writer is either another thread running the same function, or a write
made from inside ``change`` (which runs after the read and before the commit) over the
emulator's REST API, i.e. another connection, as another instance would. No sleeps:
the interleavings are forced, so every test sees the race it names.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from core.errors import Busy, PreconditionFailed
from store import documents
from tests.integration.emulator import FirestoreEmulator

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference

Counter = dict[str, Any]


@pytest.fixture(scope="module")
def client(project_id: str) -> Client:
    """A client of its own: the function under test takes it as a parameter."""
    from google.cloud import firestore

    return firestore.Client(project=project_id)


@pytest.fixture
def path() -> str:
    return f"counters/{uuid.uuid4().hex}"


def ref(client: Client, path: str) -> DocumentReference:
    return client.document(path)


def decode(_doc_id: str, data: dict[str, Any]) -> Counter:
    return data


def increment(current: Counter | None) -> Counter:
    return {"n": 1 if current is None else current["n"] + 1}


def run(client: Client, path: str, change: Callable[[Counter | None], Counter | None]) -> Any:
    return documents.read_modify_write(
        client, ref(client, path), decode=decode, encode=dict, change=change, timeout=10
    )


def test_a_write_between_read_and_commit_reruns_the_change_on_fresh_data(
    client: Client, path: str, firestore_emulator: FirestoreEmulator
) -> None:
    firestore_emulator.set_document(path, {"n": 0})
    seen: list[int] = []

    def change(current: Counter | None) -> Counter:
        assert current is not None
        seen.append(current["n"])
        if len(seen) == 1:
            firestore_emulator.set_document(path, {"n": 100})  # lands before our commit
        return increment(current)

    outcome = run(client, path, change)
    assert seen == [0, 100]
    assert (outcome.before, outcome.after) == ({"n": 100}, {"n": 101})
    assert firestore_emulator.get_document(path) == {"n": 101}


def test_racing_threads_lose_no_update(client: Client, path: str) -> None:
    """All writers read the same version before any commits (a barrier inside the
    change holds them there): one commit wins each round, and the others recompute."""
    writers = 5
    assert writers <= documents.ATTEMPTS  # the bound guarantees every one gets through
    barrier = threading.Barrier(writers, timeout=30)
    calls = 0
    lock = threading.Lock()

    def one_increment(_: int) -> Any:
        first = True

        def change(current: Counter | None) -> Counter:
            nonlocal calls, first
            with lock:
                calls += 1
            if first:
                first = False
                barrier.wait()
            return increment(current)

        return run(client, path, change)

    with ThreadPoolExecutor(max_workers=writers) as pool:
        outcomes = list(pool.map(one_increment, range(writers)))

    assert ref(client, path).get().to_dict() == {"n": writers}
    # Some serial order: each writer saw what the one before it wrote.
    befores = sorted(0 if o.before is None else o.before["n"] for o in outcomes)
    assert befores == list(range(writers))
    assert calls >= 2 * writers - 1, "every writer but the first had to recompute"


def test_an_aborted_change_writes_nothing(client: Client, path: str) -> None:
    written = ref(client, path).create({"n": 3}).update_time

    def refuse(current: Counter | None) -> Counter:
        raise PreconditionFailed()

    with pytest.raises(PreconditionFailed):
        run(client, path, refuse)
    snapshot = ref(client, path).get()
    assert (snapshot.to_dict(), snapshot.update_time) == ({"n": 3}, written)


def test_a_change_that_aborts_on_the_fresh_data_writes_nothing(
    client: Client, path: str, firestore_emulator: FirestoreEmulator
) -> None:
    firestore_emulator.set_document(path, {"n": 0})

    def change(current: Counter | None) -> Counter:
        assert current is not None
        if current["n"] != 0:
            raise PreconditionFailed()
        firestore_emulator.set_document(path, {"n": 7})
        return increment(current)

    with pytest.raises(PreconditionFailed):
        run(client, path, change)
    assert firestore_emulator.get_document(path) == {"n": 7}


def test_contention_in_every_round_is_busy_and_writes_nothing_of_ours(
    client: Client, path: str, firestore_emulator: FirestoreEmulator
) -> None:
    firestore_emulator.set_document(path, {"n": 0})
    rounds = 0

    def change(current: Counter | None) -> Counter:
        nonlocal rounds
        rounds += 1
        firestore_emulator.set_document(path, {"n": -rounds})
        return {"n": 1000}

    with pytest.raises(Busy) as refused:
        run(client, path, change)
    assert (refused.value.status, refused.value.code) == (409, "busy")
    assert rounds == documents.ATTEMPTS
    assert firestore_emulator.get_document(path) == {"n": -documents.ATTEMPTS}


def test_a_create_that_loses_to_a_concurrent_create_reruns_on_it(
    client: Client, path: str, firestore_emulator: FirestoreEmulator
) -> None:
    seen: list[Counter | None] = []

    def change(current: Counter | None) -> Counter:
        seen.append(current)
        if current is None:
            firestore_emulator.set_document(path, {"n": 50})
        return increment(current)

    outcome = run(client, path, change)
    assert seen == [None, {"n": 50}]
    assert outcome.after == {"n": 51}
    assert firestore_emulator.get_document(path) == {"n": 51}


def test_a_delete_that_lost_the_race_is_decided_again(
    client: Client, path: str, firestore_emulator: FirestoreEmulator
) -> None:
    """Delete only a zero counter; someone makes it non-zero between read and commit."""
    firestore_emulator.set_document(path, {"n": 0})

    def delete_if_zero(current: Counter | None) -> Counter | None:
        assert current is not None
        if current["n"] != 0:
            return current  # keep it: writes nothing
        firestore_emulator.set_document(path, {"n": 1})
        return None

    outcome = run(client, path, delete_if_zero)
    assert outcome.after == {"n": 1}
    assert firestore_emulator.get_document(path) == {"n": 1}


def test_a_delete_applies_to_what_was_read(
    client: Client, path: str, firestore_emulator: FirestoreEmulator
) -> None:
    firestore_emulator.set_document(path, {"n": 0})
    outcome = run(client, path, lambda current: None)
    assert (outcome.before, outcome.after) == ({"n": 0}, None)
    assert firestore_emulator.get_document(path) is None


def test_an_absent_document_can_stay_absent(
    client: Client, path: str, firestore_emulator: FirestoreEmulator
) -> None:
    outcome = run(client, path, lambda current: None)
    assert (outcome.before, outcome.after) == (None, None)
    assert firestore_emulator.get_document(path) is None


def test_the_write_replaces_the_whole_document(
    client: Client, path: str, firestore_emulator: FirestoreEmulator
) -> None:
    """Fields the new value leaves out are removed; a dotted name is one field."""
    firestore_emulator.set_document(path, {"n": 0, "stale": "x", "a.b": 1, "a": {"b": 9}})

    def change(current: Counter | None) -> Counter:
        assert current is not None
        return {"n": current["n"] + 1, "a.b": 2, "a": {"c": 3}}

    run(client, path, change)
    assert firestore_emulator.get_document(path) == {"n": 1, "a.b": 2, "a": {"c": 3}}


def test_a_conditional_write_after_someone_elses_is_refused(
    client: Client, path: str, firestore_emulator: FirestoreEmulator
) -> None:
    """The building block of lease takeover (``store.locks``): one winner per read."""
    firestore_emulator.set_document(path, {"n": 0})
    snapshot = ref(client, path).get()
    assert documents.write_if_unchanged(client, ref(client, path), snapshot, {"n": 1}, timeout=10)
    with pytest.raises(documents.StaleRead):
        documents.write_if_unchanged(client, ref(client, path), snapshot, {"n": 2}, timeout=10)
    with pytest.raises(documents.StaleRead):
        documents.write_if_unchanged(client, ref(client, path), snapshot, None, timeout=10)
    assert firestore_emulator.get_document(path) == {"n": 1}


def test_an_empty_document_can_stay_empty(
    client: Client, path: str, firestore_emulator: FirestoreEmulator
) -> None:
    firestore_emulator.set_document(path, {})
    outcome = run(client, path, lambda current: {})
    assert (outcome.before, outcome.after) == ({}, {})
    assert firestore_emulator.get_document(path) == {}
