"""Cloud Functions entry points. Wiring only: each name is a deployable function.

Deploy one function per entry point (``--entry-point
me|projects|admin|session|call|admincall|identity|signouts``; ``call`` serves the
operations of me, projects and session as Firebase callable functions and ``admincall``
admin's, ``handlers.callables``; ``identity`` answers Identity Platform's blocking
events; ``signouts``, not HTTP, is called by Eventarc for each recorded sign-out,
``handlers.sign_outs``); run the HTTP ones locally on one port with ``--target local``.

The settings are read and checked at import (a bad environment stops the instance
before it serves). The process's objects are built by the composition root
(``app.build_container``) when functions-framework first asks for an entry point, and
each of them on first use. Entry points are resolved on first access (PEP 562), so a
deployed function imports only its own handlers: ``me`` never loads pydantic, grpc or
the Firestore client (it reads recorded sign-outs over REST, ``store.rest``), which
keeps its cold start near the floor of functions-framework + firebase-admin.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import functions_framework
from werkzeug.exceptions import HTTPException

import handlers
from app import Container, build_container
from core.logging import configure_logging
from core.settings import Settings
from handlers.http import framework_error

# Fail at start-up, not on the first request, when the environment is unsafe or malformed.
_SETTINGS = Settings.from_env()
configure_logging(json_lines=_SETTINGS.log_json)
# Errors raised by Flask before a function runs are JSON too (a no-op outside create_app).
functions_framework.errorhandler(HTTPException)(framework_error)

__all__ = list(handlers.ENTRY_POINTS)

_container: list[Container] = []
_entry_points: dict[str, Callable[[Any], Any]] = {}
_lock = threading.Lock()


def __getattr__(name: str) -> Callable[[Any], Any]:
    if name not in handlers.ENTRY_POINTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lock:
        if not _container:  # this process's objects: built once, on first use
            _container.append(build_container(_SETTINGS))
        if name not in _entry_points:
            _entry_points[name] = (
                handlers.event_entry_point(name, _container[0])
                if name in handlers.EVENT_ENTRY_POINTS
                else handlers.entry_point(name, _container[0])
            )
        return _entry_points[name]
