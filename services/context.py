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
from auth.revocation import RevocationChecker
from core.settings import Settings, get_settings

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
        revocation = RevocationChecker(
            directory(),
            max_age_seconds=config.revocation_check_max_age_seconds,
            max_entries=config.revocation_cache_size,
        )
        return Authenticator(config, get_app(), directory(), revocation)
