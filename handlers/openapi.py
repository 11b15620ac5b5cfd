"""The OpenAPI 3.1 document of the API, built from the code that serves it.

One source of truth: paths and methods come from the route table
(``handlers.FUNCTIONS``), request bodies from the pydantic models the views validate
with (``handlers.schemas``), the project body from ``ProjectJson``, and the error
codes of each status from the error hierarchy (``core.errors``). What the code cannot
say by itself (which view reads which body, which statuses it may answer) is the
table ``OPERATIONS`` below, keyed by the view functions, so a route without an entry,
or an entry without a route, fails the build.

The checked-in copy at the repository root is regenerated with::

    python -m handlers.openapi > openapi.json

and ``tests/unit/test_openapi.py`` fails while it is stale.
"""

from __future__ import annotations

import json
import re
import sys
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import typing_extensions
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from auth import SAFE_METHODS, SESSION_COOKIE_NAME
from core import errors, fields
from core.settings import MAX_BODY_BYTES
from handlers import FUNCTIONS
from handlers.admin import find_user, get_roles, list_audit, put_roles
from handlers.http import Function, View
from handlers.me import get_me, revoke_sessions
from handlers.projects import (
    create_project,
    delete_member,
    delete_project,
    get_project,
    list_projects,
    patch_project,
    put_member,
    transfer_project,
)
from handlers.schemas import (
    MemberPut,
    ProjectCreate,
    ProjectJson,
    ProjectPatch,
    RoleName,
    RolesPut,
    TransferBody,
)
from handlers.session import create_session, end_session

OPENAPI_VERSION = "3.1.0"
API_TITLE = "Firebase-authenticated Cloud Functions backend"
API_VERSION = "0.1.0"
JSON = "application/json"
SCHEMAS = "#/components/schemas/"

#: Every request model a view validates with; each must appear in the document.
REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    ProjectCreate,
    ProjectPatch,
    MemberPut,
    TransferBody,
    RolesPut,
)

# --- response shapes that handlers/me.py and handlers/admin.py build inline ---------


class MeJson(typing_extensions.TypedDict):
    uid: str
    email: str | None
    emailVerified: bool
    roles: list[RoleName]
    signInProvider: str | None
    authTime: int | None
    secondFactor: str | None
    tenant: str | None


class UserJson(typing_extensions.TypedDict):
    uid: str
    roles: list[RoleName]
    email: str | None
    disabled: bool


class RolesJson(typing_extensions.TypedDict):
    uid: str
    roles: list[RoleName]


class RoleChangeJson(typing_extensions.TypedDict):
    uid: str
    roles: list[RoleName]
    sessionsRevoked: bool


class AuditEntryJson(typing_extensions.TypedDict):
    id: str
    action: str | None
    actor: str | None
    target: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    time: str | None
    outcome: str | None
    requestId: str | None


# --- parameters and headers --------------------------------------------------------

#: Path parameters by the name the route table gives them.
PATH_PARAMETERS: Mapping[str, dict[str, Any]] = {
    "project_id": {
        "description": "A project ID as the server generates them (a Firestore auto-ID). "
        "Anything else is 404 without a Firestore read.",
        "schema": fields.PROJECT_ID.json_schema(),
    },
    "uid": {
        "description": "A Firebase uid: 1 to 128 printable characters without spaces.",
        "schema": fields.UID.json_schema(),
    },
}

QUERY_PARAMETERS: Mapping[str, dict[str, Any]] = {
    "limit": {"description": "Page size.", "schema": fields.LIMIT.json_schema()},
    "cursor": {
        "description": "The `nextCursor` of the previous page (opaque).",
        "schema": fields.CURSOR.json_schema(),
    },
    "ownerId": {
        "description": "List the projects this uid owns (others' need admin or auditor).",
        "schema": fields.UID.json_schema(),
    },
    "email": {
        "description": "The email address of the user to find.",
        "required": True,
        "schema": fields.EMAIL.json_schema(),
    },
}

IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "Retrying with the same key and body returns the first response "
    "(with `Idempotent-Replayed: true`) instead of creating again; keys are per user "
    "and kept 24 h.",
    "schema": fields.IDEMPOTENCY_KEY.json_schema(),
}

