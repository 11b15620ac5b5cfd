"""The user directory (Firebase Auth user records), behind firebase-admin.

This is the one place that calls firebase-admin's user-management API and turns
its errors into ours: an unknown user becomes ``UserNotFound`` and any transport
or backend failure becomes ``AuthUnavailable`` (callers fail closed).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import firebase_admin
from cachetools import TTLCache
from firebase_admin import auth as fb_auth
from firebase_admin import exceptions as fb_exceptions

from auth.principal import Role, roles_from_claims
from core.errors import AuthUnavailable, InternalError, UserNotFound, ValidationFailed

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class UserRecord:
    """What the backend needs to know about a user account."""

    uid: str
    email: str | None
    disabled: bool
    #: Tokens issued before this (epoch seconds) are revoked; ``None`` if never set.
    valid_since: int | None
    custom_claims: dict[str, Any]
    #: Whether the account's email is verified now (a token may carry an older value).
    email_verified: bool = False

    @property
    def roles(self) -> frozenset[Role]:
        return roles_from_claims(self.custom_claims)


@dataclass(frozen=True)
class Profile:
    """How a user is shown to the people they share a project with."""

    email: str | None
    display_name: str | None


#: ``get_users`` takes at most 100 identifiers per call.
PROFILES_PER_CALL = 100
#: How long a member's email and display name may be shown stale, and how many are kept
#: per instance (a bounded cache: a project's people cost no Auth call while warm).
PROFILE_CACHE_SECONDS = 300
PROFILE_CACHE_SIZE = 10_000


class UserDirectory:
    """User-record operations bound to one firebase-admin app and one realm: the
    project's own users, or one Identity Platform tenant's (``for_tenant``). A uid
    names a user within its realm only: a directory never finds another realm's users.
    """

    def __init__(
        self,
        app: firebase_admin.App,
        clock: Callable[[], float] = time.time,
        *,
        tenant: str | None = None,
    ) -> None:
        """
        Args:
            tenant: the Identity Platform tenant whose users these are (``None``: the
                project-level users).
        """
        self._app = app
        self._clock = clock
        self.tenant = tenant
        self._profiles: TTLCache[str, Profile] = TTLCache(
            maxsize=PROFILE_CACHE_SIZE, ttl=PROFILE_CACHE_SECONDS, timer=clock
        )
        self._profiles_lock = threading.Lock()

    @functools.cached_property
    def users(self) -> RealmUsers:
        """The realm's firebase-admin user-management calls (also for what this class
        does not wrap, such as the operator tools' listings): firebase-admin's own
        client of the app for project-level users (the one its other calls, such as
        session cookies, share), a tenant-scoped ``auth.Client`` for a tenant's. Made on
        first use (it reads credentials); ``tenant_mgt.auth_for_tenant`` returns the same
        kind of tenant client but needs credentials even with the Auth emulator."""
        if self.tenant is None:
            return _ProjectUsers(self._app)
        tenant_users: RealmUsers = fb_auth.Client(self._app, tenant_id=self.tenant)
        return tenant_users

    def for_tenant(self, tenant: str) -> UserDirectory:
        """The directory of ``tenant``'s users (same app and clock; its own caches)."""
        return UserDirectory(self._app, self._clock, tenant=tenant)

    def get(self, uid: str) -> UserRecord:
        """Raises: UserNotFound, AuthUnavailable."""
        with translated():
            return _record(self.users.get_user(uid))

    def find_by_email(self, email: str) -> UserRecord:
        """Raises: UserNotFound, AuthUnavailable."""
        with translated():
            return _record(self.users.get_user_by_email(email))

    def profiles(self, uids: Sequence[str], *, limit: int) -> dict[str, Profile]:
        """Email and display name of up to ``limit`` of ``uids`` (unknown uids are left
        out), in batches of 100 per Auth call. Raises: AuthUnavailable."""
        wanted = list(dict.fromkeys(uids))[:limit]
        with self._profiles_lock:
            found = {uid: self._profiles[uid] for uid in wanted if uid in self._profiles}
        wanted = [uid for uid in wanted if uid not in found]
        for start in range(0, len(wanted), PROFILES_PER_CALL):
            batch = [
                fb_auth.UidIdentifier(uid) for uid in wanted[start : start + PROFILES_PER_CALL]
            ]
            with translated():
                result = self.users.get_users(batch)
            fetched = {user.uid: Profile(user.email, user.display_name) for user in result.users}
            with self._profiles_lock:
                self._profiles.update(fetched)
            found.update(fetched)
        return found

    def exists(self, uid: str) -> bool:
        """Raises: AuthUnavailable."""
        try:
            self.get(uid)
        except UserNotFound:
            return False
        return True

    def set_custom_claims(self, uid: str, claims: dict[str, Any]) -> None:
        """Replace all custom claims of ``uid``. Raises: UserNotFound, AuthUnavailable."""
        with translated():
            self.users.set_custom_user_claims(uid, claims or None)

    def revoke_refresh_tokens(self, uid: str) -> int:
        """Revoke the user's refresh tokens; ID tokens issued before now stop verifying.

        Use ``RevocationChecker.sign_out_everywhere``, which also makes this instance
        refuse those tokens at once.

        Returns:
            The second at which the revocation happened (epoch seconds).

        Raises: UserNotFound, AuthUnavailable.
        """
        revoked_at = int(self._clock())
        with translated():
            self.users.revoke_refresh_tokens(uid)
        return revoked_at


