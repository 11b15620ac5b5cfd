"""The floor of target 5: functions-framework + ``firebase_admin.auth`` + one
``verify_id_token`` (keys from the local stand-in for Google's endpoint)."""

from __future__ import annotations

import os
import threading
from typing import Any

import firebase_admin
from firebase_admin import _token_gen, auth
from google.auth.credentials import AnonymousCredentials

_token_gen.ID_TOKEN_CERT_URI = os.environ["BENCH_CERT_URL"]
_lock = threading.Lock()
_app: list[firebase_admin.App] = []


def floor(request: Any) -> tuple[dict[str, str], int]:
    with _lock:
        if not _app:
            _app.append(
                firebase_admin.initialize_app(
                    AnonymousCredentials(),  # type: ignore[no-untyped-call]
                    options={"projectId": os.environ["FIREBASE_PROJECT_ID"]},
                )
            )
    token = request.headers.get("Authorization", "").partition(" ")[2]
    try:
        claims = auth.verify_id_token(token, app=_app[0])
    except auth.InvalidIdTokenError:
        return {"error": "invalid_token"}, 401
    return {"uid": claims["uid"]}, 200
