"""The Firebase callable protocol over the same operations: every declared endpoint is
also ``POST /{callable}/{operationId}``, as the Firebase client SDKs' ``httpsCallable``
speaks it (firebase-js-sdk ``packages/functions/src/service.ts`` and ``error.ts``;
firebase-functions-python ``https_fn.on_call``). Which callable function serves which
functions' operations is ``handlers.CALLABLES`` (``/call/...`` the ordinary ones,
``/admincall/...`` ``admin``'s); each answers NOT_FOUND for the others' operations.

- Request: ``{"data": {...}}`` (``application/json``), where ``data`` names the path
  parameters, the query parameters and the body fields of the operation, plus
  ``ifMatch`` and ``idempotencyKey`` in place of the headers a callable cannot set.
- Success: ``200 {"result": <the REST body>}`` (``null`` for a REST ``204``).
- Failure: ``{"error": {"status": <canonical status>, "message", "details": {"code":
  <this API's error code>, "fields"?, "retryAfter"?}}}`` with the HTTP status the
  protocol pairs with that canonical status (``HTTP_STATUS``).

The adapter only translates: it synthesizes the REST request (method, path from the
endpoint's pattern, query string, JSON body, the caller's headers) and hands it to the
very shell that serves REST (``Function.served``), so authentication, App Check, the
policy, validation, audit, the request's log line and the standard headers are the
same. Unlike ``on_call``, a request without a token is refused, never served
anonymously, and the session cookie is never read (callables carry a bearer token).
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Request, Response
from pydantic import BaseModel, ConfigDict

from core import errors, request_log
from handlers.bodies import parse_body
from handlers.endpoints import Endpoint
from handlers.http import log_request, with_cors
from handlers.responses import empty_response, json_response, with_standard_headers

if TYPE_CHECKING:
    from app import Container
    from handlers.http import Function

logger = logging.getLogger(__name__)

#: ``data`` fields that stand for the headers of the same meaning.
IF_MATCH_FIELD = "ifMatch"
IDEMPOTENCY_KEY_FIELD = "idempotencyKey"

#: Canonical status -> HTTP status, as the protocol pairs them (firebase-functions-python
#: ``https_fn._error_code_map``, after google.rpc ``code.proto``).
HTTP_STATUS: Mapping[str, int] = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
}

#: This API's errors -> canonical status: the one table (a unit test requires every
#: ``ApiError`` class in it). After code.proto: INVALID_ARGUMENT for input that is wrong
#: whatever the state; FAILED_PRECONDITION for input the current state refuses and a
#: retry as is will not fix; ABORTED for a lost race or a failed test-and-set
#: (``If-Match``): read again, then retry.
CANONICAL_STATUS: Mapping[type[errors.ApiError], str] = {
    errors.ApiError: "INTERNAL",
    errors.InternalError: "INTERNAL",
    errors.BadRequest: "INVALID_ARGUMENT",
    errors.InvalidJson: "INVALID_ARGUMENT",
    errors.ValidationFailed: "INVALID_ARGUMENT",
    errors.InvalidCursor: "INVALID_ARGUMENT",
    errors.UnknownUser: "FAILED_PRECONDITION",
    errors.AssigneeNotMember: "FAILED_PRECONDITION",
    errors.ClaimsTooLarge: "FAILED_PRECONDITION",
    errors.TenantSessionUnsupported: "FAILED_PRECONDITION",
    errors.AuthenticationFailed: "UNAUTHENTICATED",
    errors.MissingToken: "UNAUTHENTICATED",
    errors.InvalidToken: "UNAUTHENTICATED",
    errors.TokenExpired: "UNAUTHENTICATED",
    errors.TokenRevoked: "UNAUTHENTICATED",
    errors.UserDisabled: "UNAUTHENTICATED",
    errors.RecentSignInRequired: "UNAUTHENTICATED",
    errors.TenantNotAllowed: "UNAUTHENTICATED",
    errors.AppCheckFailed: "UNAUTHENTICATED",
    errors.AppCheckReplayed: "UNAUTHENTICATED",
    errors.PermissionDenied: "PERMISSION_DENIED",
    errors.CsrfRejected: "PERMISSION_DENIED",
    errors.EmailNotVerified: "PERMISSION_DENIED",
    errors.AnonymousNotAllowed: "PERMISSION_DENIED",
    errors.ProviderNotAllowed: "PERMISSION_DENIED",
    errors.EmailDomainNotAllowed: "PERMISSION_DENIED",
    errors.EmailRequired: "PERMISSION_DENIED",
    errors.StepUpRequired: "UNAUTHENTICATED",
    errors.RateLimited: "RESOURCE_EXHAUSTED",
    errors.NotFound: "NOT_FOUND",
    errors.UserNotFound: "NOT_FOUND",
    # Only a callable sent with another method than POST (on_call answers 400 too).
    errors.MethodNotAllowed: "INVALID_ARGUMENT",
    errors.Conflict: "ABORTED",
    errors.SelfDemotion: "FAILED_PRECONDITION",
    errors.TooManyMembers: "FAILED_PRECONDITION",
    errors.Busy: "ABORTED",
    errors.IdempotencyInProgress: "ABORTED",
    errors.IdempotencyKeyReused: "ALREADY_EXISTS",
    errors.PreconditionFailed: "ABORTED",
    errors.PayloadTooLarge: "INVALID_ARGUMENT",
    errors.UnsupportedMediaType: "INVALID_ARGUMENT",
    errors.Unavailable: "UNAVAILABLE",
    errors.AuthUnavailable: "UNAVAILABLE",
}
_BY_CODE = {error.code: status for error, status in CANONICAL_STATUS.items()}
#: For a code missing from the table (never, while the unit test passes): by HTTP status.
_BY_HTTP_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
_BY_HTTP_STATUS |= {404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED"}
_BY_HTTP_STATUS |= {503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

#: ``<name>`` or ``<converter:name>`` in a werkzeug route pattern.
_PLACEHOLDER = re.compile(r"<(?:[^:>]+:)?([^>]+)>")
#: WSGI keys of the caller's request that the synthesized one must not inherit.
_NOT_INHERITED = (
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "HTTP_COOKIE",
    "HTTP_IF_MATCH",
    "HTTP_IDEMPOTENCY_KEY",
    "werkzeug.request",
)


def canonical_status(code: str, http_status: int) -> str:
    """The canonical status of this API's error ``code`` (answered with ``http_status``)."""
    status = _BY_CODE.get(code)
    if status is not None:
        return status
    return _BY_HTTP_STATUS.get(http_status, "INTERNAL" if http_status >= 500 else "UNKNOWN")


