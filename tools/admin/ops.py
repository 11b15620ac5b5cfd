"""What the admin CLI does, over the same services the HTTP API uses.

Role changes go through ``RoleService``'s locked, audited read-merge-write (the
same lease and audit entries as ``PUT /admin/users/{uid}/roles``), with the CLI
command as the acting identity (``cli:grant``, ``cli:revoke``, ...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import firebase_admin

from app import Container, build_container
from auth import Role, UserDirectory
from core.errors import UserNotFound
from core.settings import Settings
from services.roles import RoleService
from store.models import Page
from tools.admin import users
from tools.admin.users import UserInfo

#: Entries per audit-log query.
AUDIT_PAGE_SIZE = 100

FetchPage = Callable[[int, str | None], Page[dict[str, Any]]]


def actor(command: str) -> str:
    """The audit ``actor`` of a change made by a CLI command."""
    return f"cli:{command}"


def is_email(who: str) -> bool:
    return "@" in who[1:-1]


@dataclass(frozen=True)
class RoleOutcome:
    user: UserInfo
    before: frozenset[Role]
    after: frozenset[Role]
    #: False when the user already had (or already lacked) the role: nothing was written.
    changed: bool
    sessions_revoked: bool = False


@dataclass(frozen=True)
class Operator:
    """The Admin SDK operations of the CLI, bound to one project: the CLI's composition
    root (its container is built here, its parts on first use)."""

    container: Container

    @classmethod
    def connect(cls, settings: Settings, *, tenant: str | None = None) -> Operator:
        """Build from ``settings`` (project and emulator variables already in them),
        for the project-level users or, with ``tenant``, that tenant's realm (listed
        in ``TENANTS`` or not: the operator's credentials reach every tenant)."""
        if tenant is None:
            return cls(build_container(settings))
        listed = dataclasses.replace(settings, tenants=settings.tenants | {tenant})
        return cls(build_container(listed).for_tenant(tenant))

    @property
    def app(self) -> firebase_admin.App:
        return self.container.firebase_app

    @property
    def directory(self) -> UserDirectory:
        return self.container.directory

    @property
    def roles(self) -> RoleService:
        return self.container.roles

    def audit_pages(self, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
        """One page of the audit log, newest first."""
        return self.container.audit_log.list_entries(limit=limit, cursor=cursor)

    def find(self, who: str) -> UserInfo:
        """A user by email (if ``who`` has an ``@``) or uid.

        Raises: UserNotFound, AuthUnavailable.
        """
        try:
            if is_email(who):
                return users.get(self.directory, email=who)
            return users.get(self.directory, uid=who)
        except UserNotFound:
            kind = "email address" if is_email(who) else "uid"
            raise UserNotFound(f"No user has the {kind} {who!r}.") from None

    def grant(self, who: str, role: Role, *, by: str) -> RoleOutcome:
        """Add ``role`` to the user's roles (other roles and claims are kept).

        Raises: UserNotFound, ClaimsTooLarge, Busy, Unavailable, AuthUnavailable.
        """
        user = self.find(who)
        if role in user.roles:
            return RoleOutcome(user, user.roles, user.roles, changed=False)
        change = self.roles.change_roles_as_operator(user.uid, add=frozenset({role}), actor=by)
        return RoleOutcome(user, change.before, change.after, True, change.sessions_revoked)

    def revoke(self, who: str, role: Role, *, by: str) -> RoleOutcome:
        """Remove ``role``; the user's sessions are revoked, so it stops working at once.

        Raises: UserNotFound, ClaimsTooLarge, Busy, Unavailable, AuthUnavailable.
        """
        user = self.find(who)
        if role not in user.roles:
            return RoleOutcome(user, user.roles, user.roles, changed=False)
        change = self.roles.change_roles_as_operator(user.uid, remove=frozenset({role}), actor=by)
        return RoleOutcome(user, change.before, change.after, True, change.sessions_revoked)

    def users_with_role(self, role: Role) -> list[UserInfo]:
        """Every user holding ``role``, sorted by email (pages through all users).

        Raises: AuthUnavailable.
        """
        found = [user for user in users.iter_users(self.directory) if role in user.roles]
        return sorted(found, key=lambda user: (user.email or "", user.uid))

    def revoke_sessions(self, who: str, *, by: str) -> tuple[UserInfo, int]:
        """Revoke the user's refresh tokens; ID tokens issued until now are refused.

        Audited as ``sessions.revoked`` (pending, then applied, as role changes are).

        Returns:
            The user, and the second of the revocation (epoch seconds).

        Raises: UserNotFound, Unavailable, AuthUnavailable.
        """
        user = self.find(who)
        return user, self.roles.sign_out_everywhere_as_operator(user.uid, actor=by)


@dataclass
class AuditTail:
    """The newest audit entries, then whatever is new or changed on each poll.

    Entries are ordered by their ``time``, which the writer's clock sets before the
    write, so one can appear slightly after a newer one. Each poll therefore re-reads
    a ``window`` before the newest entry seen and prints what it has not printed
    (or whose outcome changed, e.g. ``pending`` -> ``applied``); memory stays bounded
    by that window.
    """

    fetch: FetchPage
    window: timedelta = timedelta(seconds=60)
    #: At most this many entries are read per poll (a burst beyond it is skipped).
    max_per_poll: int = 1000
    _seen: dict[str, tuple[datetime, Any]] = field(default_factory=dict)
    _newest: datetime | None = None

    def start(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, oldest first; everything in the window is noted."""

        def enough(entries: list[dict[str, Any]]) -> bool:
            return len(entries) >= limit and entries[-1]["time"] < entries[0]["time"] - self.window

        entries = self._read(enough)
        for entry in entries:
            self._note(entry)
        return list(reversed(entries[:limit]))

    def poll(self) -> list[dict[str, Any]]:
        """Entries not returned before, or whose outcome changed, oldest first."""
        horizon = self._newest - self.window if self._newest is not None else None

        def enough(entries: list[dict[str, Any]]) -> bool:
            # Before any entry was seen, everything is new (up to max_per_poll).
            return horizon is not None and entries[-1]["time"] < horizon

        fresh = [
            entry
            for entry in self._read(enough)
            if (horizon is None or entry["time"] >= horizon)
            and self._seen.get(entry["id"], (None, object()))[1] != entry.get("outcome")
        ]
        for entry in fresh:
            self._note(entry)
        self._prune()
        return sorted(fresh, key=lambda entry: (entry["time"], entry["id"]))

    def _read(self, enough: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """Entries newest first, page by page, until ``enough``, the end, or ``max_per_poll``."""
        entries: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self.fetch(AUDIT_PAGE_SIZE, cursor)
            entries.extend(page.items)
            if page.next_cursor is None or len(entries) >= self.max_per_poll:
                break
            if entries and enough(entries):
                break
            cursor = page.next_cursor
        return entries[: self.max_per_poll]

    def _note(self, entry: dict[str, Any]) -> None:
        self._seen[entry["id"]] = (entry["time"], entry.get("outcome"))
        if self._newest is None or entry["time"] > self._newest:
            self._newest = entry["time"]

    def _prune(self) -> None:
        if self._newest is None:
            return
        horizon = self._newest - self.window
        for entry_id in [i for i, (when, _) in self._seen.items() if when < horizon]:
            del self._seen[entry_id]


def newest_entries(limit: int, fetch: FetchPage) -> Iterator[dict[str, Any]]:
    """The newest ``limit`` entries, newest first, paging as needed."""
    cursor: str | None = None
    remaining = limit
    while remaining > 0:
        page = fetch(min(remaining, AUDIT_PAGE_SIZE), cursor)
        yield from page.items[:remaining]
        remaining -= len(page.items)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
