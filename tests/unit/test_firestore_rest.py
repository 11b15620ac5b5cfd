"""``store.rest`` and the sign-out records over it, against a local HTTP server that
answers as Firestore would (or fails as it might): every failure to get an answer is
``Unavailable`` (503), so a revocation check fails closed, never 500 and never "not
signed out"; record paths are recognised per realm.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from auth.revocation import RevocationChecker
from core.errors import TokenRevoked, Unavailable
from store import sign_outs
from store.client import Firestore
from store.rest import Conflict, FirestoreRest, decode, encode
from store.sign_outs import FirestoreSignOuts, RecordPath, record_path
from tests.unit.test_tokens_production import UID, FakeDirectory, user

KEY = "a" * 64
SECOND = "001800000000"


class Stub:
    """A stand-in for Firestore's REST API: answers every request with ``status`` and
    ``body`` (bytes as they are, anything else as JSON); notes what it was asked."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = {}
        self.requests: list[tuple[str, str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                sent = json.loads(self.rfile.read(length)) if length else None
                stub.requests.append((self.command, self.path, sent))
                data = stub.body if isinstance(stub.body, bytes) else json.dumps(stub.body).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    yield server
    server.stop()


def rest(host: str, *, timeout: float = 5) -> FirestoreRest:
    return FirestoreRest("demo-unit", timeout_seconds=timeout, emulator_host=host)


def records(host: str, *, tenant: str | None = None) -> FirestoreSignOuts:
    db = Firestore("demo-unit", timeout_seconds=5)
    db._rest = rest(host)  # the stub instead of the emulator
    return FirestoreSignOuts(db if tenant is None else db.for_tenant(tenant))


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


# (status, body) of Firestore's reply: each is Unavailable.
FAILURES: dict[str, tuple[int, Any]] = {
    "server_error": (500, {"error": {"status": "INTERNAL"}}),
    "unavailable": (503, {"error": {"status": "UNAVAILABLE"}}),
    "quota": (429, {"error": {"status": "RESOURCE_EXHAUSTED"}}),
    "credentials_refused": (403, {"error": {"status": "PERMISSION_DENIED"}}),
    "unauthenticated": (401, {"error": {"status": "UNAUTHENTICATED"}}),
    "not_json": (200, b"<html>proxy</html>"),
    "not_a_query_reply": (200, {"document": {}}),
}


@pytest.mark.parametrize(("status", "body"), FAILURES.values(), ids=FAILURES.keys())
def test_a_failed_read_of_the_latest_sign_out_is_unavailable(
    stub: Stub, status: int, body: Any
) -> None:
    stub.status, stub.body = status, body
    with pytest.raises(Unavailable):
        records(stub.host).latest(UID)


def test_nothing_listening_is_unavailable() -> None:
    with pytest.raises(Unavailable):
        records(closed_port()).latest(UID)


def test_no_answer_within_the_timeout_is_unavailable() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(Unavailable):
            rest(host, timeout=0.2).get("signOuts/x")


def test_the_revocation_check_fails_closed_when_the_records_are_unreadable() -> None:
    checker = RevocationChecker(
        FakeDirectory(user()),
        max_age_seconds=60,
        max_entries=10,
        sign_outs=lambda: records(closed_port()),
    )
    with pytest.raises(Unavailable) as raised:
        checker.check(UID, 1_800_000_000, fresh=False, auth_time=1_800_000_000)
    assert raised.value.status == 503


def test_the_latest_record_is_one_query_in_the_users_realm(stub: Stub) -> None:
    name = f"projects/demo-unit/databases/(default)/documents/tenants/acme/signOuts/{KEY}"
    stub.body = [
        {"document": {"name": f"{name}/signOutEvents/{SECOND}", "fields": encode_at(1)}},
    ]
    assert records(stub.host, tenant="acme").latest(UID) == 1
    ((method, path, sent),) = stub.requests
    key = sign_outs.user_key(UID)
    assert (method, path) == (
        "POST",
        f"/v1/projects/demo-unit/databases/(default)/documents/tenants/acme/signOuts/{key}:runQuery",
    )
    assert sent["structuredQuery"]["from"] == [{"collectionId": "signOutEvents"}]
    assert sent["structuredQuery"]["limit"] == 1


def test_no_record_is_none(stub: Stub) -> None:
    stub.body = [{"readTime": "2026-01-01T00:00:00Z"}]
    assert records(stub.host).latest(UID) is None


def test_recording_is_one_create_only_commit_and_a_second_one_is_the_same(stub: Stub) -> None:
    path = records(stub.host).record(UID, 1_800_000_000, now=datetime.now(UTC))
    assert path == f"signOuts/{sign_outs.user_key(UID)}/signOutEvents/{SECOND}"
    ((method, url, sent),) = stub.requests
    assert (method, url.rsplit("/", 1)[-1]) == ("POST", "documents:commit")
    (write,) = sent["writes"]
    assert write["currentDocument"] == {"exists": False}
    assert write["update"]["fields"]["at"] == {"integerValue": "1800000000"}
    stub.status, stub.body = 409, {"error": {"status": "ALREADY_EXISTS"}}
    assert records(stub.host).record(UID, 1_800_000_000, now=datetime.now(UTC)) == path


def test_a_failed_precondition_is_a_conflict(stub: Stub) -> None:
    stub.status, stub.body = 404, [{"error": {"status": "NOT_FOUND"}}]  # the emulator's shape
    with pytest.raises(Conflict):
        rest(stub.host).commit([])
    stub.status, stub.body = 404, {"error": {"status": "NOT_FOUND"}}
    assert rest(stub.host).get("signOuts/x") is None


def test_a_failed_recording_signs_nobody_out(stub: Stub) -> None:
    stub.status, stub.body = 503, {"error": {"status": "UNAVAILABLE"}}
    with pytest.raises(Unavailable):
        records(stub.host).record(UID, 1_800_000_000, now=datetime.now(UTC))


@pytest.mark.parametrize(
    "value",
    [None, True, 7, -(2**63), 1.5, "naïve/é", datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)],
    ids=["null", "bool", "int", "int64_min", "double", "string", "timestamp"],
)
def test_values_round_trip(value: object) -> None:
    assert decode(encode(value)) == value


def encode_at(at: int) -> dict[str, Any]:
    return {"uid": encode(UID), "at": encode(at)}


RECORD = f"signOuts/{KEY}/signOutEvents/{SECOND}"
PATHS: dict[str, tuple[str, RecordPath | None]] = {
    "project_level": (RECORD, RecordPath(RECORD, None)),
    "tenant": (f"tenants/acme-1/{RECORD}", RecordPath(f"tenants/acme-1/{RECORD}", "acme-1")),
    "tenant_malformed": (f"tenants/a.b/{RECORD}", None),
    "tenant_empty": (f"tenants//{RECORD}", None),
    "tenant_traversal": (f"tenants/../{RECORD}", None),
    "nested_tenant": (f"tenants/a/tenants/b/{RECORD}", None),
    "other_root": (f"projects/p/{RECORD}", None),
    "short_key": (f"signOuts/{KEY[:63]}/signOutEvents/{SECOND}", None),
    "short_second": (f"signOuts/{KEY}/signOutEvents/1", None),
    "other_subcollection": (f"signOuts/{KEY}/events/{SECOND}", None),
    "trailing_slash": (f"{RECORD}/", None),
    "empty": ("", None),
}


@pytest.mark.parametrize(("path", "expected"), PATHS.values(), ids=PATHS.keys())
def test_record_paths(path: str, expected: RecordPath | None) -> None:
    assert record_path(path) == expected


def test_a_store_reads_only_its_own_realms_records(stub: Stub) -> None:
    with pytest.raises(ValueError, match="in the store's realm"):
        records(stub.host, tenant="acme").get(RECORD)
    with pytest.raises(ValueError, match="in the store's realm"):
        records(stub.host).get(f"tenants/acme/{RECORD}")
    assert stub.requests == []


def test_a_recorded_sign_out_read_over_rest_refuses_older_sessions(stub: Stub) -> None:
    stub.body = [{"document": {"name": "x/signOutEvents/1", "fields": encode_at(1_800_000_100)}}]
    checker = RevocationChecker(
        FakeDirectory(user()),
        max_age_seconds=60,
        max_entries=10,
        sign_outs=lambda: records(stub.host),
    )
    with pytest.raises(TokenRevoked):
        checker.check(UID, 1_800_000_200, fresh=True, auth_time=1_800_000_000)
