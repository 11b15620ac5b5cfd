"""The backend's deployed ``me`` function (``main.me``), with token keys from the local
stand-in for Google's endpoint and user records from the Auth emulator.

The user directory's firebase-admin client (``auth.directory.UserDirectory``) is built
on the first request (as the backend would build it there anyway), while
``FIREBASE_AUTH_EMULATOR_HOST`` names the emulator; the variable is then removed, so
tokens are verified as in production.
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
    import main

    os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = os.environ["BENCH_USER_BACKEND"]
    try:
        # The client of main.me's own directory (made once, on first use; it picks the
        # emulator when it is made).
        main._container[0].directory._auth  # noqa: B018 - builds it
    finally:
        del os.environ["FIREBASE_AUTH_EMULATOR_HOST"]


def me(request: Any) -> Any:
    with _lock:
        if not _ready:
            _user_backend()
            _ready.append(True)
    return _me(request)
