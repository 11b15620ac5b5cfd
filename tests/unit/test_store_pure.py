"""The I/O-free parts of the store: IDs, cursors, document mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.errors import InvalidCursor
from store import cursors
from store.ids import is_document_id
from store.models import Project
from store.projects import from_document, to_document

GOOD_ID = "AbCdEfGhIjKlMnOpQrSt"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (GOOD_ID, True),
        ("a" * 19, False),
        ("a" * 21, False),
        ("a/b" + "c" * 17, False),
        ("." * 20, False),
        ("__" + "a" * 16 + "__", False),
        ("a" * 19 + "\u200b", False),
        ("a" * 19 + " ", False),
        ("a" * 19 + "é", False),
        ("", False),
    ],
    ids=[
        "auto_id",
        "short",
        "long",
        "slash",
        "dots",
        "reserved_name",
        "zero_width",
        "space",
        "non_ascii",
        "empty",
    ],
)
def test_only_auto_ids_name_documents(value: str, ok: bool) -> None:
    assert is_document_id(value) is ok


def test_cursor_round_trip() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    assert cursors.decode(cursors.encode(when, GOOD_ID)) == (when, GOOD_ID)


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "e30",  # {}
        "WyJ4IiwieSJd",  # ["x","y"]
        cursors.encode(datetime(2026, 1, 1, tzinfo=UTC), "a/b"),
        cursors.encode(datetime(2026, 1, 1), GOOD_ID),  # naive time
        "A" * 500,
    ],
    ids=["not_base64", "object", "bad_time", "bad_id", "naive_time", "too_long"],
)
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as raised:
        cursors.decode(cursor)
    assert raised.value.status == 400


def test_document_round_trip_adds_members() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    project = Project(GOOD_ID, "n", "d", "o", ("e",), ("v",), when, when, 2)
    document = to_document(project)
    assert document["members"] == ["o", "e", "v"]
    assert "id" not in document
    assert from_document(GOOD_ID, document) == project


@pytest.mark.parametrize(
    "bad_id",
    ["a/b", "..", ".", "__name__", "x" * 1500, "AbCdEfGhIjKlMnOpQrS\u200b", "A\x00" * 10, ""],
    ids=["slash", "dotdot", "dot", "reserved", "over_long", "zero_width", "nul", "empty"],
)
def test_impossible_ids_never_reach_firestore(bad_id: str) -> None:
    from auth import Principal
    from core.errors import NotFound
    from services.projects import ProjectService
    from store.client import Firestore
    from store.idempotency import FirestoreIdempotency
    from store.projects import FirestoreProjects

    class NoFirestore(Firestore):
        @property
        def client(self) -> Any:
            raise AssertionError("a Firestore client was requested")

    db = NoFirestore("demo-unit", timeout_seconds=1)
    service = ProjectService(
        projects=FirestoreProjects(db),
        idempotency=FirestoreIdempotency(db),
        require_verified_email=True,
        user_exists=lambda uid: True,
    )
    principal = Principal("u", email_verified=True)
    for call in (
        lambda: service.get(principal, bad_id),
        lambda: service.edit(principal, bad_id, name="x", description=None, if_match=None),
        lambda: service.delete(principal, bad_id, if_match=None),
        lambda: service.transfer(principal, bad_id, "v", if_match=None),
    ):
        with pytest.raises(NotFound):
            call()


def test_every_firestore_rpc_gets_a_timeout() -> None:
    from store.client import _DefaultTimeout

    calls: list[dict[str, object]] = []

    class FakeGapic:
        transport = "kept as is"

        def commit(self, **kwargs: object) -> str:
            calls.append(kwargs)
            return "committed"

    api = _DefaultTimeout(FakeGapic(), 7.0)
    assert api.commit(request={}) == "committed"
    assert api.commit(request={}, timeout=2.0) == "committed"
    assert [c["timeout"] for c in calls] == [7.0, 2.0]
    assert api.transport == "kept as is"


def test_the_real_client_is_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards the private attribute the wrapper relies on (pinned google-cloud-firestore)."""
    from google.cloud import firestore

    from store.client import _DefaultTimeout, _with_default_timeout

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
    client = firestore.Client(project="demo-unit")
    _with_default_timeout(client, 3.0)
    api = client._firestore_api
    assert isinstance(api, _DefaultTimeout)
    # The library's retries (60 s, 300 s for queries) are cut to the same 3 s.
    for method in ("begin_transaction", "commit", "rollback", "get_document", "run_query"):
        retry = api.default_retry(method)
        assert retry is not None, method
        assert retry.timeout == 3.0


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [
        ("aborted", 409, "busy"),
        ("retries_exhausted", 409, "busy"),
        ("unavailable", 503, "unavailable"),
        ("deadline", 503, "unavailable"),
    ],
    ids=lambda v: str(v),
)
def test_firestore_failures_become_409_or_503_with_retry_after(
    raised: str, status: int, code: str
) -> None:
    from google.api_core import exceptions as gexc

    from core.errors import ApiError
    from store.errors import translated

    def fail() -> None:
        if raised == "aborted":
            raise gexc.Aborted("contention")
        if raised == "retries_exhausted":
            raise ValueError("Failed to commit transaction in 5 attempts.") from gexc.Aborted("x")
        if raised == "unavailable":
            raise gexc.ServiceUnavailable("connection refused")
        raise gexc.DeadlineExceeded("slow")

    with pytest.raises(ApiError) as caught, translated():
        fail()
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.headers["Retry-After"].isdigit()


def test_other_value_errors_are_not_disguised_as_contention() -> None:
    from store.errors import translated

    with pytest.raises(ValueError, match="bug"), translated():
        raise ValueError("a bug")


def test_a_failed_rollback_after_an_outage_is_still_an_outage() -> None:
    """Regression: begin_transaction failed, then rollback raised ValueError (was a 500)."""
    from google.api_core import exceptions as gexc

    from core.errors import Unavailable
    from store.errors import translated

    def begin_then_rollback() -> None:
        try:
            raise gexc.RetryError("Timeout of 60.0s exceeded", gexc.ServiceUnavailable("down"))
        except gexc.RetryError:
            raise ValueError("The transaction has no transaction ID") from None

    with pytest.raises(Unavailable), translated():
        begin_then_rollback()
