"""The OpenAPI 3.1 document of the API, generated from the endpoints the views declare.

One source of truth: paths, methods, operation ids, summaries, who may call and which
policy decides (``x-policy``), bodies,
statuses and headers come from the ``Function.endpoint`` declarations
(``handlers.FUNCTIONS``); parameters from their rules (``handlers.params``,
``core.fields``); request bodies from the pydantic models the views validate with
(``handlers.schemas``); response bodies from their TypedDicts (``handlers.wire``); the
error codes of each status from the error hierarchy (``core.errors``).

The checked-in copy at the repository root is regenerated with::

    python -m tools.openapi > openapi.json

and ``tests/unit/test_openapi.py`` fails while it is stale.
"""

from __future__ import annotations

import json
import re
import sys
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import typing_extensions
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from auth import SAFE_METHODS, SESSION_COOKIE_NAME
from core import errors, fields
from core.settings import MAX_BODY_BYTES
from handlers.endpoints import Endpoint, Paged, Param
from handlers.http import Function
from handlers.params import PATH_PARAMETERS

OPENAPI_VERSION = "3.1.0"
API_TITLE = "Firebase-authenticated Cloud Functions backend"
API_VERSION = "0.1.0"
JSON = "application/json"
SCHEMAS = "#/components/schemas/"

# --- headers -------------------------------------------------------------------------

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
        "description": "The new document's path (a project, or a task under its project).",
        "required": True,
        "schema": {
            "type": "string",
            "pattern": f"^/projects/{fields.PROJECT_ID.pattern}(/tasks/{fields.TASK_ID.pattern})?$",
        },
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
    401: "Not authenticated (no, invalid, expired or revoked token; disabled user); "
    "`step_up_required`: sign in again, with the second factor or recently "
    '(`WWW-Authenticate: Bearer error="insufficient_user_authentication"`, RFC 9470).',
    403: "Authenticated but not allowed (`forbidden`; `email_not_verified`: a write "
    "without a verified identity; `anonymous_not_allowed`: a write by a guest account; "
    "`provider_not_allowed`: a sign-in provider this deployment does not accept; "
    "`csrf_rejected`: a cookie-authenticated write from an origin not allowed).",
    404: "No such resource, or one the caller may not know exists.",
    405: "The path does not accept this method.",
    409: "Conflicts with the current state; `busy` and `idempotency_in_progress` carry "
    "`Retry-After`.",
    412: "`If-Match` names a version that is not current.",
    413: f"The body is over {MAX_BODY_BYTES} bytes.",
    415: "The body is not UTF-8 `application/json`.",
    422: "The `Idempotency-Key` was already used with another body.",
    429: "`rate_limited`: over this instance's budget for the client IP or the user; "
    "retry after `Retry-After` seconds.",
    500: "An unexpected failure; the message carries only a request id.",
    503: "Firestore or Firebase Auth is unreachable; nothing was changed.",
}

#: Response headers each error status carries (``Retry-After`` on 409: not for every code).
STATUS_HEADERS: Mapping[int, Mapping[str, bool]] = {
    401: {"WWW-Authenticate": True},
    405: {"Allow": True},
    409: {"Retry-After": False},
    429: {"Retry-After": True},
    503: {"Retry-After": True},
}

#: Every authenticated operation may answer these (403: ``provider_not_allowed``).
COMMON_ERRORS = (401, 403, 429, 500, 503)
#: A public one these.
UNAUTHENTICATED_ERRORS = (429, 500, 503)
#: A JSON body adds these.
BODY_ERRORS = (400, 413, 415)