class CallBody(BaseModel):
    """The callable request body: ``{"data": {...}}``, nothing else (``null`` = ``{}``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    data: dict[str, Any] | None


@dataclass(frozen=True)
class Operation:
    """One declared endpoint as a callable: its contract, the shell of its function,
    and the ``data`` field names each part of the REST request comes from."""

    endpoint: Endpoint
    serve: Callable[[Request], Response]
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The ``data`` fields that are not body fields."""
        if_match = (IF_MATCH_FIELD,) if self.endpoint.if_match else ()
        key = (IDEMPOTENCY_KEY_FIELD,) if self.endpoint.idempotent else ()
        return (*self.path_params, *self.query_params, *if_match, *key)


def operations(
    functions: Iterable[Function[Any]], serve: Callable[[Function[Any]], Callable[..., Response]]
) -> dict[str, Operation]:
    """Every endpoint of ``functions`` by operation id, served by ``serve(function)``.

    Raises:
        ValueError: an endpoint whose path and query parameters share a name, or use a
            name reserved for a header (``ifMatch``, ``idempotencyKey``).
    """
    found: dict[str, Operation] = {}
    for function in functions:
        shell = serve(function)
        for endpoint in function.endpoints:
            operation = Operation(
                endpoint,
                shell,
                tuple(_PLACEHOLDER.findall(endpoint.path)),
                tuple(param.name for param in endpoint.query),
            )
            names = [*operation.path_params, *operation.query_params]
            reserved = {IF_MATCH_FIELD, IDEMPOTENCY_KEY_FIELD}
            if len(set(names)) != len(names) or reserved & set(names):
                raise ValueError(f"{endpoint.operation_id}: data field names collide: {names}")
            found[endpoint.operation_id] = operation
    return found


