"""The process's Firestore client, built on first use.

``google.cloud.firestore`` is imported lazily so that functions that never touch
Firestore (``/me``) do not pay for it at cold start. ``Client(project=...)``
detects ``FIRESTORE_EMULATOR_HOST`` by itself and then needs no credentials.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from core.settings import get_settings

if TYPE_CHECKING:
    from google.cloud.firestore import Client

_lock = threading.Lock()
_client: Client | None = None


def get_client() -> Client:
    global _client
    with _lock:
        if _client is None:
            from google.cloud import firestore

            _client = firestore.Client(project=get_settings().project_id)
        return _client


def timeout() -> float:
    """Timeout of every Firestore RPC, in seconds (below the function's timeout)."""
    return float(get_settings().firestore_timeout_seconds)
