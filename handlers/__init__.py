"""HTTP adapters: one ``Function`` per deployed Cloud Function, the callable protocol over
them (``call`` for the ordinary functions, ``admincall`` for ``admin``), plus a local
router.

The function modules are imported on first access (PEP 562), so that the ``me``
function does not import the other functions' handlers and what they need
(pydantic, grpc, Firestore).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
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
#: The functions that serve the endpoints as Firebase callables (``handlers.callables``),
#: each with the declared functions whose operations it serves: every declared function
#: in exactly one, and ``admin``'s alone, so that the identity every signed-in caller
#: reaches through ``call`` holds none of ``admin``'s roles (tools/deploy/iam.py).
CALLABLES: Mapping[str, tuple[str, ...]] = {
    "call": ("me", "projects", "session"),
    "admincall": ("admin",),
}
#: Deployed but serving no API route: Identity Platform's blocking events
#: (``handlers.identity``), at ``/identity`` locally.
BLOCKING_ENTRY_POINTS = ("identity",)
#: Deployed with a Firestore trigger, not HTTP: Eventarc calls them with CloudEvents
#: (``signouts``, ``handlers.sign_outs``: applies recorded sign-outs). Not served locally.
EVENT_ENTRY_POINTS = ("signouts",)
#: The deployed functions: each declared function, the callable ones, the blocking one,
#: the event ones.
DEPLOYED = (*FUNCTION_MODULES, *CALLABLES, *BLOCKING_ENTRY_POINTS, *EVENT_ENTRY_POINTS)
#: What ``main.py`` offers: each deployed function, and ``local``, all of them on one port.
ENTRY_POINTS = (*DEPLOYED, "local")

__all__ = [
    "CALLABLES",
    "DEPLOYED",
    "ENTRY_POINTS",
    "EVENT_ENTRY_POINTS",
    "FUNCTIONS",
    "FUNCTION_MODULES",
    "callable_functions",
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
    if name in CALLABLES:
        from handlers import callables

        return callables.bind(name, callable_functions(name), container)
    return function(name).bind(container)


def callable_functions(name: str) -> tuple[Function[Any], ...]:
    """The declared functions whose operations the callable function ``name`` serves.

    Raises:
        KeyError: no such callable function.
    """
    return tuple(function(served) for served in CALLABLES[name])


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
    calls = {
        f"/{name}/": callables.bind(name, callable_functions(name), container) for name in CALLABLES
    }
    nowhere = Function("", needs=lambda _: None).bind(container)

    def local(request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == "/identity":  # Identity Platform's blocking events (no API route)
            return container.identity(request)
        for prefix, call in calls.items():
            if path.startswith(prefix):
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
