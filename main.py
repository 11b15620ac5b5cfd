"""Cloud Functions entry points. Wiring only: each name is a deployable function.

Deploy one function per entry point (``--entry-point me|projects|admin|session``);
run all of them locally on one port with ``--target local``.
"""

from __future__ import annotations

import functions_framework
from werkzeug.exceptions import HTTPException

from core.logging import configure_logging
from core.settings import get_settings
from handlers import admin, local, me, projects, session
from handlers.http import framework_error

# Fail at start-up, not on the first request, when the environment is unsafe or malformed.
get_settings()
configure_logging()
# Errors raised by Flask before a function runs are JSON too (a no-op outside create_app).
functions_framework.errorhandler(HTTPException)(framework_error)

__all__ = ["admin", "local", "me", "projects", "session"]
