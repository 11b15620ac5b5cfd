"""The HTTP shell around every function: routing, authentication, CORS, error
rendering and standard headers. Views only translate HTTP to service calls.

A ``Function`` is one deployed Cloud Function; its views declare their contracts with
``Function.endpoint`` (``handlers.endpoints``), and the routes, the authentication of
each request, and the generated documents all come from those declarations. Bound to
the process's ``Container`` (``Function.bind``), it is the Cloud Functions entry point;
each view receives the part of the container its function ``needs`` (its service).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import flask_cors
from flask import Request, Response
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from auth import SAFE_METHODS, Principal, credential
from core import errors, request_log
from core.logging import TRACE_HEADERS, trace_field
from core.settings import Settings
from handlers.endpoints import (
    HTTP_METHODS,
    Access,
    Endpoint,
    Paged,
    Param,
    Policy,
    View,
    declaration_problems,
)
from handlers.responses import (
    empty_response,
    error_response,
    internal_error_response,
    with_standard_headers,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from app import Container

logger = logging.getLogger(__name__)
V = TypeVar("V", bound=View)
#: What a function's views receive from the container (``Function(needs=...)``).
D = TypeVar("D")

#: The Firebase App Check token's header (the name the Firebase client SDKs send).
APP_CHECK_HEADER = "X-Firebase-AppCheck"
#: Operations that spend their App Check token (replay protection), as (METHOD, route
#: pattern): a second request with the same token is refused (``app_check_replayed``).
APP_CHECK_SINGLE_USE = frozenset(
    {
        ("POST", "/session"),
        ("POST", "/me/revoke-sessions"),
        ("PUT", "/admin/users/<uid>/roles"),
    }
)
#: Set (to ``1``) on a response when the caller's ID token carries fewer roles, or an
#: older ``email_verified``, than their user record: a client refreshes its token once
#: (``getIdToken(true)``). See ``auth.Principal.claims_stale``.
CLAIMS_STALE_HEADER = "X-Claims-Stale"
#: Headers a browser may send cross-origin, and those it may read back.
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "Idempotency-Key",
    APP_CHECK_HEADER,
)
CORS_EXPOSED_HEADERS = (
    "ETag",
    "Idempotent-Replayed",
    "Location",
    "Retry-After",
    "X-Request-Id",
    "WWW-Authenticate",
    CLAIMS_STALE_HEADER,
)
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
REQUEST_ID_KEY = "backend.request_id"


@dataclass(frozen=True)
class Route:
    """A path pattern (werkzeug syntax) and the endpoint of each method it accepts."""

    pattern: str
    endpoints: Mapping[str, Endpoint]


class Function(Generic[D]):
    """One deployed Cloud Function: a name, which is also its path prefix, the part of
    the container its views need, and the endpoints its views declare.

    A view is called as ``view(request, principal, needed, **path_parameters)``
    (``view(request, needed, **path_parameters)`` for a public endpoint), where
    ``needed`` is ``needs(container)``: the function's service, say.

    Deployed, Cloud Functions may strip the function name from the path
    (``/projects/abc`` arrives as ``/abc``); locally and behind a gateway it does
    not. Both forms route the same way.
    """

    def __init__(self, name: str, needs: Callable[[Container], D]) -> None:
        self.name = name
        self.needs = needs
        #: In declaration order (read by the route table and the document generators).
        self.endpoints: list[Endpoint] = []
        self.prefix = f"/{name}"

    def endpoint(
        self,
        method: str,
        path: str,
        *,
        operation_id: str,
        summary: str,
        access: Access,
        policy: Policy,
        status: int = 200,
        response: type[Any] | Paged | None = None,
        request: type[BaseModel] | None = None,
        errors: tuple[int, ...] = (),
        query: tuple[Param, ...] = (),
        if_match: bool = False,
        idempotent: bool = False,
        etag: bool = False,
        location: bool = False,
        cookie: bool = False,
    ) -> Callable[[V], V]:
        """Declare the view below as the endpoint ``method path`` (see ``Endpoint``).

        Raises:
            ValueError: a method the shell does not route, a path outside the function's
                prefix, a method and path (or operation id) declared twice, or no access
                and policy that fit (``handlers.endpoints.declaration_problems``).
        """

        def declare(view: V) -> V:
            declared = Endpoint(
                function=self.name,
                method=method.upper(),
                path=path,
                operation_id=operation_id,
                summary=summary,
                access=access,
                policy=policy,
                view=view,
                status=status,
                response=response,
                request=request,
                errors=errors,
                query=query,
                if_match=if_match,
                idempotent=idempotent,
                etag=etag,
                location=location,
                cookie=cookie,
            )
            self._check(declared)
            self.endpoints.append(declared)
            return view

        return declare

    @property
    def routes(self) -> tuple[Route, ...]:
        """The endpoints grouped by path, in declaration order."""
        by_path: dict[str, dict[str, Endpoint]] = {}
        for declared in self.endpoints:
            by_path.setdefault(declared.path, {})[declared.method] = declared
        return tuple(Route(path, endpoints) for path, endpoints in by_path.items())

    def url_map(self) -> Map:
        """The werkzeug routing of this function: one rule per path, whose endpoint is
        the path's index in ``routes`` (what the shell routes with, and the route lint
        walks)."""
        rules = [
            Rule(route.pattern, endpoint=index, methods=list(route.endpoints))
            for index, route in enumerate(self.routes)
        ]
        return Map(rules, strict_slashes=False, merge_slashes=False)

    def routed(self) -> tuple[tuple[str, str, Endpoint | None], ...]:
        """Every (method, werkzeug pattern) that ``url_map`` routes, with the endpoint
        the shell dispatches it to (``None``: none is declared), HEAD and OPTIONS
        aside (the shell answers them, HEAD with the GET endpoint)."""
        routes = self.routes
        found: list[tuple[str, str, Endpoint | None]] = []
        for rule in self.url_map().iter_rules():
            index = rule.endpoint
            route = routes[index] if isinstance(index, int) and 0 <= index < len(routes) else None
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                declared = route.endpoints.get(method) if route is not None else None
                found.append((method, rule.rule, declared))
        return tuple(found)

    def bind(self, container: Container) -> Callable[[Request], Response]:
        """The Cloud Functions entry point of this function, serving with ``container``."""
        return with_cors(self.served(container), container.settings.cors_allowed_origins)

    def served(self, container: Container) -> Callable[[Request], Response]:
        """This function's shell (routing, App Check, authentication, errors, headers,
        the request's log line) serving with ``container``, without CORS: what ``bind``
        wraps, and what the callable protocol (``handlers.callables``) dispatches to."""
        return _Served(self, container).serve

    def owns(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def _check(self, declared: Endpoint) -> None:
        problems = declaration_problems(declared)
        if problems:
            raise ValueError(f"{declared.operation_id}: " + "; ".join(problems))
        if declared.method not in HTTP_METHODS:
            raise ValueError(
                f"{declared.operation_id}: expected a method in {sorted(HTTP_METHODS)}, "
                f"got {declared.method!r}"
            )
        if not self.owns(declared.path):
            raise ValueError(
                f"{declared.operation_id}: expected a path under {self.prefix}, "
                f"got {declared.path!r}"
            )
        for other in self.endpoints:
            if (other.method, other.path) == (declared.method, declared.path):
                raise ValueError(f"{declared.method} {declared.path} is declared twice")
            if other.operation_id == declared.operation_id:
                raise ValueError(f"operation id {declared.operation_id!r} is declared twice")


class _Served(Generic[D]):
    """A function bound to a container: routing, authentication, logging."""

    def __init__(self, function: Function[D], container: Container) -> None:
        problems = [p for e in function.endpoints for p in declaration_problems(e)]
        if problems:  # deny by default: nothing is served past an undeclared endpoint
            raise ValueError(f"function {function.name!r}: " + "; ".join(problems))
        self._function = function
        self._container = container
        self._settings = container.settings
        self._routes = function.routes
        self._rules = function.url_map()

    def serve(self, request: Request) -> Response:
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
            if record.claims_stale:
                # On errors too: a 403 may be what the missing role caused.
                response.headers[CLAIMS_STALE_HEADER] = "1"
            seconds = time.perf_counter() - started
            log_request(request, response, record, seconds, self._settings.project_id)
        response.vary.add("Origin")
        return with_standard_headers(response, request_id)

    def _dispatch(self, request: Request) -> Response:
        path = self._normalised(request.path)
        adapter = self._rules.bind("backend", path_info=path, url_scheme="https")
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
        endpoints = self._routes[index].endpoints
        declared = endpoints.get(request.method) or endpoints["GET"]
        # Abuse limits first: nothing below (App Check's ledger, Auth, Firestore) runs
        # for a client over its budget.
        _within(self._container.rate_limits.check_ip(client_ip(request, self._settings)), "ip")
        # App Check before authentication (preflights were answered above, unchecked).
        if self._settings.app_check != "off":
            self._container.app_check.check(
                request.headers.getlist(APP_CHECK_HEADER),
                consume=(declared.method, declared.path) in APP_CHECK_SINGLE_USE,
            )
        response: Response
        if not declared.access.authenticated:
            response = declared.view(request, self._function.needs(self._container), **args)
            return response
        principal = self._caller(request, declared.access)
        request_log.note_uid(principal.uid)
        if principal.claims_stale:
            request_log.note_claims_stale()
        self._container.authenticator.require_step_up(
            principal, operation_id=declared.operation_id, privileged=declared.access.privileged
        )
        # Built after authentication: a refused request builds nothing it would need.
        # The caller's realm: a tenant's user gets that tenant's services, which read
        # and write only that tenant's users and documents (``Container.for_tenant``).
        needed = self._function.needs(self._container.for_tenant(principal.tenant))
        response = declared.view(request, principal, needed, **args)
        return response

    def _caller(self, request: Request, access: Access) -> Principal:
        """The verified caller; 401/403/503 before the view runs otherwise.

        The credential is parsed first: a request without one costs nothing and never
        reaches firebase-admin (the authenticator is built for the first that has one).
        """
        found = credential(
            request,
            allowed_origins=self._settings.cors_allowed_origins,
            deployed=self._settings.deployed,
            bearer_only=access.bearer_only,
        )
        authenticator = self._container.authenticator
        limits, write = self._container.rate_limits, request.method not in SAFE_METHODS

        def admit(uid: str) -> None:
            # After the token is verified, before any Auth backend call.
            rule = "user:writes" if write else "user:reads"
            _within(limits.check_user(uid, write=write), rule)

        return authenticator.authenticate_credential(
            found, privileged=access.privileged, admit=admit
        )

    def _normalised(self, path: str) -> str:
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        if self._function.owns(path):
            return path
        prefix = self._function.prefix
        return prefix if path == "/" else prefix + path


def log_request(
    request: Request,
    response: Response,
    record: request_log.RequestRecord,
    seconds: float,
    project_id: str,
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
                project_id,
                {name: request.headers.get(name, "") for name in TRACE_HEADERS},
            ),
        },
    )


def _printable(text: str) -> str:
    """Client-supplied text for a log line: control characters escaped (no forged lines)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def with_cors(
    serve: Callable[[Request], Response], allowed_origins: tuple[str, ...]
) -> Callable[[Request], Response]:
    """``serve`` as an entry point (a plain function, as functions-framework requires)
    that answers CORS for the configured origins only (flask-cors); others get no CORS
    headers."""
    cors: Callable[[Request], Response] | None = None
    if allowed_origins:
        cors = flask_cors.cross_origin(
            origins=exact_origin_patterns(allowed_origins),
            methods=list(CORS_METHODS),
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            max_age=600,
            automatic_options=False,
            # Browsers in cookie-session mode send the cookie cross-origin (allowlist only).
            supports_credentials=True,
        )(serve)

    def entry_point(request: Request) -> Response:
        # Same-origin and non-browser calls send no Origin and get no CORS headers.
        if cors is not None and "Origin" in request.headers:
            return cors(request)
        return serve(request)

    return entry_point


def client_ip(request: Request, settings: Settings) -> str:
    """The client's IP for the per-IP budget. Deployed, Google's front end appends the
    address it received the request from to ``X-Forwarded-For``: the last entry is the
    one a client cannot forge (earlier entries are whatever the client sent)."""
    if settings.deployed:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return request.remote_addr or "unknown"


def _within(retry_after: int | None, rule: str) -> None:
    """Refuse with 429 (and the log line names the budget) when a budget is spent."""
    if retry_after is not None:
        request_log.note_decision("request", "rate_limit", allowed=False, rule=f"rate:{rule}")
        raise errors.RateLimited(retry_after=retry_after, rule=rule)


def exact_origin_patterns(origins: Sequence[str]) -> list[re.Pattern[str]]:
    """One compiled pattern per origin that matches that exact string and nothing else.

    flask-cors reads a string with regex characters (``*``, ``[``, ``?``, ...) as a
    pattern anchored at the start only, and compares other strings case-insensitively;
    compiled patterns it uses as they are. Settings admit only exact origins, and this
    keeps it so whatever they contain (an IPv6 origin has brackets).
    """
    return [re.compile(re.escape(origin) + r"\Z") for origin in origins]


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