IF_MATCH: dict[str, Any] = {
    "name": "If-Match",
    "in": "header",
    "description": 'Apply only to this version: an `ETag` from this API (`"3"`) or `*`. '
    "Anything else fails the precondition (412).",
    "schema": {"type": "string"},
}

#: Response headers, as components/headers.
HEADERS: Mapping[str, dict[str, Any]] = {
    "X-Request-Id": {
        "description": "The id this request is logged under.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    },
    "ETag": {
        "description": 'The project\'s version, quoted (`"3"`); send it back in `If-Match`.',
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    },
    "Location": {
        "description": "The new project's path.",
        "required": True,
        "schema": {"type": "string", "pattern": f"^/projects/{fields.PROJECT_ID.pattern}$"},
    },
    "WWW-Authenticate": {
        "description": 'RFC 6750: `Bearer` when no token was sent, else `Bearer error="..."`.',
        "required": True,
        "schema": {"type": "string", "pattern": '^Bearer( error="[a-z_]+")?$'},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request.",
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Set-Cookie": {
        "description": f"The `{SESSION_COOKIE_NAME}` session cookie (httpOnly, Secure, "
        "SameSite=Strict); cleared on sign-out.",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{SESSION_COOKIE_NAME}="},
    },
    "Allow": {
        "description": "The methods the path accepts.",
        "required": True,
        "schema": {"type": "string"},
    },
}

# --- statuses ----------------------------------------------------------------------

#: What a status means, for the error responses in components/responses.
STATUS_DESCRIPTIONS: Mapping[int, str] = {
    400: "Invalid input: `invalid_json`, `validation_error` (with per-field `details`), "
    "`invalid_cursor`, `unknown_user`, `claims_too_large`.",
    401: "Not authenticated (no, invalid, expired or revoked token; disabled user).",
    403: "Authenticated but not allowed (`forbidden`, `email_not_verified`; "
    "`csrf_rejected`: a cookie-authenticated write from an origin not allowed).",
    404: "No such resource, or one the caller may not know exists.",
    405: "The path does not accept this method.",
    409: "Conflicts with the current state; `busy` and `idempotency_in_progress` carry "
    "`Retry-After`.",
    412: "`If-Match` names a version that is not current.",
    413: f"The body is over {MAX_BODY_BYTES} bytes.",
    415: "The body is not UTF-8 `application/json`.",
    422: "The `Idempotency-Key` was already used with another body.",
    500: "An unexpected failure; the message carries only a request id.",
    503: "Firestore or Firebase Auth is unreachable; nothing was changed.",
}

#: Response headers each error status carries (``Retry-After`` on 409: not for every code).
STATUS_HEADERS: Mapping[int, Mapping[str, bool]] = {
    401: {"WWW-Authenticate": True},
    405: {"Allow": True},
    409: {"Retry-After": False},
    503: {"Retry-After": True},
}

#: Every authenticated operation may answer these.
COMMON_ERRORS = (401, 500, 503)
#: A JSON body adds these.
BODY_ERRORS = (400, 413, 415)


@dataclass(frozen=True)
class Operation:
    """What a view does, beyond the path and method the route table gives it.

    Attributes:
        summary: one line for the document.
        status: the success status.
        response: the success body's name in components/schemas (``None``: no body).
        body: the pydantic model the view validates the request body with.
        query: names in ``QUERY_PARAMETERS``.
        errors: error statuses besides ``COMMON_ERRORS`` (and ``BODY_ERRORS`` with a body).
        if_match: the view honours ``If-Match``.
        etag: the success response carries ``ETag``.
        location: the success response carries ``Location``.
        idempotent: the view honours ``Idempotency-Key``.
        cookie: the success response sets or clears the session cookie.
        bearer_only: only a bearer token authenticates (not the session cookie).
    """

    summary: str
    status: int
    response: str | None
    body: type[BaseModel] | None = None
    query: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()
    if_match: bool = False
    etag: bool = False
    location: bool = False
    idempotent: bool = False
    cookie: bool = False
    bearer_only: bool = False

    def error_statuses(self, method: str) -> list[int]:
        extra = BODY_ERRORS if self.body is not None else ()
        # Cookie-authenticated unsafe requests need an allowed Origin (403 csrf_rejected).
        csrf = () if self.bearer_only or method in SAFE_METHODS else (403,)
        return sorted({*COMMON_ERRORS, *extra, *csrf, *self.errors})


OPERATIONS: Mapping[View, Operation] = {
    get_me: Operation("Who the caller is (from the verified ID token).", 200, "Me"),
    revoke_sessions: Operation(
        "Sign the caller out everywhere; this very token is refused from now on.",
        204,
        None,
        errors=(404,),
    ),
    list_projects: Operation(
        "Projects the caller owns or shares, newest first; `ownerId` of others: admin, auditor.",
        200,
        "ProjectPage",
        query=("limit", "cursor", "ownerId"),
        errors=(400, 403),
    ),
    create_project: Operation(
        "Create a project owned by the caller (verified email).",
        201,
        "Project",
        body=ProjectCreate,
        errors=(403, 409, 422),
        etag=True,
        location=True,
        idempotent=True,
    ),
    get_project: Operation(
        "One project (owner, editors, viewers, admin, auditor).",
        200,
        "Project",
        errors=(404,),
        etag=True,
    ),
    patch_project: Operation(
        "Change name and/or description (owner, editors, admin).",
        200,
        "Project",
        body=ProjectPatch,
        errors=(403, 404, 409, 412),
        if_match=True,
        etag=True,
    ),
    delete_project: Operation(
        "Delete a project (owner, admin).",
        204,
        None,
        errors=(403, 404, 409, 412),
        if_match=True,
    ),
    put_member: Operation(
        "Add a member or change their role (owner, admin); at most 100 members.",
        200,
        "Project",
        body=MemberPut,
        errors=(403, 404, 409, 412),
        if_match=True,
        etag=True,
    ),
    delete_member: Operation(
        "Remove a member (owner, admin, or the member themselves).",
        200,
        "Project",
        errors=(400, 403, 404, 409, 412),
        if_match=True,
        etag=True,
    ),
    transfer_project: Operation(
        "Transfer ownership (owner, admin); the old owner becomes an editor.",
        200,
        "Project",
        body=TransferBody,
        errors=(403, 404, 409, 412),
        if_match=True,
        etag=True,
    ),
    find_user: Operation(
        "Find a user by email (admin).",
        200,
        "User",
        query=("email",),
        errors=(400, 403, 404),
    ),
    get_roles: Operation("A user's roles (admin).", 200, "Roles", errors=(400, 403, 404)),
    put_roles: Operation(
        "Replace a user's roles, keeping their other claims (admin); audited.",
        200,
        "RoleChange",
        body=RolesPut,
        errors=(403, 404, 409),
    ),
    create_session: Operation(
        "Exchange a fresh ID token (a sign-in of the last five minutes) for a session cookie.",
        204,
        None,
        cookie=True,
        bearer_only=True,
    ),
    end_session: Operation(
        "Sign out everywhere: revoke the caller's sessions and clear the cookie.",
        204,
        None,
        errors=(404,),
        cookie=True,
    ),
    list_audit: Operation(
        "The audit log, newest first (admin, auditor).",
        200,
        "AuditPage",
        query=("limit", "cursor"),
        errors=(400, 403),
    ),
}

#: Response bodies with a TypedDict, by their name in components/schemas.
RESPONSE_TYPES: Mapping[str, object] = {
    "Project": ProjectJson,
    "Me": MeJson,
    "User": UserJson,
    "Roles": RolesJson,
    "RoleChange": RoleChangeJson,
    "AuditEntry": AuditEntryJson,
}
#: Paged lists: ``{"items": [...], "nextCursor"}``, by their name and their items' name.
PAGES: Mapping[str, str] = {"ProjectPage": "Project", "AuditPage": "AuditEntry"}


def build_document() -> dict[str, Any]:
    """The OpenAPI document of every route in ``handlers.FUNCTIONS``.

    Raises:
        LookupError: a routed view has no entry in ``OPERATIONS``, an entry routes
            nowhere, or a route names a path parameter not in ``PATH_PARAMETERS``.
    """
    schemas = _component_schemas()
    paths: dict[str, dict[str, Any]] = {}
    documented: set[View] = set()
    for function, pattern, method, view in _routes():
        operation = OPERATIONS.get(view)
        if operation is None:
            raise LookupError(
                f"expected an OPERATIONS entry for {method} {pattern} "
                f"({getattr(view, '__name__', view)!r}), found none"
            )
        documented.add(view)
        path = _openapi_path(pattern)
        item = paths.setdefault(path, {})
        if "parameters" not in item and _path_names(pattern):
            item["parameters"] = [_path_parameter(name) for name in _path_names(pattern)]
        item[method.lower()] = _operation(function, method, view, operation)
    unrouted = [
        getattr(view, "__name__", repr(view)) for view in OPERATIONS if view not in documented
    ]
    if unrouted:
        raise LookupError(f"expected every OPERATIONS entry to be routed, got unrouted {unrouted}")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": API_TITLE,
            "version": API_VERSION,
            "description": (
                "Every call needs `Authorization: Bearer <Firebase ID token>`. "
                'Errors are `{"error": {"code", "message", "details"?}}`. '
                "A path that exists but not for the method answers 405 with `Allow`. "
                "Generated by `python -m handlers.openapi` from the route table and "
                "the request models; do not edit by hand."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8000", "description": "scripts/dev"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "tags": [{"name": function.name} for function in FUNCTIONS if function.name],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Firebase ID token.",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE_NAME,
                    "description": "A Firebase session cookie from `POST /session`; used "
                    "only when no Authorization header is sent.",
                },
            },
            "headers": dict(HEADERS),
            "responses": {
                _response_name(status): _error_response(status) for status in STATUS_DESCRIPTIONS
            },
            "schemas": schemas,
        },
    }