class RealmUsers(Protocol):
    """The user-management calls of one realm (``firebase_admin.auth.Client``'s)."""

    def get_user(self, uid: str) -> Any: ...
    def get_user_by_email(self, email: str) -> Any: ...
    def get_users(self, identifiers: list[Any]) -> Any: ...
    def set_custom_user_claims(self, uid: str, custom_claims: Any) -> None: ...
    def revoke_refresh_tokens(self, uid: str) -> None: ...
    def list_users(self, *, max_results: int) -> Any: ...


@dataclass(frozen=True)
class _ProjectUsers:
    """firebase-admin's module-level calls for one app (its per-app cached client)."""

    app: firebase_admin.App

    def get_user(self, uid: str) -> Any:
        return fb_auth.get_user(uid, app=self.app)

    def get_user_by_email(self, email: str) -> Any:
        return fb_auth.get_user_by_email(email, app=self.app)

    def get_users(self, identifiers: list[Any]) -> Any:
        return fb_auth.get_users(identifiers, app=self.app)

    def set_custom_user_claims(self, uid: str, custom_claims: Any) -> None:
        fb_auth.set_custom_user_claims(uid, custom_claims, app=self.app)

    def revoke_refresh_tokens(self, uid: str) -> None:
        fb_auth.revoke_refresh_tokens(uid, app=self.app)

    def list_users(self, *, max_results: int) -> Any:
        return fb_auth.list_users(max_results=max_results, app=self.app)


def _record(user: Any) -> UserRecord:
    valid_after_ms = user.tokens_valid_after_timestamp
    return UserRecord(
        uid=user.uid,
        email=user.email,
        disabled=bool(user.disabled),
        valid_since=int(valid_after_ms) // 1000 if valid_after_ms else None,
        custom_claims=dict(user.custom_claims or {}),
        email_verified=bool(user.email_verified),
    )


@contextmanager
def translated() -> Iterator[None]:
    """Turn firebase-admin user-management errors into ours (the one place that does)."""
    try:
        yield
    except fb_auth.UserNotFoundError:
        raise UserNotFound() from None
    except fb_exceptions.InvalidArgumentError as error:
        # The Auth backend refused a uid, email or claim that passed our own checks.
        logger.info("Auth backend refused an argument: %s", error.code)
        raise ValidationFailed(details={"user": "refused by Firebase Auth"}) from None
    except fb_exceptions.FirebaseError as error:
        # Includes transport failures (UnavailableError, DeadlineExceededError, ...).
        logger.warning("Auth backend call failed: %s (%s)", type(error).__name__, error.code)
        raise AuthUnavailable() from None
    except ValueError as error:
        # firebase-admin validates arguments locally; callers validate first, so this is a bug.
        logger.error("Auth backend call rejected its arguments: %s", error)
        raise InternalError() from None
