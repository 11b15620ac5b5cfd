"""HTTP adapters: one ``Function`` per deployed Cloud Function, plus a local router."""

from __future__ import annotations

from flask import Request, Response

from handlers.admin import admin
from handlers.http import Function
from handlers.me import me
from handlers.projects import projects
from handlers.session import session

FUNCTIONS: tuple[Function, ...] = (me, projects, admin, session)
#: Answers 404 (JSON, standard headers) for paths no function owns.
_NO_FUNCTION = Function("", [])


def local(request: Request) -> Response:
    """Serve every function on one port, by path prefix, as the deployment does by URL."""
    for function in FUNCTIONS:
        if function.owns(request.path.rstrip("/") or "/"):
            return function(request)
    return _NO_FUNCTION(request)


__all__ = ["FUNCTIONS", "admin", "local", "me", "projects", "session"]
