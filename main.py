"""Cloud Functions entry points. Wiring only: each name is a deployable function.

Deploy one function per entry point (``--entry-point me|projects|admin|session|identity``;
``identity`` answers Identity Platform's blocking events); run all of them locally on
one port with ``--target local``.

Entry points are resolved on first access (PEP 562), so a deployed function imports
only its own handlers: ``me`` never loads pydantic, grpc or the Firestore client,
which keeps its cold start near the floor of functions-framework + firebase-admin.
"""

from __future__ import annotations

import importlib
from typing import Any

import functions_framework
from werkzeug.exceptions import HTTPException

from core.logging import configure_logging
from core.settings import get_settings
from handlers.http import framework_error

# Fail at start-up, not on the first request, when the environment is unsafe or malformed.
get_settings()
configure_logging()
# Errors raised by Flask before a function runs are JSON too (a no-op outside create_app).
functions_framework.errorhandler(HTTPException)(framework_error)

#: Entry point -> the module that defines it.
_ENTRY_POINTS = {
    "admin": "handlers.admin",
    "identity": "handlers.identity",
    "local": "handlers",
    "me": "handlers.me",
    "projects": "handlers.projects",
    "session": "handlers.session",
}

__all__ = list(_ENTRY_POINTS)


def __getattr__(name: str) -> Any:
    module = _ENTRY_POINTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
