"""The deployed route table, read from ``handlers.FUNCTIONS`` (the endpoints the views
declare: the one source of routes).

Used by the deploy and gateway tools so that what is deployed, and what the API
gateway lets through, can never drift from what the handlers serve.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from handlers import BLOCKING_ENTRY_POINTS, EVENT_ENTRY_POINTS
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
    """One method of a route, as its endpoint declares it."""

    method: str
    #: Unique across the API, as in the OpenAPI 3 document (openapi.json).
    operation_id: str
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
BLOCKING_FUNCTIONS = BLOCKING_ENTRY_POINTS


def function_names(functions: Iterable[Function[Any]] | None = None) -> tuple[str, ...]:
    """The names of the deployed functions: each of ``handlers.FUNCTIONS``, in declaration
    order, then those that serve their endpoints as callables (``handlers.CALLABLES``)."""
    from handlers import CALLABLES

    return (*(f.name for f in _functions(functions)), *CALLABLES)


def callable_specs(functions: Iterable[Function[Any]] | None = None) -> list[RouteSpec]:
    """``POST /{callable}/{operationId}`` for every endpoint (``handlers.callables``), one
    route per operation, served by the callable function whose group
    (``handlers.CALLABLES``) holds the endpoint's function.

    Raises:
        RouteError: a function that no callable function serves.
    """
    from handlers import CALLABLES

    serving = {served: name for name, group in CALLABLES.items() for served in group}
    specs: list[RouteSpec] = []
    for function in _functions(functions):
        name = serving.get(function.name)
        if name is None:
            raise RouteError(
                f"no callable function serves {function.name!r}; "
                "add it to one group of handlers.CALLABLES"
            )
        specs.extend(
            RouteSpec(
                function=name,
                pattern=f"/{name}/{endpoint.operation_id}",
                path=f"/{name}/{endpoint.operation_id}",
                params=(),
                operations=(
                    Operation(
                        "POST",
                        f"{name}_{endpoint.operation_id}",
                        f"Callable form of {endpoint.operation_id}: {endpoint.summary}",
                    ),
                ),
            )
            for endpoint in function.endpoints
        )
    return specs


def deployable_names(functions: Iterable[Function[Any]] | None = None) -> tuple[str, ...]:
    """Every function the deploy config must configure: the API's, then the blocking ones,
    then those Eventarc calls (``handlers.EVENT_ENTRY_POINTS``, ``tools.deploy.events``)."""
    return (*function_names(functions), *BLOCKING_FUNCTIONS, *EVENT_ENTRY_POINTS)


def route_specs(functions: Iterable[Function[Any]] | None = None) -> list[RouteSpec]:
    """Every route of every function, in declaration order.

    Raises:
        RouteError: a pattern uses a converter that spans segments, two functions have
            the same name, or two endpoints the same operation id.
    """
    specs: list[RouteSpec] = []
    names: set[str] = set()
    operation_ids: dict[str, str] = {}
    for function in _functions(functions):
        # Paths are under the function's name (``Function.endpoint`` checks), so unique
        # names mean a gateway can send every path to exactly one function.
        if function.name in names:
            raise RouteError(f"two functions are named {function.name!r}")
        names.add(function.name)
        for route in function.routes:
            spec = _spec(function.name, route)
            for operation in spec.operations:
                where = f"{operation.method} {spec.path}"
                first = operation_ids.setdefault(operation.operation_id, where)
                if first != where:
                    raise RouteError(
                        f"the operation id {operation.operation_id!r} is declared by both "
                        f"{first} and {where}; operation ids must be unique"
                    )
            specs.append(spec)
    return specs


def _functions(functions: Iterable[Function[Any]] | None) -> Sequence[Function[Any]]:
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
            Operation(method, endpoint.operation_id, endpoint.summary)
            for method, endpoint in sorted(route.endpoints.items())
        ),
    )
