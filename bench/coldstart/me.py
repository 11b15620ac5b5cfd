"""The backend's deployed ``me`` function (``main.me``), with token keys from the local
stand-in for Google's endpoint and user records from the Auth emulator.

The firebase-admin user-management client is built on the first request (as the
backend would build it there anyway), while ``FIREBASE_AUTH_EMULATOR_HOST`` names the
emulator; the variable is then removed, so tokens are verified as in production.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from firebase_admin import _token_gen

from auth import keys as _keys

# The bench's key server stands in for Google's, for firebase-admin and for this backend.
_token_gen.ID_TOKEN_CERT_URI = _keys.ID_TOKEN_CERT_URI = os.environ["BENCH_CERT_URL"]

from main import me as _me  # noqa: E402 - after the URL is in place

_lock = threading.Lock()
_ready: list[bool] = []


def _user_backend() -> None:
    from firebase_admin import auth

    from auth import firebase_app
    from core.settings import Settings

    os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = os.environ["BENCH_USER_BACKEND"]
    try:
        # The backend's firebase-admin app (the default one), which main.me uses too.
        auth._get_client(firebase_app(Settings.from_env()))
    finally:
        del os.environ["FIREBASE_AUTH_EMULATOR_HOST"]


def me(request: Any) -> Any:
    with _lock:
        if not _ready:
            _user_backend()
            _ready.append(True)
    return _me(request)
