"""The one error hierarchy of the backend.

Every failure a client can see is an ``ApiError`` leaf that carries its stable
machine ``code`` and HTTP ``status``; ``handlers.responses.error_response`` is
the single place that turns one into a JSON body. Anything that is not an
``ApiError`` becomes a logged, generic 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar


class ApiError(Exception):
    """Root of every error a client may see."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    default_message: ClassVar[str] = "Internal error."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = dict(details) if details else None
        self.headers = dict(headers) if headers else {}
        super().__init__(self.message)


class InternalError(ApiError):
    """An unexpected failure; the message never says more than this."""


# --- 400 -------------------------------------------------------------------


class BadRequest(ApiError):
    """The request is malformed."""

    status = 400
    code = "bad_request"
    default_message = "The request is malformed."


class InvalidJson(BadRequest):
    """The body is not a valid JSON document."""

    code = "invalid_json"
    default_message = "The request body is not valid JSON."


class ValidationFailed(BadRequest):
    """The body or query is JSON but breaks the schema; ``details`` names each field."""

    code = "validation_error"
    default_message = "The request has invalid fields."


class InvalidCursor(BadRequest):
    """A pagination cursor that this server did not issue."""

    code = "invalid_cursor"
    default_message = "The cursor is not valid."


class TenantSessionUnsupported(BadRequest):
    """Firebase issues session cookies for project-level users only (the Admin SDK has no
    tenant-scoped ``createSessionCookie``): tenant users send their ID token instead."""

    code = "tenant_session_unsupported"
    default_message = (
        "Session cookies are not available to tenant accounts; send the ID token as a "
        "Bearer token instead."
    )


class UnknownUser(BadRequest):
    """A uid in the request names no user."""

    code = "unknown_user"
    default_message = "No user has that uid."


class AssigneeNotMember(BadRequest):
    """A task's ``assigneeId`` names someone who is not a member of its project."""

    code = "assignee_not_member"
    default_message = "The assignee must be a member of the project."


class ClaimsTooLarge(BadRequest):
    """The merged custom claims would exceed Firebase's 1000-byte limit."""

    code = "claims_too_large"
    default_message = "The user's custom claims would exceed 1000 bytes."


# --- 401 / 403 -------------------------------------------------------------


class AuthenticationFailed(ApiError):
    """The caller's identity could not be established."""

    status = 401
    code = "invalid_token"
    default_message = "The ID token is invalid."
    #: Value of ``error=`` in ``WWW-Authenticate``; ``None`` when no token was sent (RFC 6750 3.1).
    bearer_error: ClassVar[str | None] = "invalid_token"

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value: ``Bearer`` with ``error=`` when there is one
        (RFC 6750 3), and whatever parameters a subclass adds (``challenge_parameters``)."""
        parameters = self.challenge_parameters()
        if not parameters:
            return "Bearer"
        return "Bearer " + ", ".join(
            f'{name}="{_quotable(value)}"' for name, value in parameters.items()
        )

    def challenge_parameters(self) -> dict[str, str]:
        """The auth-params of the challenge, in order (RFC 7235 2.1)."""
        return {"error": self.bearer_error} if self.bearer_error else {}


def _quotable(value: str) -> str:
    """``value`` as the inside of a quoted-string: no quote or backslash can end it early."""
    return "".join(c for c in value if c.isprintable() and c not in '"\\')


class MissingToken(AuthenticationFailed):
    """No bearer token was sent."""

    code = "missing_token"
    default_message = "An Authorization: Bearer <Firebase ID token> header is required."
    bearer_error = None


class InvalidToken(AuthenticationFailed):
    """The token is malformed, forged, or issued for another project."""


class TokenExpired(AuthenticationFailed):
    """The token's ``exp`` has passed (beyond the allowed clock skew)."""

    code = "token_expired"
    default_message = "The ID token has expired; refresh it and retry."


class TokenRevoked(AuthenticationFailed):
    """The user's sessions were revoked after this token was issued."""

    code = "token_revoked"
    default_message = "The ID token has been revoked; sign in again."


class UserDisabled(AuthenticationFailed):
    """The user account is disabled."""

    code = "user_disabled"
    default_message = "The user account is disabled."


class RecentSignInRequired(AuthenticationFailed):
    """A session cookie is only issued for a sign-in of the last five minutes."""

    code = "recent_sign_in_required"
    default_message = "Sign in again (within five minutes) to start a session."


class TenantNotAllowed(AuthenticationFailed):
    """The token's Identity Platform tenant (or its absence: a project-level user) is not
    one this deployment accepts (``TENANTS``, ``ALLOW_PROJECT_LEVEL_USERS``)."""

    code = "tenant_not_allowed"
    default_message = "Accounts of this tenant are not accepted here."


class AppCheckFailed(AuthenticationFailed):
    """No valid Firebase App Check token came with the request (``APP_CHECK=enforce``)."""

    code = "app_check_failed"
    default_message = "A valid Firebase App Check token is required (X-Firebase-AppCheck)."
    # The bearer credentials may be fine: the challenge names the scheme, no bearer error.
    bearer_error = None


class AppCheckReplayed(AuthenticationFailed):
    """The App Check token was already spent on a single-use operation."""

    code = "app_check_replayed"
    default_message = "This App Check token was already used; send a new limited-use token."
    bearer_error = None