def build_document(functions: Iterable[Function[Any]] | None = None) -> dict[str, Any]:
    """The OpenAPI document of every endpoint of ``functions`` (``handlers.FUNCTIONS``).

    Raises:
        LookupError: a path names a parameter that ``PATH_PARAMETERS`` does not define.
    """
    functions = _functions(functions)
    endpoints = [endpoint for function in functions for endpoint in function.endpoints]
    schemas = _component_schemas(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    for function in functions:
        for route in function.routes:
            item = paths.setdefault(_openapi_path(route.pattern), {})
            names = _path_names(route.pattern)
            if "parameters" not in item and names:
                item["parameters"] = [_path_parameter(name) for name in names]
            for method, endpoint in route.endpoints.items():
                item[method.lower()] = _operation(endpoint)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": API_TITLE,
            "version": API_VERSION,
            "description": (
                "Every call needs `Authorization: Bearer <Firebase ID token>`. "
                'Errors are `{"error": {"code", "message", "details"?}}`. '
                "A path that exists but not for the method answers 405 with `Allow`. "
                "Generated by `python -m tools.openapi` from the endpoints the views "
                "declare and the request models; do not edit by hand."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8000", "description": "scripts/dev"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "tags": [{"name": function.name} for function in functions if function.name],
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
    """Print the document as JSON (``python -m tools.openapi > openapi.json``)."""
    sys.stdout.write(render())
    return 0


def render() -> str:
    """The document exactly as checked in: two-space indent, a final newline."""
    return json.dumps(build_document(), indent=2, ensure_ascii=False) + "\n"


# --- building ----------------------------------------------------------------------


def _functions(functions: Iterable[Function[Any]] | None) -> Sequence[Function[Any]]:
    if functions is None:
        from handlers import FUNCTIONS

        return tuple(FUNCTIONS)
    return tuple(functions)


_PARAMETER = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def _openapi_path(pattern: str) -> str:
    return _PARAMETER.sub(r"{\1}", pattern)


def _path_names(pattern: str) -> list[str]:
    return _PARAMETER.findall(pattern)


def _path_parameter(name: str) -> dict[str, Any]:
    if name not in PATH_PARAMETERS:
        raise LookupError(f"expected path parameter {name!r} in PATH_PARAMETERS, found none")
    return _parameter(PATH_PARAMETERS[name], "path", required=True)


def _parameter(param: Param, where: str, *, required: bool) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": where,
        "required": required,
        "description": param.description,
        "schema": param.rule.json_schema(),
    }


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.function],
        # Which rule decides (``Endpoint.policy``): ``projects.read``, ``roles:admin``,
        # ``self`` or ``public``.
        "x-policy": endpoint.policy.name,
    }
    if not endpoint.access.authenticated:
        result["security"] = []
    elif endpoint.access.bearer_only:
        result["security"] = [{"bearerAuth": []}]
    parameters = [_parameter(p, "query", required=p.required) for p in endpoint.query]
    if endpoint.if_match:
        parameters.append(IF_MATCH)
    if endpoint.idempotent:
        parameters.append(IDEMPOTENCY_KEY)
    if parameters:
        result["parameters"] = parameters
    if endpoint.request is not None:
        result["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": {"$ref": SCHEMAS + endpoint.request.__name__}}},
        }
    responses: dict[str, Any] = {str(endpoint.status): _success_response(endpoint)}
    for status in error_statuses(endpoint):
        responses[str(status)] = {"$ref": f"#/components/responses/{_response_name(status)}"}
    result["responses"] = responses
    return result


def error_statuses(endpoint: Endpoint) -> list[int]:
    """The error statuses of an endpoint: its own, 401 (unless public), 500 and 503,
    those of a JSON body, and 403 for cookie-authenticated writes (CSRF)."""
    access = endpoint.access
    common = COMMON_ERRORS if access.authenticated else UNAUTHENTICATED_ERRORS
    body = BODY_ERRORS if endpoint.request is not None else ()
    csrf = access.authenticated and not access.bearer_only
    csrf_errors = (403,) if csrf and endpoint.method not in SAFE_METHODS else ()
    return sorted({*common, *body, *csrf_errors, *endpoint.errors})


def _success_response(endpoint: Endpoint) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    if endpoint.etag:
        headers["ETag"] = {"$ref": "#/components/headers/ETag"}
    if endpoint.location:
        headers["Location"] = {"$ref": "#/components/headers/Location"}
    if endpoint.idempotent:
        headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/Idempotent-Replayed"}
    if endpoint.cookie:
        headers["Set-Cookie"] = {"$ref": "#/components/headers/Set-Cookie"}
    response: dict[str, Any] = {
        "description": "No content." if endpoint.response is None else "Success.",
        "headers": headers,
    }
    if endpoint.response is not None:
        name = _schema_name(endpoint.response)
        response["content"] = {JSON: {"schema": {"$ref": SCHEMAS + name}}}
    return response


def _schema_name(response: type[Any] | Paged) -> str:
    """A page's own name, or the TypedDict's without ``Json`` (``ProjectJson``: ``Project``)."""
    if isinstance(response, Paged):
        return response.name
    return response.__name__.removesuffix("Json")


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


def request_models(endpoints: Iterable[Endpoint]) -> list[type[BaseModel]]:
    """The pydantic models of the request bodies, each once, in declaration order."""
    models: dict[type[BaseModel], None] = {}
    for endpoint in endpoints:
        if endpoint.request is not None:
            models.setdefault(endpoint.request)
    return list(models)


def _component_schemas(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    ref_template = SCHEMAS + "{model}"
    _, definitions = models_json_schema(
        [(model, "validation") for model in request_models(endpoints)],
        ref_template=ref_template,
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    bodies: dict[type[Any], None] = {}
    pages: dict[str, Paged] = {}
    for endpoint in endpoints:
        if isinstance(endpoint.response, Paged):
            bodies.setdefault(endpoint.response.item)
            pages.setdefault(endpoint.response.name, endpoint.response)
        elif endpoint.response is not None:
            bodies.setdefault(endpoint.response)
    for body in bodies:
        schema = TypeAdapter(_pydantic_compatible(body)).json_schema(ref_template=ref_template)
        # Nested shapes (a project's people) become components of their own.
        schemas.update(schema.pop("$defs", {}))
        schemas[_schema_name(body)] = schema
    for name, page in pages.items():
        schemas[name] = _page_schema(_schema_name(page.item))
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

    Pydantic refuses ``typing.TypedDict`` before Python 3.12, which ``handlers.wire``
    uses; the fields (the source of truth) are copied as they are.
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
    "build_document",
    "error_codes",
    "error_statuses",
    "main",
    "render",
    "request_models",
]

if __name__ == "__main__":
    raise SystemExit(main())
