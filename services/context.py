"""The composition root: builds the process's long-lived objects once, lazily.

Nothing here runs at import time, so a cold start pays only for what the first
request needs (``/me`` never builds a Firestore client).
"""

from __future__ import annotations

import threading
from functools import cache

from auth.directory import UserDirectory
from auth.firebase_app import get_app
from auth.identity import Authenticator
from auth.sessions import SessionChecker
from core.settings import Settings, get_settings
from services.app_check import AppCheckGate

_lock = threading.Lock()


def settings() -> Settings:
    return get_settings()


@cache
def directory() -> UserDirectory:
    return UserDirectory(get_app())


@cache
def authenticator() -> Authenticator:
    with _lock:
        config = get_settings()
        sessions = SessionChecker(
            directory(),
            max_age_seconds=config.revocation_check_max_age_seconds,
            max_entries=config.revocation_cache_size,
        )
        return Authenticator(config, get_app(), directory(), sessions)


@cache
def app_check() -> AppCheckGate:
    """The App Check gate of ``APP_CHECK``; its key set is fetched on first use."""
    return AppCheckGate.from_settings(get_settings())
