"""Building responses: JSON bodies, the one error renderer, and the headers every
response carries."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Response

from core.errors import ApiError, AuthenticationFailed, InternalError

logger = logging.getLogger(__name__)

#: Sent on every response, errors included.
SECURITY_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}

JSON_MIMETYPE = "application/json"


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status=status, headers=dict(headers or {}), mimetype=JSON_MIMETYPE)


def empty_response(status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(status=status, headers=dict(headers or {}))
    del response.headers["Content-Type"]
    return response


def error_response(error: ApiError) -> Response:
    """The one place an error becomes HTTP: ``{"error": {"code", "message"[, "details"]}}``."""
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    headers = dict(error.headers)
    if isinstance(error, AuthenticationFailed):
        headers["WWW-Authenticate"] = error.challenge()
    return json_response({"error": body}, status=error.status, headers=headers)


def internal_error_response(error: BaseException, request_id: str) -> Response:
    """A generic 500: the stack trace goes to the log, never to the client."""
    logger.error("unhandled %s (request %s)", type(error).__name__, request_id, exc_info=error)
    generic = InternalError(f"Internal error (request id {request_id}).")
    return error_response(generic)


def with_standard_headers(response: Response, request_id: str) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    response.headers["X-Request-Id"] = request_id
    return response
