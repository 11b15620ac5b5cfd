"""The firebase-admin app of the configured project.

firebase-admin keeps its apps by name itself; the backend uses its default app, which
the composition root (``app.py``) asks for on first use (never at import), and which
tools and benchmarks sharing the process find by the same call.
"""

from __future__ import annotations

import firebase_admin

from core.settings import ConfigError, Settings


def firebase_app(settings: Settings) -> firebase_admin.App:
    """firebase-admin's default app for ``settings``' project, created if missing.

    Credentials come from Application Default Credentials when deployed; with the
    Auth emulator, firebase-admin needs none.

    Raises:
        ConfigError: the default app exists already, for another project.
    """
    try:
        app = firebase_admin.get_app()
    except ValueError:
        try:
            return firebase_admin.initialize_app(
                options={
                    "projectId": settings.project_id,
                    "httpTimeout": settings.auth_timeout_seconds,
                }
            )
        except ValueError:  # another thread made it meanwhile
            app = firebase_admin.get_app()
    if app.project_id != settings.project_id:
        raise ConfigError(
            f"expected firebase-admin's default app for project {settings.project_id!r}, "
            f"found one for {app.project_id!r}"
        )
    return app
