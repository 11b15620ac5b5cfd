"""The ``identity`` function: Identity Platform's blocking events, decided by the sign-up policy.

Registered with Identity Platform for ``beforeCreate`` and ``beforeSignIn`` (README,
"Sign-up policy"). The protocol is firebase-functions' ``identity_fn``:

- request: ``POST``, ``Content-Type: application/json``, body ``{"data": {"jwt": JWT}}``
  (``auth.blocking`` verifies the JWT);
- allowed: ``200`` with ``{}`` (no change) or, for a new account with default claims,
  ``{"userRecord": {"customClaims": {...}, "updateMask": "customClaims"}}``;
- refused or failed: the callable protocol's error,
  ``{"error": {"status": "PERMISSION_DENIED", "message": ..., "details": {"code": ...}}}``
  with the HTTP status of that canonical status (403 here; 400 ``INVALID_ARGUMENT`` for
  a malformed request, 401 ``UNAUTHENTICATED`` for a bad token, 503 ``UNAVAILABLE``
  when Google's keys cannot be fetched, 500 ``INTERNAL`` only for our own faults).
  ``details.code`` is the stable code of ``core.errors``. Any non-2xx answer makes
  Identity Platform refuse the sign-up or sign-in.

Nothing here touches Firestore or the Auth admin API: the function needs no IAM role.
Everything is built from explicit settings (``build``, a part of the composition root:
``app.Container.identity``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from flask import Request, Response

from auth import (
    BlockingTokenVerifier,
    PublicKeys,
    SignupPolicy,
    Verdict,
    decide_signup,
)
from core import errors, request_log
from core.logging import TRACE_HEADERS, trace_field
from core.settings import MAX_BODY_BYTES, Settings
from handlers.responses import json_response, with_standard_headers

logger = logging.getLogger(__name__)

#: HTTP status of an ``ApiError`` -> the callable protocol's canonical status and its
#: HTTP status (firebase-functions' ``_error_code_map``); other 4xx: ``INVALID_ARGUMENT``.
CANONICAL_STATUS: Final[Mapping[int, tuple[str, int]]] = {
    401: ("UNAUTHENTICATED", 401),
    403: ("PERMISSION_DENIED", 403),
    500: ("INTERNAL", 500),
    503: ("UNAVAILABLE", 503),
}
INVALID_ARGUMENT: Final = ("INVALID_ARGUMENT", 400)
#: Headers of an error that still mean something on a callable-protocol answer.
_KEPT_HEADERS: Final = ("Retry-After",)


class IdentityHandler:
    """HTTP -> verified blocking event -> policy verdict -> JSON answer. Thread-safe."""

    def __init__(
        self, *, verifier: BlockingTokenVerifier, policy: SignupPolicy, project_id: str
    ) -> None:
        self.verifier = verifier
        self.policy = policy
        self._project_id = project_id

    def __call__(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        with request_log.recording(request_id) as record:
            try:
                response = self._answer(request)
            except errors.ApiError as error:
                if isinstance(error, errors.InternalError):
                    logger.error("identity: %s (request %s)", error.message, request_id)
                    error = errors.InternalError(f"Internal error (request id {request_id}).")
                response = error_response(error)
                if record.decision is None:
                    record.decision, record.rule = "deny", error.code
            except Exception as error:  # the last line of defence: a generic 500
                logger.error(
                    "unhandled %s (request %s)", type(error).__name__, request_id, exc_info=error
                )
                response = error_response(
                    errors.InternalError(f"Internal error (request id {request_id}).")
                )
                record.decision, record.rule = "deny", errors.InternalError.code
            self._log(request, response, record, time.perf_counter() - started)
        return with_standard_headers(response, request_id)

    def _answer(self, request: Request) -> Response:
        token = blocking_jwt(request)
        event = self.verifier.verify(token)
        request_log.note_uid(event.uid)
        verdict = decide_signup(
            self.policy, event.event_type, email=event.email, custom_claims=event.custom_claims
        )
        request_log.note_decision(
            f"identity.{event.event_type}",
            f"users/{event.uid}",
            allowed=verdict.allowed,
            rule=verdict.rule.value,
        )
        if not verdict.allowed:
            raise verdict.refusal()
        return json_response(answer(verdict))

    def _log(
        self,
        request: Request,
        response: Response,
        record: request_log.RequestRecord,
        seconds: float,
    ) -> None:
        """One line per event, as the API's (never the token, never the email)."""
        fields = {
            **record.fields(),
            "method": request.method,
            "status": response.status_code,
            "latencyMs": round(seconds * 1000, 2),
        }
        text = " ".join(f"{key}={value}" for key, value in fields.items() if key != "request_id")
        logger.info(
            "%s",
            text,
            extra={
                "requestId": record.request_id,
                **fields,
                **trace_field(
                    self._project_id,
                    {name: request.headers.get(name, "") for name in TRACE_HEADERS},
                ),
            },
        )


