"""Who each function runs as, and the least each needs (one service account per function).

The roles follow from what the code calls, so they live here, next to the code, and
not in the environment's config: a new function fails the deploy until it is added.

- ``me`` reads the caller's user record (revocation and disabled checks) and, for
  ``POST /me/revoke-sessions``, revokes the caller's refresh tokens, which is a user
  update. No predefined role has ``firebaseauth.users.update`` without far more
  (``roles/firebaseauth.admin`` also manages providers and tenants), so ``me`` gets a
  custom role with exactly ``users.get`` and ``users.update``. It never touches Firestore.
- ``session`` exchanges ID tokens for session cookies (``createSession``) and, on
  ``DELETE /session``, revokes the user's sessions; like ``me``, no Firestore.
- ``projects`` reads and writes Firestore and checks that member uids exist.
- ``admin`` reads and writes Firestore (audit log, leases) and sets custom claims
  and revokes sessions, i.e. administers Firebase Auth users.

Verifying ID tokens needs no role (Google's public keys are public).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CustomRole:
    """A project-level custom IAM role that the deploy creates when it is missing."""

    id: str
    title: str
    description: str
    permissions: tuple[str, ...]

    def name(self, project: str) -> str:
        return f"projects/{project}/roles/{self.id}"


SESSION_REVOKER = CustomRole(
    id="firebaseAuthSessionRevoker",
    title="Firebase Auth session revoker",
    description="Read user records and revoke refresh tokens (POST /me/revoke-sessions).",
    permissions=("firebaseauth.users.get", "firebaseauth.users.update"),
)

SESSION_ISSUER = CustomRole(
    id="firebaseAuthSessionIssuer",
    title="Firebase Auth session issuer",
    description="Read user records, create session cookies, revoke sessions (/session).",
    permissions=(
        "firebaseauth.users.createSession",
        "firebaseauth.users.get",
        "firebaseauth.users.update",
    ),
)

#: Project-level roles of each function's runtime service account.
FUNCTION_ROLES: Mapping[str, tuple[str | CustomRole, ...]] = {
    "me": (SESSION_REVOKER,),
    "session": (SESSION_ISSUER,),
    "projects": ("roles/datastore.user", "roles/firebaseauth.viewer"),
    "admin": ("roles/datastore.user", "roles/firebaseauth.admin"),
}
#: Given on each secret a function mounts (not project-wide).
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"  # noqa: S105 - a role name


def role_name(role: str | CustomRole, project: str) -> str:
    return role.name(project) if isinstance(role, CustomRole) else role