def error_codes(status: int) -> list[str]:
    """The ``error.code`` values ``core.errors`` defines for ``status``, sorted."""
    return sorted({cls.code for cls in _subclasses(errors.ApiError) if cls.status == status})


def main() -> int:
    """Print the document as JSON (``python -m handlers.openapi > openapi.json``)."""
    sys.stdout.write(render())
    return 0


def render() -> str:
    """The document exactly as checked in: two-space indent, a final newline."""
    return json.dumps(build_document(), indent=2, ensure_ascii=False) + "\n"


# --- building ----------------------------------------------------------------------


def _routes() -> Iterator[tuple[Function, str, str, View]]:
    """(function, werkzeug pattern, METHOD, view) for every route, in table order."""
    for function in FUNCTIONS:
        for route in function.routes:
            for method, view in route.views.items():
                yield function, route.pattern, method, view


_PARAMETER = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def _openapi_path(pattern: str) -> str:
    return _PARAMETER.sub(r"{\1}", pattern)


def _path_names(pattern: str) -> list[str]:
    return _PARAMETER.findall(pattern)


def _path_parameter(name: str) -> dict[str, Any]:
    if name not in PATH_PARAMETERS:
        raise LookupError(f"expected path parameter {name!r} in PATH_PARAMETERS, found none")
    return {"name": name, "in": "path", "required": True, **PATH_PARAMETERS[name]}