def blocking_jwt(request: Request) -> str:
    """The JWT of a blocking request, ``{"data": {"jwt": "..."}}`` posted as JSON.

    Raises:
        MethodNotAllowed: not ``POST``.
        PayloadTooLarge: over ``MAX_BODY_BYTES``.
        UnsupportedMediaType: not ``application/json``.
        InvalidJson: not UTF-8 JSON.
        ValidationFailed: not that shape (other top-level keys are refused, as
            firebase-functions-python does).
    """
    if request.method != "POST":
        raise errors.MethodNotAllowed(["POST"])
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge(f"The body is {length} bytes; the limit is {MAX_BODY_BYTES}.")
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge(f"The body exceeds the limit of {MAX_BODY_BYTES} bytes.")
    if request.mimetype != "application/json":
        raise errors.UnsupportedMediaType(
            f"Expected Content-Type application/json, got {request.mimetype or 'none'}."
        )
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise errors.InvalidJson() from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or set(body) != {"data"}:
        raise errors.ValidationFailed(
            'Expected a body {"data": {"jwt": ...}} and nothing else.',
            details={"data": "required: an object with jwt, the only top-level field"},
        )
    token = data.get("jwt")
    if not isinstance(token, str) or not token:
        raise errors.ValidationFailed(details={"data.jwt": "required: the blocking token"})
    return token


def answer(verdict: Verdict) -> dict[str, Any]:
    """The body of an allowed event: the changes to make to the account, if any."""
    if verdict.custom_claims is None:
        return {}
    return {"userRecord": {"customClaims": verdict.custom_claims, "updateMask": "customClaims"}}


def error_response(error: errors.ApiError) -> Response:
    """The callable protocol's error (firebase-functions' ``HttpsError``), with our code."""
    status, http_status = CANONICAL_STATUS.get(error.status) or (
        INVALID_ARGUMENT if 400 <= error.status < 500 else CANONICAL_STATUS[500]
    )
    body = {"status": status, "message": error.message, "details": {"code": error.code}}
    headers = {name: value for name, value in error.headers.items() if name in _KEPT_HEADERS}
    return json_response({"error": body}, status=http_status, headers=headers)


def build(
    settings: Settings, *, keys: PublicKeys, clock: Callable[[], float] = time.time
) -> IdentityHandler:
    """The handler for these settings; Google's keys are fetched on the first token.

    Args:
        settings: the project, ``IDENTITY_FUNCTION_URLS``, the skew and the sign-up policy.
            With the Auth emulator (``FIREBASE_AUTH_EMULATOR_HOST``, which the settings
            allow only locally with a ``demo-`` project) its unsigned tokens are accepted.
        keys: the key store (``auth.blocking_key_store``: Google's; a local server in
            tests).
        clock: the wall clock (tests).
    """
    verifier = BlockingTokenVerifier(
        project_id=settings.project_id,
        audiences=settings.identity_function_urls,
        keys=keys,
        clock_skew_seconds=settings.clock_skew_seconds,
        accept_unsigned=settings.auth_emulator_host is not None,
        clock=clock,
    )
    policy = SignupPolicy(
        allowed_domains=frozenset(settings.signup_allowed_email_domains),
        default_claims=settings.signup_default_claims,
    )
    return IdentityHandler(verifier=verifier, policy=policy, project_id=settings.project_id)
