"""The process's firebase-admin app, created lazily on first use (never at import)."""

from __future__ import annotations

import threading

import firebase_admin

from core.settings import get_settings

_APP_NAME = "[DEFAULT]"
_lock = threading.Lock()


def get_app() -> firebase_admin.App:
    """The initialised firebase-admin app for the configured project.

    Credentials come from Application Default Credentials when deployed; with the
    Auth emulator, firebase-admin needs none.
    """
    with _lock:
        try:
            return firebase_admin.get_app(_APP_NAME)
        except ValueError:
            settings = get_settings()
            return firebase_admin.initialize_app(
                options={
                    "projectId": settings.project_id,
                    "httpTimeout": settings.auth_timeout_seconds,
                }
            )
