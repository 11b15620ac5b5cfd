"""Authentication: from a credential (bearer token or session cookie) to a verified
``Principal``; issuing session cookies; signing out everywhere."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import firebase_admin

from auth import session_cookies, tokens
from auth.bearer import bearer_token
from auth.credentials import Credential, CredentialKind
from auth.directory import UserDirectory, UserRecord
from auth.keys import PublicKeys
from auth.principal import Principal, principal_from_claims
from auth.revocation import RevocationChecker
from auth.step_up import StepUpPolicy, require_allowed_provider, require_step_up
from auth.tenancy import require_allowed_tenant
from auth.tokens import VerifiedTokens
from core.errors import TenantNotAllowed, TenantSessionUnsupported
from core.settings import Settings


@dataclass(frozen=True)
class SessionCookie:
    """A session cookie to set: its value (never in a repr), lifetime and path."""

    value: str = field(repr=False)
    max_age_seconds: int
    path: str


#: Called with a verified uid before any Auth backend call; raises to refuse the caller.
Admit = Callable[[str], None]
#: The revocation checker of a tenant's users (its own cache, its tenant's Auth records).
TenantRevocation = Callable[[str], RevocationChecker]


class Authenticator:
    """Verifies bearer tokens and checks them against the user record.

    Tokens from a provider outside ``ALLOWED_SIGN_IN_PROVIDERS`` (403) or a realm
    outside ``TENANTS`` / ``ALLOW_PROJECT_LEVEL_USERS`` (401) are refused as soon as
    they are verified. A tenant user's record is read from their tenant
    (``tenant_revocation``).

    A request is *privileged* when the caller asks for it (every ``/admin`` call)
    or when the token carries any role. Privileged requests read the user record
    fresh, so revocation, disabling and demotion apply at once; the principal's
    roles are then those both in the token and currently assigned.

    It keeps Google's public keys (``keys``) and the tokens it verified with them
    (``verified_tokens``) for as long as it lives: build one per process.
    """

    def __init__(
        self,
        settings: Settings,
        app: firebase_admin.App,
        directory: UserDirectory,
        revocation: RevocationChecker,
        clock: Callable[[], float] = time.time,
        *,
        keys: PublicKeys,
        verified_tokens: VerifiedTokens | None = None,
        tenant_revocation: TenantRevocation | None = None,
    ) -> None:
        """
        Args:
            revocation: the revocation checker of project-level users.
            keys: the ID-token key store, kept (``auth.id_token_key_store(app, fetch=...)``).
            verified_tokens: the cache of tokens verified with ``keys`` (default: new).
            tenant_revocation: the checker of each tenant's users; required when
                ``settings.tenants`` lists any.
        """
        if settings.tenants and tenant_revocation is None:
            raise ValueError("TENANTS lists tenants: expected a tenant_revocation")
        self._settings = settings
        self._app = app
        self._directory = directory
        self._revocation = revocation
        self._tenant_revocation = tenant_revocation
        self._clock = clock
        self._keys = keys
        self._verified = verified_tokens if verified_tokens is not None else VerifiedTokens()
        self._step_up = StepUpPolicy.from_settings(settings)

    @property
    def keys(self) -> PublicKeys:
        return self._keys

    @property
    def verified_tokens(self) -> VerifiedTokens:
        return self._verified

    @property
    def revocation(self) -> RevocationChecker:
        return self._revocation

    @property
    def step_up_policy(self) -> StepUpPolicy:
        return self._step_up

    def require_step_up(self, principal: Principal, *, operation_id: str, privileged: bool) -> None:
        """Raise unless ``principal``'s sign-in is strong and recent enough for the
        operation (``auth.step_up``; ``privileged``: the endpoint's access is).

        Raises:
            StepUpRequired: sign in again (401, RFC 9470 challenge).
        """
        require_step_up(
            principal,
            self._step_up,
            self._clock(),
            operation_id=operation_id,
            privileged=privileged,
        )

    def sign_out_everywhere(self, principal: Principal) -> int:
        """Sign ``principal`` out everywhere (in their realm): every session begun until
        now is refused from now on (recorded, ``RevocationChecker.record_sign_out``: this
        needs no right to change the user; the ``signouts`` function revokes the refresh
        tokens).

        Returns:
            The second of the sign-out (epoch seconds).

        Raises:
            Unavailable: the sign-out could not be recorded (nobody was signed out).
        """
        return self.revocation_for(principal.tenant).record_sign_out(principal.uid)

    def revocation_for(self, tenant: str | None) -> RevocationChecker:
        """The revocation checker of ``tenant``'s users (``None``: project-level users)."""
        if tenant is None:
            return self._revocation
        if self._tenant_revocation is None:  # no tenant is accepted (see __init__)
            raise TenantNotAllowed()
        return self._tenant_revocation(tenant)

    def authenticate(self, authorization: str | None, *, privileged: bool = False) -> Principal:
        """Verify the header's token and return the caller.

        Raises:
            MissingToken, InvalidToken, TokenExpired, TokenRevoked, UserDisabled:
                the caller is not authenticated (401).
            ProviderNotAllowed: a sign-in provider outside ``ALLOWED_SIGN_IN_PROVIDERS`` (403).
            AuthUnavailable: keys or user records could not be fetched (503).
        """
        return self.authenticate_token(bearer_token(authorization), privileged=privileged)

    def authenticate_credential(
        self, credential: Credential, *, privileged: bool = False, admit: Admit | None = None
    ) -> Principal:
        """Like ``authenticate``, for a credential taken from a request (``auth.credential``).

        Args:
            admit: called with the verified uid before any Auth backend call (the
                revocation check); it raises to refuse the caller (a rate limit, say).
        """
        if credential.kind is CredentialKind.SESSION_COOKIE:
            return self.authenticate_session_cookie(
                credential.value, privileged=privileged, admit=admit
            )
        return self.authenticate_token(credential.value, privileged=privileged, admit=admit)

    def authenticate_token(
        self, token: str, *, privileged: bool = False, admit: Admit | None = None
    ) -> Principal:
        """Like ``authenticate``, for a token already taken from its header."""
        return self._principal(self.verify_token(token), privileged=privileged, admit=admit)

    def verify_token(self, token: str) -> dict[str, Any]:
        """The verified claims of an ID token (no revocation check)."""
        return tokens.verify_id_token(
            token,
            app=self._app,
            clock_skew_seconds=self._settings.clock_skew_seconds,
            keys=self._keys,
            verified=self._verified,
            clock=self._clock,
        )

    def authenticate_session_cookie(
        self, cookie: str, *, privileged: bool = False, admit: Admit | None = None
    ) -> Principal:
        """Like ``authenticate``, for a Firebase session cookie (same revocation rules)."""
        claims = session_cookies.verify(
            cookie,
            app=self._app,
            clock_skew_seconds=self._settings.clock_skew_seconds,
            clock=self._clock,
        )
        return self._principal(claims, privileged=privileged, admit=admit)

    def issue_session_cookie(self, id_token: str, principal: Principal) -> SessionCookie:
        """Exchange ``principal``'s verified ID token for a session cookie.

        Raises:
            TenantSessionUnsupported: ``principal`` is a tenant's user (Firebase makes
                session cookies for project-level users only).
            RecentSignInRequired: the sign-in is older than five minutes.
            InvalidToken, AuthUnavailable.
        """
        if principal.tenant is not None:
            raise TenantSessionUnsupported()
        lifetime = timedelta(days=self._settings.session_cookie_days)
        value = session_cookies.create(
            id_token, auth_time=principal.auth_time, app=self._app, lifetime=lifetime
        )
        return SessionCookie(value, int(lifetime.total_seconds()), self.session_cookie_path)

    @property
    def session_cookie_path(self) -> str:
        """The ``Path`` of the session cookie (``SESSION_COOKIE_PATH``)."""
        return self._settings.session_cookie_path

    def _principal(
        self, claims: dict[str, Any], *, privileged: bool, admit: Admit | None = None
    ) -> Principal:
        principal = principal_from_claims(claims)
        # Right after verification: a refused realm or provider costs no Auth call.
        require_allowed_tenant(
            principal,
            self._settings.tenants,
            allow_project_level=self._settings.allow_project_level_users,
        )
        require_allowed_provider(principal, self._settings.allowed_sign_in_providers)
        if admit is not None:
            admit(principal.uid)
        fresh = privileged or bool(principal.roles)
        revocation = self.revocation_for(principal.tenant)
        record = revocation.check(
            principal.uid, principal.issued_at, fresh=fresh, auth_time=principal.auth_time
        )
        stale = claims_stale(principal, record)
        if principal.roles:
            # A role removed since the token was minted no longer counts.
            principal = dataclasses.replace(principal, roles=principal.roles & record.roles)
        return dataclasses.replace(principal, claims_stale=True) if stale else principal


def claims_stale(principal: Principal, record: UserRecord) -> bool:
    """Whether a fresh ID token would grant ``principal`` more than its token does: a role
    in ``record`` the token lacks, or an email verified since. Removals are not stale in
    this sense: they apply at once (a removed role stops counting; see ``_principal``).

    ``record`` may be as old as the revocation checker's bound for non-privileged requests
    (``REVOCATION_CHECK_MAX_AGE_SECONDS``), so a grant shows up within that bound, or at
    once when the record is read fresh.
    """
    if record.roles - principal.roles:
        return True
    return record.email_verified and not principal.email_verified