class StepUpRequired(AuthenticationFailed):
    """The token is valid, but its sign-in is too weak or too old for this operation:
    sign in again (with the second factor, or recently) and retry (RFC 9470)."""

    code = "step_up_required"
    default_message = "This operation needs a stronger or more recent sign-in; sign in again."
    bearer_error = "insufficient_user_authentication"

    def __init__(self, message: str | None = None, *, max_age: int | None = None) -> None:
        super().__init__(message)
        #: The oldest sign-in (seconds) the operation accepts, when that was the shortfall.
        self.max_age = max_age

    def challenge_parameters(self) -> dict[str, str]:
        parameters = {**super().challenge_parameters(), "error_description": self.message}
        if self.max_age is not None:
            parameters["max_age"] = str(self.max_age)
        return parameters


class PermissionDenied(ApiError):
    """The caller is known but no rule allows the action."""

    status = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class CsrfRejected(PermissionDenied):
    """A cookie-authenticated write came from an origin that is not allowed."""

    code = "csrf_rejected"
    default_message = "Cookie-authenticated writes must come from an allowed Origin."


class EmailNotVerified(PermissionDenied):
    """Writes require a verified identity; this caller's email is not verified (and it
    did not sign in with a phone number)."""

    code = "email_not_verified"
    default_message = "Verify your email address before making changes."


class EmailDomainNotAllowed(PermissionDenied):
    """Sign-up or sign-in refused: the email's domain is not in ``SIGNUP_ALLOWED_EMAIL_DOMAINS``
    (answered to Identity Platform by the ``identity`` function)."""

    code = "email_domain_not_allowed"
    default_message = "Accounts with this email domain are not allowed."


class EmailRequired(PermissionDenied):
    """Sign-up or sign-in refused: the account has no email address and domains are limited."""

    code = "email_required"
    default_message = "An account needs an email address of an allowed domain."


class AnonymousNotAllowed(PermissionDenied):
    """An anonymous (guest) account may read what is shared with it but change nothing."""

    code = "anonymous_not_allowed"
    default_message = "Guest accounts cannot make changes; sign in with an account first."


class ProviderNotAllowed(PermissionDenied):
    """The token comes from a sign-in provider this deployment does not accept
    (``ALLOWED_SIGN_IN_PROVIDERS``)."""

    code = "provider_not_allowed"
    default_message = "This sign-in method is not accepted here; sign in another way."


# --- 404 .. 415 ------------------------------------------------------------


class NotFound(ApiError):
    """No such resource, or one the caller may not know exists."""

    status = 404
    code = "not_found"
    default_message = "Not found."


class UserNotFound(NotFound):
    """An admin looked up a user that does not exist."""

    code = "user_not_found"
    default_message = "No user matches."


class MethodNotAllowed(ApiError):
    """The route exists but not for this HTTP method."""

    status = 405
    code = "method_not_allowed"
    default_message = "Method not allowed."

    def __init__(self, allowed: Sequence[str]) -> None:
        allow = ", ".join(sorted(allowed))
        super().__init__(f"Allowed methods: {allow}.", headers={"Allow": allow})


class Conflict(ApiError):
    """The request conflicts with the resource's current state."""

    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class SelfDemotion(Conflict):
    """An admin may not remove their own admin role (someone must stay admin)."""

    code = "self_demotion"
    default_message = "You cannot remove your own admin role."


class TooManyMembers(Conflict):
    """A project has at most ``MAX_MEMBERS`` editors and viewers."""

    code = "too_many_members"
    default_message = "The project already has the maximum number of members."


class Busy(Conflict):
    """Another change to the same resource is in progress; retry shortly."""

    code = "busy"
    default_message = "Another change to this resource is in progress; retry shortly."

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class IdempotencyInProgress(Conflict):
    """A request with the same ``Idempotency-Key`` is still being processed."""

    code = "idempotency_in_progress"
    default_message = "A request with this Idempotency-Key is still in progress; retry shortly."

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class IdempotencyKeyReused(ApiError):
    """The ``Idempotency-Key`` was already used with a different body."""

    status = 422
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used with a different request body."


class PreconditionFailed(ApiError):
    """``If-Match`` named a version that is no longer current."""

    status = 412
    code = "precondition_failed"
    default_message = "The resource changed since you read it (If-Match failed)."


class RateLimited(ApiError):
    """Over this instance's request budget (per client IP, or per user); retry later."""

    status = 429
    code = "rate_limited"
    default_message = "Too many requests; retry after the time given in Retry-After."

    def __init__(self, message: str | None = None, *, retry_after: int = 1, rule: str = "") -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        #: Which budget refused (``ip``, ``user:reads``, ``user:writes``), for the log.
        self.rule = rule


class PayloadTooLarge(ApiError):
    """The body is larger than the limit."""

    status = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(ApiError):
    """A body was sent that is not ``application/json``."""

    status = 415
    code = "unsupported_media_type"
    default_message = "The request body must be application/json."


# --- 503 -------------------------------------------------------------------


class Unavailable(ApiError):
    """A backing service (Firestore) could not be reached; nothing was changed."""

    status = 503
    code = "unavailable"
    default_message = "A backing service is unavailable; retry later."

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class AuthUnavailable(Unavailable):
    """Google's keys or the Auth backend could not be reached; the request fails closed."""

    code = "auth_unavailable"
    default_message = "Authentication is temporarily unavailable; retry later."
