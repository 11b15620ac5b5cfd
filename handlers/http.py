"""The HTTP shell around every function: routing, authentication, CORS,
error rendering and standard headers. Views only translate HTTP to service calls."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Concatenate, ParamSpec

import flask_cors
from flask import Request, Response
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from auth import Principal, credential
from core import errors, request_log
from core.logging import TRACE_HEADERS, trace_field
from core.settings import get_settings
from handlers.responses import (
    empty_response,
    error_response,
    internal_error_response,
    with_standard_headers,
)
from services import context

logger = logging.getLogger(__name__)
P = ParamSpec("P")
View = Callable[..., Response]

#: Headers a browser may send cross-origin, and those it may read back.
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "If-Match", "Idempotency-Key")
CORS_EXPOSED_HEADERS = (
    "ETag",
    "Idempotent-Replayed",
    "Location",
    "Retry-After",
    "X-Request-Id",
    "WWW-Authenticate",
)
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
REQUEST_ID_KEY = "backend.request_id"


@dataclass(frozen=True)
class Route:
    """A path pattern (werkzeug syntax) and the view for each method it accepts."""

    pattern: str
    views: Mapping[str, View]


class Function:
    """One deployed Cloud Function: a name, which is also its path prefix, and its routes.

    Deployed, Cloud Functions may strip the function name from the path
    (``/projects/abc`` arrives as ``/abc``); locally and behind a gateway it does
    not. Both forms route the same way.
    """

    def __init__(self, name: str, routes: Sequence[Route]) -> None:
        self.name = name
        #: The routes, in declaration order (read by the OpenAPI and gateway generators).
        self.routes: tuple[Route, ...] = tuple(routes)
        self._prefix = f"/{name}"
        self._views = [route.views for route in routes]
        self._map = Map(
            [
                Rule(route.pattern, endpoint=index, methods=list(route.views))
                for index, route in enumerate(routes)
            ],
            strict_slashes=False,
            merge_slashes=False,
        )

    def __call__(self, request: Request) -> Response:
        """The Cloud Functions entry point."""
        return self._entry(request)

    @functools.cached_property
    def _entry(self) -> Callable[[Request], Response]:
        # Built on first use so that importing a handler module reads no settings.
        return _with_cors(self._serve)

    def owns(self, path: str) -> bool:
        return path == self._prefix or path.startswith(self._prefix + "/")

    def _serve(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex
        request.environ[REQUEST_ID_KEY] = request_id
        started = time.perf_counter()
        with request_log.recording(request_id) as record:
            try:
                response = self._dispatch(request)
            except errors.InternalError as error:
                response = internal_error_response(error, request_id)
                record.decision, record.rule = "deny", error.code
            except errors.ApiError as error:
                response = error_response(error)
                if record.decision is None:
                    record.decision, record.rule = "deny", error.code
            except Exception as error:  # noqa: BLE001 - the last line of defence: a generic 500
                response = internal_error_response(error, request_id)
            _log_request(request, response, record, time.perf_counter() - started)
        response.vary.add("Origin")
        return with_standard_headers(response, request_id)

    def _dispatch(self, request: Request) -> Response:
        path = self._normalised(request.path)
        adapter = self._map.bind("backend", path_info=path, url_scheme="https")
        try:
            index, args = adapter.match(method=request.method)
        except WerkzeugMethodNotAllowed as error:
            allowed = [*(error.valid_methods or ()), "OPTIONS"]
            if request.method == "OPTIONS":
                return empty_response(204, {"Allow": ", ".join(sorted(set(allowed)))})
            raise errors.MethodNotAllowed(sorted(set(allowed))) from None
        except (WerkzeugNotFound, RequestRedirect):
            raise errors.NotFound("No such route.") from None
        # HEAD is served by the GET view (werkzeug adds HEAD wherever GET is allowed).
        view = self._views[index].get(request.method) or self._views[index]["GET"]
        response: Response = view(request, **args)
        return response

    def _normalised(self, path: str) -> str:
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        if self.owns(path):
            return path
        return self._prefix if path == "/" else self._prefix + path


def _log_request(
    request: Request, response: Response, record: request_log.RequestRecord, seconds: float
) -> None:
    """The one line per request (JSON fields when deployed; readable text locally)."""
    fields = {
        **record.fields(),
        "method": request.method,
        "path": _printable(request.path[:200]),
        "status": response.status_code,
        "latencyMs": round(seconds * 1000, 2),
    }
    text = " ".join(f"{key}={value}" for key, value in fields.items() if key != "request_id")
    http_request = {
        "requestMethod": request.method,
        "requestUrl": _printable(request.path[:200]),
        "status": response.status_code,
        "latency": f"{seconds:.6f}s",
        "userAgent": (request.user_agent.string or "")[:200],
        "remoteIp": request.remote_addr,
        "protocol": request.environ.get("SERVER_PROTOCOL"),
    }
    logger.info(
        "%s",
        text,
        extra={
            "requestId": record.request_id,
            **fields,
            "httpRequest": http_request,
            **trace_field(
                get_settings().project_id,
                {name: request.headers.get(name, "") for name in TRACE_HEADERS},
            ),
        },
    )


def _printable(text: str) -> str:
    """Client-supplied text for a log line: control characters escaped (no forged lines)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _with_cors(serve: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """Answer CORS for the configured origins only (flask-cors); others get no CORS headers."""
    origins = list(get_settings().cors_allowed_origins)
    if not origins:
        return serve
    decorate = flask_cors.cross_origin(
        origins=origins,
        methods=list(CORS_METHODS),
        allow_headers=list(CORS_REQUEST_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        max_age=600,
        automatic_options=False,
        # Browsers in cookie-session mode send the cookie cross-origin (allowlist only).
        supports_credentials=True,
    )
    with_cors: Callable[[Request], Response] = decorate(serve)

    def entry(request: Request) -> Response:
        # Same-origin and non-browser calls send no Origin and get no CORS headers.
        return with_cors(request) if "Origin" in request.headers else serve(request)

    return entry


def authenticated(
    *, privileged: bool = False
) -> Callable[[Callable[Concatenate[Request, Principal, P], Response]], View]:
    """Hand the view a verified ``Principal``; 401/503 before the view runs otherwise.

    Args:
        privileged: check revocation and roles against a fresh user record
            (always true for ``/admin``; implied whenever the token carries a role).
    """

    def decorate(view: Callable[Concatenate[Request, Principal, P], Response]) -> View:
        @functools.wraps(view)
        def wrapper(request: Request, *args: P.args, **kwargs: P.kwargs) -> Response:
            caller = credential(request, allowed_origins=get_settings().cors_allowed_origins)
            principal = context.authenticator().authenticate_credential(
                caller, privileged=privileged
            )
            request_log.note_uid(principal.uid)
            return view(request, principal, *args, **kwargs)

        return wrapper

    return decorate


def framework_error(error: HTTPException) -> Response:
    """Render errors raised by Flask/functions-framework before our code runs (a path
    its own route cannot match, a body Flask refuses) as our JSON errors."""
    api_error: errors.ApiError
    if error.code == 404:
        api_error = errors.NotFound("No such route.")
    elif error.code == 405:
        api_error = errors.MethodNotAllowed(getattr(error, "valid_methods", None) or ["OPTIONS"])
    else:
        simple: dict[int, type[errors.ApiError]] = {
            400: errors.BadRequest,
            413: errors.PayloadTooLarge,
            415: errors.UnsupportedMediaType,
        }
        api_error = simple.get(error.code or 500, errors.InternalError)()
    response = error_response(api_error)
    response.vary.add("Origin")
    return with_standard_headers(response, uuid.uuid4().hex)


def request_id(request: Request) -> str | None:
    """The id this request is logged under (also sent back as ``X-Request-Id``)."""
    value = request.environ.get(REQUEST_ID_KEY)
    return value if isinstance(value, str) else None


def route(pattern: str, **views: View) -> Route:
    return Route(pattern, {method.upper(): view for method, view in views.items()})
