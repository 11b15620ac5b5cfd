"""The contract of an endpoint, declared at its view with ``Function.endpoint``: method,
path, operationId, summary, who may call it, request and response bodies, the statuses
it may answer, the headers it reads and sets.

Everything else is generated from these declarations: the route table
(``handlers.FUNCTIONS``), the OpenAPI document (``python -m tools.openapi``) and the
API Gateway config (``python -m tools.gateway``). No pydantic or Flask here: ``/me``
imports this module and stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.fields import Integer, Text

if TYPE_CHECKING:
    from pydantic import BaseModel

#: A view: ``(request, [principal,] **path parameters) -> Response``.
View = Callable[..., Any]

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Access:
    """Who may call an endpoint, as far as the HTTP shell checks it (deny by default:
    every endpoint names one). What a verified caller may then do is the policy's
    (``auth.policy``), applied by the services.

    Attributes:
        name: the level, as documents show it.
        authenticated: a verified caller is required (401 otherwise); the view receives
            the ``Principal``.
        privileged: check the caller against a fresh user record every time (revocation,
            disabled, current roles) instead of the cached one.
        bearer_only: only a bearer token counts, never the session cookie.
    """

    name: str
    authenticated: bool = True
    privileged: bool = False
    bearer_only: bool = False


#: Anyone; no credential is read.
PUBLIC = Access("public", authenticated=False)
#: A verified caller, with a bearer token or the session cookie.
SIGNED_IN = Access("signed_in")
#: A verified caller with a bearer token (a session cookie does not count).
SIGNED_IN_WITH_BEARER = Access("signed_in_with_bearer", bearer_only=True)
#: A verified caller checked against a fresh user record every time (the ``/admin``
#: routes). The shell checks no role: the services apply the policy (admin; auditor for
#: the audit log), as they do for every other endpoint.
PRIVILEGED = Access("privileged", privileged=True)


@dataclass(frozen=True)
class Param:
    """A path or query parameter: its name, its rule (``core.fields``) and what it means."""

    name: str
    rule: Text | Integer
    description: str
    required: bool = False


@dataclass(frozen=True)
class Paged:
    """A page of a list: ``{"items": [...], "nextCursor": str | null}``.

    Attributes:
        name: the page's name in the OpenAPI document.
        item: the TypedDict of one item.
    """

    name: str
    item: type[Any]


@dataclass(frozen=True)
class Endpoint:
    """One method of one path, and the view that serves it (see the module docstring).

    Attributes:
        function: the deployed function that serves it.
        method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE`` (``HEAD`` and
            ``OPTIONS`` are answered by the shell).
        path: a werkzeug pattern (``/projects/<project_id>``); each placeholder is a
            parameter of ``handlers.params.PATH_PARAMETERS``.
        operation_id: unique across the API (OpenAPI, API Gateway).
        summary: one line for the documents.
        access: who may call it.
        view: the function that serves it.
        status: the success status.
        response: the success body: a TypedDict, a ``Paged``, or ``None`` (no body).
        request: the pydantic model the view validates the JSON body with, if any.
        errors: error statuses it may answer besides those of its access, of a body,
            and 500/503 (``tools.openapi`` adds those).
        query: its query parameters.
        if_match: it honours ``If-Match``.
        idempotent: it honours ``Idempotency-Key`` (and may answer ``Idempotent-Replayed``).
        etag: its success response carries ``ETag``.
        location: its success response carries ``Location``.
        cookie: its success response sets or clears the session cookie.
    """

    function: str
    method: str
    path: str
    operation_id: str
    summary: str
    access: Access
    view: View
    status: int = 200
    response: type[Any] | Paged | None = None
    request: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    query: tuple[Param, ...] = ()
    if_match: bool = False
    idempotent: bool = False
    etag: bool = False
    location: bool = False
    cookie: bool = False
