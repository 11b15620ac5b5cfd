"""The composition root: builds the process's long-lived objects once, lazily.

Nothing here runs at import time, so a cold start pays only for what the first
request needs (``/me`` never builds a Firestore client).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

from auth.directory import UserDirectory
from auth.firebase_app import get_app
from auth.identity import Authenticator
from auth.revocation import RevocationChecker
from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from services.projects import ProjectService
    from services.roles import RoleService
    from store.client import Firestore

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


@cache
def firestore() -> Firestore:
    from store.client import Firestore

    config = get_settings()
    return Firestore(config.project_id, timeout_seconds=config.firestore_timeout_seconds)


def project_service() -> ProjectService:
    from services.projects import ProjectService
    from store.idempotency import FirestoreIdempotency
    from store.projects import FirestoreProjects

    return ProjectService(
        projects=FirestoreProjects(firestore()),
        idempotency=FirestoreIdempotency(firestore()),
        require_verified_email=get_settings().require_verified_email,
        user_exists=directory().exists,
    )


def role_service() -> RoleService:
    from services.roles import RoleService
    from store.audit import FirestoreAuditLog
    from store.locks import FirestoreLeases

    return RoleService(
        directory(),
        authenticator().revocation,
        FirestoreAuditLog(firestore()),
        FirestoreLeases(firestore()),
    )