def bind(
    name: str, functions: Iterable[Function[Any]], container: Container
) -> Callable[[Request], Response]:
    """The entry point of the callable function ``name`` (``handlers.CALLABLES``): every
    endpoint of ``functions`` as a callable at ``/{name}/{operationId}``, with the same
    CORS as the REST functions."""
    served = operations(functions, lambda function: function.served(container))
    adapter = Callables(served, prefix=f"/{name}")
    project_id = container.settings.project_id
    return with_cors(
        lambda request: adapter.serve(request, project_id),
        container.settings.cors_allowed_origins,
    )


class Callables:
    """``POST {prefix}/{operationId}`` (or ``/{operationId}`` when Cloud Functions stripped
    the function's name) -> the operation's REST request -> the callable envelope."""

    def __init__(self, by_id: Mapping[str, Operation], prefix: str) -> None:
        self._by_id = dict(by_id)
        self._prefix = prefix

    def serve(self, request: Request, project_id: str) -> Response:
        try:
            operation = self._operation(request.path)
            if request.method == "OPTIONS":  # a preflight: CORS headers come from with_cors
                return _standard(empty_response(204, {"Allow": "OPTIONS, POST"}))
            if request.method != "POST":
                raise errors.MethodNotAllowed(["OPTIONS", "POST"])
            rest = synthesize(operation, request)
        except errors.ApiError as error:
            return _refused(request, error, project_id)
        return envelope(operation.serve(rest))

    def _operation(self, path: str) -> Operation:
        name = path.rstrip("/")
        prefix = self._prefix + "/"
        name = name.removeprefix(prefix) if name.startswith(prefix) else name[1:]
        operation = self._by_id.get(name)
        if operation is None:
            raise errors.NotFound("No such callable function.")
        return operation


