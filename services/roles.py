"""Role administration: read and replace a user's roles, with an audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from auth import (
    Principal,
    RevocationChecker,
    Role,
    UserDirectory,
    UserRecord,
    canonical_roles,
    may_manage_roles,
    may_read_audit_log,
    merge_roles,
)
from core import request_log
from core.clock import utcnow
from core.errors import PermissionDenied, SelfDemotion
from store.audit import FirestoreAuditLog
from store.locks import FirestoreLeases
from store.models import AuditEntry, Page

ROLES_CHANGED = "roles.set"
SESSIONS_REVOKED = "sessions.revoked"
#: Prefix of the audit ``actor`` of changes made with Admin SDK credentials (``tools/``).
OPERATOR_ACTOR_PREFIX = "cli:"
#: The audit ``actor`` of changes made with Admin SDK credentials from the command line.
BOOTSTRAP_ACTOR = "cli:make_admin"

#: What a role change does while it holds the user's claims lease, at most: Firestore
#: RPCs (acquire: create, read, take over; the audit entry; the still-held check; the
#: fenced ``applied`` + release) and Firebase Auth calls (read the user, write the
#: claims, revoke sessions). Each ends within its timeout (``*_TIMEOUT_SECONDS``).
FIRESTORE_CALLS_UNDER_LEASE = 6
AUTH_CALLS_UNDER_LEASE = 3
#: Slack for what is not an RPC (a few milliseconds of Python; clock skew between
#: instances, which Cloud's NTP keeps far below this).
LEASE_MARGIN = timedelta(seconds=10)


def worst_case_under_lease(*, auth_timeout: float, firestore_timeout: float) -> timedelta:
    """The longest a role change can hold the claims lease, every call at its timeout."""
    return timedelta(
        seconds=FIRESTORE_CALLS_UNDER_LEASE * firestore_timeout
        + AUTH_CALLS_UNDER_LEASE * auth_timeout
    )


def claims_lease(*, auth_timeout: float, firestore_timeout: float) -> timedelta:
    """The claims lease: longer than the worst case by ``LEASE_MARGIN`` (checked by
    ``check_claims_lease``)."""
    worst = worst_case_under_lease(auth_timeout=auth_timeout, firestore_timeout=firestore_timeout)
    return worst + LEASE_MARGIN


def check_claims_lease(lease: timedelta, *, auth_timeout: float, firestore_timeout: float) -> None:
    """Refuse a claims lease that a role change could outlive (at start-up).

    Raises:
        ValueError: ``lease`` is not longer than the worst case plus ``LEASE_MARGIN``.
    """
    worst = worst_case_under_lease(auth_timeout=auth_timeout, firestore_timeout=firestore_timeout)
    if lease < worst + LEASE_MARGIN:
        raise ValueError(
            f"expected a claims lease of at least {worst + LEASE_MARGIN} "
            f"({FIRESTORE_CALLS_UNDER_LEASE} Firestore calls of {firestore_timeout} s, "
            f"{AUTH_CALLS_UNDER_LEASE} Auth calls of {auth_timeout} s, and "
            f"{LEASE_MARGIN} of margin), got {lease}"
        )


@dataclass(frozen=True)
class RoleChange:
    uid: str
    before: frozenset[Role]
    after: frozenset[Role]
    sessions_revoked: bool


@dataclass(frozen=True)
class RoleService:
    """Role administration over the user directory, audited, serialised per user.

    Attributes:
        directory: user records and custom claims (Firebase Auth).
        revocation: signs users out and drops their cached records.
        audit: the audit log.
        leases: the per-user lock of claims changes.
        clock: now, for audit entries.
    """

    directory: UserDirectory
    revocation: RevocationChecker
    audit: FirestoreAuditLog
    leases: FirestoreLeases
    clock: Callable[[], datetime] = utcnow

    def find_user(self, actor: Principal, email: str) -> UserRecord:
        _require_admin(actor, "users.find", "users?email")
        return self.directory.find_by_email(email)

    def get_roles(self, actor: Principal, uid: str) -> UserRecord:
        _require_admin(actor, "roles.get", f"users/{uid}")
        return self.directory.get(uid)

    def set_roles(
        self, actor: Principal, uid: str, roles: frozenset[Role], *, request_id: str | None
    ) -> RoleChange:
        """Replace ``uid``'s roles, keeping their other custom claims.

        The read-merge-write of the claims is serialised per user with a lease
        lock (fenced: the claims are written only while it is still held, and the
        entry is marked ``applied`` in the commit that releases it, only if still
        held), and every change leaves an audit entry (``pending`` until the claims
        are written, then ``applied``). If roles shrink, the user's sessions are
        revoked so tokens carrying the old roles stop working at once.

        Raises:
            PermissionDenied: the actor is not an admin.
            SelfDemotion: an admin removing their own ``admin`` role.
            UserNotFound, ClaimsTooLarge, Busy, Unavailable, AuthUnavailable.
        """
        _require_admin(actor, ROLES_CHANGED, f"users/{uid}")
        if actor.uid == uid and Role.ADMIN not in roles:
            raise SelfDemotion()
        return self._replace_roles(uid, lambda _: roles, actor=actor.uid, request_id=request_id)

    def bootstrap_admin(self, uid: str) -> RoleChange:
        """Add ``admin`` to ``uid``'s roles without an acting admin (first-admin set-up).

        Only reachable with Admin SDK credentials (``tools/make_admin.py``), never over HTTP.
        """
        return self.change_roles_as_operator(
            uid, add=frozenset({Role.ADMIN}), actor=BOOTSTRAP_ACTOR
        )

    def change_roles_as_operator(
        self,
        uid: str,
        *,
        add: frozenset[Role] = frozenset(),
        remove: frozenset[Role] = frozenset(),
        actor: str,
    ) -> RoleChange:
        """Add and remove roles of ``uid`` without an acting admin (``tools/admin``).

        Only reachable with Admin SDK credentials, never over HTTP. The same lease, audit
        entry and session revocation (when roles shrink) as ``set_roles``.

        Args:
            actor: the audit actor, ``cli:<command>``.

        Raises:
            ValueError: ``actor`` does not start with ``cli:``.
            UserNotFound, ClaimsTooLarge, Busy, Unavailable, AuthUnavailable.
        """
        _require_operator(actor)
        return self._replace_roles(
            uid, lambda before: (before | add) - remove, actor=actor, request_id=None
        )

    def sign_out_everywhere_as_operator(self, uid: str, *, actor: str) -> int:
        """Sign ``uid`` out everywhere, audited as ``sessions.revoked`` (``tools/admin``).

        Returns:
            The second of the revocation (epoch seconds).

        Raises:
            ValueError: ``actor`` does not start with ``cli:``.
            UserNotFound, Unavailable, AuthUnavailable.
        """
        _require_operator(actor)
        record = self.directory.get(uid)
        now = self.clock()
        entry = self.audit.record(
            AuditEntry(
                id=self.audit.new_id(),
                action=SESSIONS_REVOKED,
                actor=actor,
                target=uid,
                before={"validSince": record.valid_since},
                # The second asked for; Firebase records its own, a moment later.
                after={"validSince": int(now.timestamp())},
                time=now,
            )
        )
        revoked_at = self.revocation.sign_out_everywhere(uid)
        self.audit.mark_applied(entry.id)
        return revoked_at

    def _replace_roles(
        self,
        uid: str,
        new_roles: Callable[[frozenset[Role]], frozenset[Role]],
        *,
        actor: str,
        request_id: str | None,
    ) -> RoleChange:
        holder = request_id or f"{actor}:{uuid.uuid4().hex}"
        with self.leases.held(f"claims:{uid}", holder=holder) as lease:
            record = self.directory.get(uid)
            before = record.roles
            roles = new_roles(before)
            merged = merge_roles(record.custom_claims, roles)
            entry = self.audit.record(
                AuditEntry(
                    id=self.audit.new_id(),
                    action=ROLES_CHANGED,
                    actor=actor,
                    target=uid,
                    before={"roles": canonical_roles(before)},
                    after={"roles": canonical_roles(roles)},
                    time=self.clock(),
                    request_id=request_id,
                )
            )
            # Auth takes no precondition: check the lease right before the claims write
            # (a holder that lost it writes nothing), and fence ``applied`` on it below.
            self.leases.check(lease)
            self.directory.set_custom_claims(uid, merged)
            revoked = bool(before - roles)
            if revoked:
                self.revocation.sign_out_everywhere(uid)
            self.revocation.forget(uid)
            self.audit.mark_applied(entry.id, fence=lease)  # and releases, in one commit
        return RoleChange(uid=uid, before=before, after=roles, sessions_revoked=revoked)

    def audit_log(
        self, actor: Principal, *, limit: int, cursor: str | None
    ) -> Page[dict[str, Any]]:
        decision = may_read_audit_log(actor)
        request_log.note_decision(
            "audit.list", "auditLog", allowed=decision.allowed, rule=decision.rule
        )
        if not decision.allowed:
            raise PermissionDenied("Only admins and auditors may read the audit log.")
        return self.audit.list_entries(limit=limit, cursor=cursor)


def _require_operator(actor: str) -> None:
    if not actor.startswith(OPERATOR_ACTOR_PREFIX):
        raise ValueError(f"expected an operator actor ({OPERATOR_ACTOR_PREFIX}...), got {actor!r}")


def _require_admin(actor: Principal, action: str, resource: str) -> None:
    decision = may_manage_roles(actor)
    request_log.note_decision(action, resource, allowed=decision.allowed, rule=decision.rule)
    if not decision.allowed:
        raise PermissionDenied("Only admins may manage users and roles.")