def _operation(function: Function, method: str, view: View, operation: Operation) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": view.__name__,
        "summary": operation.summary,
        "tags": [function.name],
    }
    if operation.bearer_only:
        result["security"] = [{"bearerAuth": []}]
    parameters = [_query_parameter(name) for name in operation.query]
    if operation.if_match:
        parameters.append(IF_MATCH)
    if operation.idempotent:
        parameters.append(IDEMPOTENCY_KEY)
    if parameters:
        result["parameters"] = parameters
    if operation.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": {"$ref": SCHEMAS + operation.body.__name__}}},
        }
    responses: dict[str, Any] = {str(operation.status): _success_response(operation)}
    for status in operation.error_statuses(method):
        responses[str(status)] = {"$ref": f"#/components/responses/{_response_name(status)}"}
    result["responses"] = responses
    return result


def _query_parameter(name: str) -> dict[str, Any]:
    spec = dict(QUERY_PARAMETERS[name])
    return {"name": name, "in": "query", "required": spec.pop("required", False), **spec}


def _success_response(operation: Operation) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    if operation.etag:
        headers["ETag"] = {"$ref": "#/components/headers/ETag"}
    if operation.location:
        headers["Location"] = {"$ref": "#/components/headers/Location"}
    if operation.idempotent:
        headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/Idempotent-Replayed"}
    if operation.cookie:
        headers["Set-Cookie"] = {"$ref": "#/components/headers/Set-Cookie"}
    response: dict[str, Any] = {
        "description": "No content." if operation.response is None else "Success.",
        "headers": headers,
    }
    if operation.response is not None:
        response["content"] = {JSON: {"schema": {"$ref": SCHEMAS + operation.response}}}
    return response


