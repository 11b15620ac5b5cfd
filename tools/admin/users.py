"""Read-only user queries the admin CLI needs and ``auth.directory`` does not offer yet:
every user (paged), and the details an operator looks at (verified, providers, times).

Errors are translated as ``auth.directory`` does: an unknown user is ``UserNotFound``,
any backend or transport failure ``AuthUnavailable``. (Proposed to move into
``auth.directory.UserDirectory``.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auth import Role, UserDirectory, roles_from_claims, translated_auth_errors

logger = logging.getLogger(__name__)
#: Users per ``list_users`` call (firebase-admin's maximum).
PAGE_SIZE = 1000


@dataclass(frozen=True)
class UserInfo:
    """What an operator sees of one Firebase Auth user."""

    uid: str
    email: str | None
    email_verified: bool
    disabled: bool
    custom_claims: dict[str, Any] = field(default_factory=dict)
    providers: tuple[str, ...] = ()
    created_at: datetime | None = None
    last_sign_in_at: datetime | None = None
    #: ID tokens issued before this are refused (revoked sessions); ``None`` if never set.
    tokens_valid_after: datetime | None = None

    @property
    def roles(self) -> frozenset[Role]:
        return roles_from_claims(self.custom_claims)


def get(directory: UserDirectory, *, uid: str | None = None, email: str | None = None) -> UserInfo:
    """One user of the directory's realm, by uid or by email.

    Raises: UserNotFound, AuthUnavailable.
    """
    client = directory.users
    with translated_auth_errors():
        user = client.get_user_by_email(email) if email is not None else client.get_user(uid or "")
    return _info(user)


def iter_users(directory: UserDirectory, page_size: int = PAGE_SIZE) -> Iterator[UserInfo]:
    """Every user of the directory's realm, one page of ``page_size`` per call.

    Raises: AuthUnavailable (while iterating).
    """
    with translated_auth_errors():
        page = directory.users.list_users(max_results=page_size)
    while page is not None:
        for user in page.users:
            yield _info(user)
        with translated_auth_errors():
            page = page.get_next_page()


def _info(user: Any) -> UserInfo:
    metadata = user.user_metadata
    return UserInfo(
        uid=user.uid,
        email=user.email,
        email_verified=bool(user.email_verified),
        disabled=bool(user.disabled),
        custom_claims=dict(user.custom_claims or {}),
        providers=tuple(sorted(p.provider_id for p in user.provider_data or ())),
        created_at=_from_millis(metadata.creation_timestamp if metadata else None),
        last_sign_in_at=_from_millis(metadata.last_sign_in_timestamp if metadata else None),
        tokens_valid_after=_from_millis(user.tokens_valid_after_timestamp),
    )


def _from_millis(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if value else None