def synthesize(operation: Operation, request: Request) -> Request:
    """The REST request that ``request`` (a callable call) stands for.

    Raises:
        PayloadTooLarge, UnsupportedMediaType, InvalidJson: the body, as for REST.
        ValidationFailed: not ``{"data": {...}}``, or ``data`` fields of the wrong kind,
            missing, or unknown to the operation.
        MissingToken: no ``Authorization`` header for an endpoint that reads none.
    """
    endpoint = operation.endpoint
    data = dict(parse_body(request, CallBody).data or {})
    if not endpoint.access.authenticated and "Authorization" not in request.headers:
        raise errors.MissingToken()
    problems: dict[str, str] = {}
    segments: dict[str, str] = {}
    for name in operation.path_params:
        value = data.pop(name, None)
        if isinstance(value, str) and value and "/" not in value:
            segments[name] = value
        else:
            problems[name] = "is required: a non-empty string without '/'"
    query: list[tuple[str, str]] = []
    for name in operation.query_params:
        value = data.pop(name, None)
        if value is not None:
            text = _query_text(value)
            if text is None:
                problems[name] = "must be a string, an integer or a boolean"
            else:
                query.append((name, text))
    headers: dict[str, str] = {}
    if endpoint.if_match and (value := data.pop(IF_MATCH_FIELD, None)) is not None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            headers["HTTP_IF_MATCH"] = f'"{value}"'
        elif isinstance(value, str):
            headers["HTTP_IF_MATCH"] = value
        else:
            problems[IF_MATCH_FIELD] = "must be a version (an integer) or an ETag string"
    if endpoint.idempotent and (value := data.pop(IDEMPOTENCY_KEY_FIELD, None)) is not None:
        if isinstance(value, str):
            headers["HTTP_IDEMPOTENCY_KEY"] = value
        else:
            problems[IDEMPOTENCY_KEY_FIELD] = "must be a string"
    if endpoint.request is None:
        problems |= {name: "is not a known field" for name in data}
    if problems:
        raise errors.ValidationFailed(details=dict(list(problems.items())[:20]))
    path = _PLACEHOLDER.sub(lambda match: segments[match.group(1)], endpoint.path)
    body = b""
    if endpoint.request is not None:
        body = json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
    environ = {key: value for key, value in request.environ.items() if key not in _NOT_INHERITED}
    environ |= headers
    environ |= {
        "REQUEST_METHOD": endpoint.method,
        "SCRIPT_NAME": "",
        # WSGI carries the path as latin-1 text of its UTF-8 bytes (PEP 3333).
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": urlencode(query),
        "wsgi.input": io.BytesIO(body),
    }
    if endpoint.request is not None:
        environ |= {"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))}
    return Request(environ)


def _query_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    return None


def envelope(rest: Response) -> Response:
    """The callable form of a REST response: ``{"result": ...}`` or ``{"error": ...}``,
    with the REST response's headers (request id, security headers, ``ETag``, ...)."""
    raw = rest.get_data()
    headers = [
        (name, value)
        for name, value in rest.headers.items()
        if name.lower() not in {"content-type", "content-length"}
    ]
    if 200 <= rest.status_code < 300:
        result = json.loads(raw) if raw else None
        response = json_response({"result": result}, 200)
    else:
        retry_after = rest.headers.get("Retry-After")
        response = error_envelope(rest.status_code, _rest_error(raw), retry_after)
    for name, value in headers:
        response.headers.add(name, value)
    return response


def _rest_error(raw: bytes) -> Mapping[str, Any]:
    """The ``error`` object of a REST error body (``handlers.responses.error_response``)."""
    try:
        error = json.loads(raw)["error"]
    except (ValueError, KeyError, TypeError):
        error = None
    return error if isinstance(error, dict) else {"code": "internal", "message": "Internal error."}


def error_envelope(
    http_status: int, error: Mapping[str, Any], retry_after: str | None = None
) -> Response:
    """``{"error": {"status", "message", "details": {"code", "fields"?, "retryAfter"?}}}``
    with the HTTP status of its canonical status."""
    code = str(error.get("code", "internal"))
    status = canonical_status(code, http_status)
    details: dict[str, Any] = {"code": code}
    if error.get("details"):
        details["fields"] = error["details"]
    if retry_after is not None and retry_after.isdigit():
        details["retryAfter"] = int(retry_after)
    body = {"status": status, "message": str(error.get("message", "")), "details": details}
    return json_response({"error": body}, HTTP_STATUS[status])


def _refused(request: Request, error: errors.ApiError, project_id: str) -> Response:
    """A call refused before it became a REST request, answered and logged as the
    shell answers and logs REST requests."""
    request_id = uuid.uuid4().hex
    started = time.perf_counter()
    with request_log.recording(request_id) as record:
        record.decision, record.rule = "deny", error.code
        body: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.details:
            body["details"] = error.details
        response = error_envelope(error.status, body, error.headers.get("Retry-After"))
        for name, value in error.headers.items():
            response.headers[name] = value
        log_request(request, response, record, time.perf_counter() - started, project_id)
    return _standard(response, request_id)


def _standard(response: Response, request_id: str | None = None) -> Response:
    response.vary.add("Origin")
    return with_standard_headers(response, request_id or uuid.uuid4().hex)