def _response_name(status: int) -> str:
    return f"Error{status}"


def _error_response(status: int) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    for name, required in STATUS_HEADERS.get(status, {}).items():
        header = {"$ref": f"#/components/headers/{name}"}
        headers[name] = header if required else {**HEADERS[name], "required": False}
    return {
        "description": STATUS_DESCRIPTIONS[status],
        "headers": headers,
        "content": {JSON: {"schema": {"$ref": SCHEMAS + _response_name(status)}}},
    }


def _error_schema(status: int) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": error_codes(status)},
                    "message": {"type": "string"},
                    "details": {
                        "type": "object",
                        "description": "Per field (dotted path), what is wrong with it.",
                        "additionalProperties": {"type": "string"},
                    },
                },
            }
        },
    }


def _component_schemas() -> dict[str, Any]:
    ref_template = SCHEMAS + "{model}"
    _, definitions = models_json_schema(
        [(model, "validation") for model in REQUEST_MODELS], ref_template=ref_template
    )
    schemas: dict[str, Any] = dict(definitions["$defs"])
    for name, response_type in RESPONSE_TYPES.items():
        schemas[name] = TypeAdapter(_pydantic_compatible(response_type)).json_schema(
            ref_template=ref_template
        )
    for name, item in PAGES.items():
        schemas[name] = _page_schema(item)
    for status in STATUS_DESCRIPTIONS:
        schemas[_response_name(status)] = _error_schema(status)
    return typing.cast(dict[str, Any], _untitled(schemas, names=True))


def _page_schema(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "nextCursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": SCHEMAS + item}},
            "nextCursor": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "Pass as `cursor` for the next page; null on the last one.",
            },
        },
    }


def _pydantic_compatible(response_type: object) -> Any:
    """The same TypedDict as a ``typing_extensions`` one, which pydantic accepts on 3.11.

    Pydantic refuses ``typing.TypedDict`` before Python 3.12, and ``handlers.schemas``
    uses it for ``ProjectJson``; the fields (the source of truth) are copied as they are.
    """
    if not typing_extensions.is_typeddict(response_type):
        raise TypeError(f"expected a TypedDict, got {response_type!r}")
    hints = typing.get_type_hints(response_type)
    name = str(getattr(response_type, "__name__", "Response"))
    # The functional form, with a computed name (hence Any: mypy wants a literal).
    make_typed_dict: Any = typing_extensions.TypedDict
    return make_typed_dict(name, hints)


def _untitled(value: Any, *, names: bool = False) -> Any:
    """Drop pydantic's generated ``title``s (``"Ownerid"``); ``names``: keys are field names."""
    if isinstance(value, dict):
        return {
            key: _untitled(item, names=key in ("properties", "$defs") and not names)
            for key, item in value.items()
            if names or key != "title"
        }
    if isinstance(value, list):
        return [_untitled(item) for item in value]
    return value


def _subclasses(cls: type[errors.ApiError]) -> Iterator[type[errors.ApiError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _subclasses(sub)


__all__ = [
    "OPERATIONS",
    "REQUEST_MODELS",
    "Operation",
    "build_document",
    "error_codes",
    "main",
    "render",
]

if __name__ == "__main__":
    raise SystemExit(main())
