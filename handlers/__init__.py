"""HTTP adapters: one ``Function`` per deployed Cloud Function, plus a local router.

The function modules are imported on first access (PEP 562), so that importing
``handlers.me`` (the ``me`` function) does not import the other functions' handlers
and what they need (pydantic, grpc, Firestore).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Request, Response

    from handlers.http import Function

#: The deployable functions, in declaration order, and their modules.
_FUNCTION_MODULES = {
    "me": "handlers.me",
    "projects": "handlers.projects",
    "admin": "handlers.admin",
    "session": "handlers.session",
}

__all__ = ["FUNCTIONS", "admin", "local", "me", "projects", "session"]


def _functions() -> tuple[Function, ...]:
    return tuple(
        getattr(importlib.import_module(module), name) for name, module in _FUNCTION_MODULES.items()
    )


def __getattr__(name: str) -> Any:
    if name == "FUNCTIONS":
        return _functions()
    module = _FUNCTION_MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def local(request: Request) -> Response:
    """Serve every function on one port, by path prefix, as the deployment does by URL."""
    from handlers.http import Function

    path = request.path.rstrip("/") or "/"
    if path == "/identity":  # Identity Platform's blocking events (no API route)
        from handlers.identity import identity

        return identity(request)
    for function in _functions():
        if function.owns(path):
            return function(request)
    return Function("", [])(request)
