"""The deployed route table, read from ``handlers.FUNCTIONS`` (the one source of routes).

Used by the deploy and gateway tools so that what is deployed, and what the API
gateway lets through, can never drift from what the handlers serve.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from handlers.http import Function, Route

#: ``<name>`` or ``<converter:name>`` / ``<converter(args):name>`` in a werkzeug rule.
_PLACEHOLDER = re.compile(
    r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>"
)
#: Converters whose values are one path segment, which an OpenAPI ``{param}`` can express.
_SEGMENT_CONVERTERS = {None: "string", "default": "string", "string": "string", "int": "integer"}


class RouteError(ValueError):
    """A route cannot be described to the deployment (e.g. a ``<path:...>`` converter)."""


@dataclass(frozen=True)
class PathParam:
    name: str
    #: OpenAPI 2 type: ``string`` or ``integer``.
    type: str


@dataclass(frozen=True)
class Operation:
    """One method of a route and the view that serves it."""

    method: str
    #: The view's name: unique across the API, as in the OpenAPI 3 document (openapi.json).
    operation_id: str
    #: The first line of the view's docstring, or ``""``.
    summary: str


@dataclass(frozen=True)
class RouteSpec:
    """One route of one function: its werkzeug pattern, OpenAPI path and methods."""

    function: str
    pattern: str
    #: The pattern with placeholders as ``{name}`` (OpenAPI / API Gateway syntax).
    path: str
    params: tuple[PathParam, ...]
    #: One per HTTP method with a view, sorted by method.
    operations: tuple[Operation, ...]

    @property
    def methods(self) -> tuple[str, ...]:
        """Upper-case HTTP methods with a view, sorted."""
        return tuple(operation.method for operation in self.operations)


#: Entry points of main.py that are deployed but serve no API route: Identity Platform
#: calls them with its blocking events (``handlers.identity``), so the OpenAPI document
#: and the gateway leave them out.
BLOCKING_FUNCTIONS = ("identity",)


def function_names(functions: Iterable[Function] | None = None) -> tuple[str, ...]:
    """The names of the API's functions (``handlers.FUNCTIONS``), in declaration order."""
    return tuple(f.name for f in _functions(functions))


def deployable_names(functions: Iterable[Function] | None = None) -> tuple[str, ...]:
    """Every function the deploy config must configure: the API's, then the blocking ones."""
    return (*function_names(functions), *BLOCKING_FUNCTIONS)


def route_specs(functions: Iterable[Function] | None = None) -> list[RouteSpec]:
    """Every route of every function, in declaration order.

    Raises:
        RouteError: a pattern uses a converter that spans segments, two functions
            declare the same path, or two routes share a view (operation ids must be unique).
    """
    specs: list[RouteSpec] = []
    owners: dict[str, str] = {}
    operation_ids: dict[str, str] = {}
    for function in _functions(functions):
        for route in function.routes:
            spec = _spec(function.name, route)
            owner = owners.setdefault(spec.path, function.name)
            if owner != function.name:
                raise RouteError(
                    f"path {spec.path} is declared by both {owner!r} and {function.name!r}; "
                    "a gateway can send a path to only one function"
                )
            for operation in spec.operations:
                where = f"{operation.method} {spec.path}"
                first = operation_ids.setdefault(operation.operation_id, where)
                if first != where:
                    raise RouteError(
                        f"the view {operation.operation_id!r} serves both {first} and {where}; "
                        "operation ids (view names) must be unique"
                    )
            specs.append(spec)
    return specs


def _functions(functions: Iterable[Function] | None) -> Sequence[Function]:
    if functions is None:
        from handlers import FUNCTIONS

        return tuple(FUNCTIONS)
    return tuple(functions)


def _spec(function: str, route: Route) -> RouteSpec:
    params: list[PathParam] = []

    def placeholder(match: re.Match[str]) -> str:
        converter, name = match.group("converter"), match.group("name")
        if converter not in _SEGMENT_CONVERTERS:
            raise RouteError(
                f"{function}: route {route.pattern!r} uses the <{converter}:...> converter; "
                "expected a one-segment converter (string or int)"
            )
        params.append(PathParam(name, _SEGMENT_CONVERTERS[converter]))
        return "{" + name + "}"

    path = _PLACEHOLDER.sub(placeholder, route.pattern)
    return RouteSpec(
        function=function,
        pattern=route.pattern,
        path=path,
        params=tuple(params),
        operations=tuple(
            Operation(method.upper(), view.__name__, _summary(view))
            for method, view in sorted(route.views.items(), key=lambda item: item[0].upper())
        ),
    )


def _summary(view: object) -> str:
    doc = (getattr(view, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""
