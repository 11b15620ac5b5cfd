"""The benchmark server: a functions-framework source whose target ``bench`` serves,
in one process and on the same gunicorn settings,

- ``/hello``: a public JSON endpoint through the backend's HTTP shell
  (``handlers.http.Function``: routing, headers, request log), the baseline;
- ``/me``, ``/projects/...``, ``/admin/...``: the backend itself (``main.local``);
- ``/naive/me``: the usual pattern, ``firebase_admin.auth.verify_id_token`` on every
  request (``?check_revoked=1`` adds ``check_revoked=True``), through the same shell;
- ``/__bench/stats``: counters (with ``BENCH_INSTRUMENT=1``): requests and time in the
  handler, Auth backend calls and Firestore RPCs by method, with the time spent in them.

Token verification runs on the production path (real RS256 tokens, keys from
``BENCH_CERT_URL``, which stands in for Google's). User records come from the Auth
emulator at ``BENCH_USER_BACKEND``: firebase-admin's user-management client is built
while ``FIREBASE_AUTH_EMULATOR_HOST`` names the emulator, which is then unset, so that
lookups go to the emulator while tokens are verified as in production. Nothing here is
stubbed: every Auth call the benches count is a real HTTP call to the emulator.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firebase_admin import _token_gen

from auth import keys as _keys

# The bench's key server stands in for Google's, for firebase-admin and for this backend.
_token_gen.ID_TOKEN_CERT_URI = _keys.ID_TOKEN_CERT_URI = os.environ["BENCH_CERT_URL"]

from firebase_admin import auth as fb_auth  # noqa: E402
from flask import Request, Response  # noqa: E402

import main  # noqa: E402 - the backend: settings checked and logging configured as deployed
from app import build_container  # noqa: E402
from auth import firebase_app  # noqa: E402
from core.settings import Settings  # noqa: E402
from handlers.endpoints import NO_POLICY_PUBLIC, PUBLIC  # noqa: E402
from handlers.http import Function  # noqa: E402
from handlers.responses import json_response  # noqa: E402

_SETTINGS = Settings.from_env()


def _hybrid_user_backend() -> None:
    backend = os.environ.get("BENCH_USER_BACKEND")
    if not backend:
        return
    os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = backend
    try:
        # The backend's firebase-admin app (the default one); builds its client with the
        # emulator's URLs.
        client = fb_auth._get_client(firebase_app(_SETTINGS))
    finally:
        del os.environ["FIREBASE_AUTH_EMULATOR_HOST"]
    assert client._token_verifier.id_token_verifier.cert_url == _token_gen.ID_TOKEN_CERT_URI


_hybrid_user_backend()


# --- counters ------------------------------------------------------------------------

_lock = threading.Lock()
_stats: dict[str, Any] = {"requests": 0, "handler_seconds": 0.0, "auth": {}, "firestore": {}}


def _add(kind: str, name: str, seconds: float, calls: int = 1) -> None:
    with _lock:
        entry = _stats[kind].setdefault(name, [0, 0.0])
        entry[0] += calls
        entry[1] += seconds


def _instrument() -> None:
    from firebase_admin import _http_client
    from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

    original_request = _http_client.HttpClient.request

    def counted_request(self: Any, method: str, url: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_request(self, method, url, **kwargs)
        finally:
            _add("auth", url.rsplit("/", 1)[-1].split("?")[0], time.perf_counter() - started)

    _http_client.HttpClient.request = counted_request

    def timed_stream(name: str, stream: Any) -> Iterator[Any]:
        # Counted when called; the time spent waiting for each message is added as the
        # caller consumes them (a document get reads one message and stops).
        iterator = iter(stream)
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                _add("firestore", name, time.perf_counter() - started, calls=0)
                return
            _add("firestore", name, time.perf_counter() - started, calls=0)
            yield item

    def wrap(name: str, original: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = original(self, *args, **kwargs)
            _add("firestore", name, time.perf_counter() - started)
            return timed_stream(name, result) if streaming else result

        return call

    for name, streaming in [
        ("batch_get_documents", True),
        ("run_query", True),
        ("run_aggregation_query", True),
        ("get_document", False),
        ("list_documents", False),
        ("commit", False),
        ("begin_transaction", False),
        ("rollback", False),
        ("batch_write", False),
        ("create_document", False),
        ("update_document", False),
        ("delete_document", False),
    ]:
        setattr(FirestoreClient, name, wrap(name, getattr(FirestoreClient, name), streaming))


if os.environ.get("BENCH_INSTRUMENT") == "1":
    _instrument()


# --- endpoints -----------------------------------------------------------------------


def _hello(request: Request, needed: None) -> Response:
    return json_response({"hello": "world"})


def _naive_me(request: Request, needed: None) -> Response:
    """What most tutorials write: verify_id_token on every request, then answer."""
    token = request.headers.get("Authorization", "").partition(" ")[2]
    try:
        claims = fb_auth.verify_id_token(
            token,
            app=firebase_app(_SETTINGS),
            check_revoked=request.args.get("check_revoked") == "1",
        )
    except (fb_auth.InvalidIdTokenError, fb_auth.UserDisabledError):
        return json_response({"error": {"code": "invalid_token"}}, 401)
    except fb_auth.CertificateFetchError:
        return json_response({"error": {"code": "auth_unavailable"}}, 503)
    firebase = claims.get("firebase") or {}
    return json_response(
        {
            "uid": claims["uid"],
            "email": claims.get("email"),
            "emailVerified": claims.get("email_verified") is True,
            "roles": sorted(claims.get("roles") or []),
            "signInProvider": firebase.get("sign_in_provider"),
            "authTime": claims.get("auth_time"),
            "secondFactor": firebase.get("sign_in_second_factor"),
            "tenant": firebase.get("tenant"),
        }
    )


_hello_function = Function("hello", needs=lambda _: None)
_hello_function.endpoint(
    "GET",
    "/hello",
    operation_id="hello",
    summary="The shell alone.",
    access=PUBLIC,
    policy=NO_POLICY_PUBLIC,
)(_hello)
_naive_function = Function("naive", needs=lambda _: None)
_naive_function.endpoint(
    "GET",
    "/naive/me",
    operation_id="naive_me",
    summary="verify_id_token per call (the naive pattern checks the token itself)",
    access=PUBLIC,
    policy=NO_POLICY_PUBLIC,
)(_naive_me)
# The bench's own functions use no part of a container but its settings.
_shell = build_container(_SETTINGS)
_serve_hello, _serve_naive = _hello_function.bind(_shell), _naive_function.bind(_shell)


def _stats_response() -> Response:
    with _lock:
        return json_response(
            {
                **_stats,
                "pid": os.getpid(),
                "threads": threading.active_count(),
                "firestore_imported": "google.cloud.firestore" in sys.modules,
            }
        )


def bench(request: Request) -> Response:
    """The functions-framework target."""
    path = request.path
    if path == "/__bench/stats":
        return _stats_response()
    started = time.perf_counter()
    if path.startswith("/hello"):
        response = _serve_hello(request)
    elif path.startswith("/naive/"):
        response = _serve_naive(request)
    else:
        response = main.local(request)
    elapsed = time.perf_counter() - started
    with _lock:
        _stats["requests"] += 1
        _stats["handler_seconds"] += elapsed
    return response
