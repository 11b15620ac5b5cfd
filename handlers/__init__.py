"""HTTP adapters: one ``Function`` per deployed Cloud Function, the callable protocol over
all of them (``call``), plus a local router.

The function modules are imported on first access (PEP 562), so that the ``me``
function does not import the other functions' handlers and what they need
(pydantic, grpc, Firestore).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Request, Response

    from app import Container
    from handlers.http import Function

#: The deployable functions, in declaration order, and the modules that declare them.
FUNCTION_MODULES = {
    "me": "handlers.me",
    "projects": "handlers.projects",
    "admin": "handlers.admin",
    "session": "handlers.session",
}
#: The function that serves every endpoint as a Firebase callable (``handlers.callables``).
CALLABLE = "call"
#: Deployed but serving no API route: Identity Platform's blocking events
#: (``handlers.identity``), at ``/identity`` locally.
BLOCKING_ENTRY_POINTS = ("identity",)
#: Deployed with a Firestore trigger, not HTTP: Eventarc calls them with CloudEvents
#: (``signouts``, ``handlers.sign_outs``: applies recorded sign-outs). Not served locally.
EVENT_ENTRY_POINTS = ("signouts",)
#: The deployed functions: each declared function, the callable one, the blocking one,
#: the event ones.
DEPLOYED = (*FUNCTION_MODULES, CALLABLE, *BLOCKING_ENTRY_POINTS, *EVENT_ENTRY_POINTS)
#: What ``main.py`` offers: each deployed function, and ``local``, all of them on one port.
ENTRY_POINTS = (*DEPLOYED, "local")

__all__ = [
    "CALLABLE",
    "DEPLOYED",
    "ENTRY_POINTS",
    "EVENT_ENTRY_POINTS",
    "FUNCTIONS",
    "FUNCTION_MODULES",
    "entry_point",
    "event_entry_point",
    "function",
]


def function(name: str) -> Function[Any]:
    """The declared function ``name`` (its module is imported now)."""
    declared: Function[Any] = getattr(importlib.import_module(FUNCTION_MODULES[name]), name)
    return declared


def entry_point(name: str, container: Container) -> Callable[[Request], Response]:
    """The Cloud Functions entry point ``name`` of ``ENTRY_POINTS``, serving with
    ``container``.

    Raises:
        KeyError: no such entry point.
    """
    if name == "local":
        return _local(container)
    if name == "identity":

        def identity(request: Request) -> Response:
            # A plain function, as functions-framework requires; built on first use.
            return container.identity(request)

        return identity
    if name == CALLABLE:
        from handlers import callables

        return callables.bind(_functions(), container)
    return function(name).bind(container)


def event_entry_point(name: str, container: Container) -> Callable[[Any], None]:
    """The CloudEvent entry point ``name`` of ``EVENT_ENTRY_POINTS``, serving with
    ``container``.

    Raises:
        KeyError: no such entry point.
    """
    if name not in EVENT_ENTRY_POINTS:
        raise KeyError(name)
    from handlers import sign_outs

    return sign_outs.bind(container)


def _local(container: Container) -> Callable[[Request], Response]:
    """Serve every function on one port, by path prefix, as the deployment does by URL."""
    from handlers import callables
    from handlers.http import Function

    functions = [(declared, declared.bind(container)) for declared in _functions()]
    call = callables.bind(_functions(), container)
    nowhere = Function("", needs=lambda _: None).bind(container)

    def local(request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == "/identity":  # Identity Platform's blocking events (no API route)
            return container.identity(request)
        if path.startswith(callables.PREFIX + "/"):
            return call(request)
        for declared, serve in functions:
            if declared.owns(path):
                return serve(request)
        return nowhere(request)

    return local


def _functions() -> tuple[Function[Any], ...]:
    return tuple(function(name) for name in FUNCTION_MODULES)


def __getattr__(name: str) -> Any:
    if name == "FUNCTIONS":
        return _functions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
