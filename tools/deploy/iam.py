"""Who each function runs as, and the least each needs (one service account per function).

The roles follow from what the code calls, so they live here, next to the code, and
not in the environment's config: a new function fails the deploy until it is added.

- ``me`` reads the caller's user record (revocation and disabled checks) and, for
  ``POST /me/revoke-sessions``, revokes the caller's refresh tokens, which is a user
  update. No predefined role has ``firebaseauth.users.update`` without far more
  (``roles/firebaseauth.admin`` also manages providers and tenants), so ``me`` gets a
  custom role with exactly ``users.get`` and ``users.update``. No Firestore (but see
  App Check below).
- ``session`` exchanges ID tokens for session cookies (``createSession``) and, on
  ``DELETE /session``, revokes the user's sessions; like ``me``, no Firestore (ditto).
- ``projects`` reads and writes Firestore and checks that member uids exist.
- ``admin`` reads and writes Firestore (audit log, leases) and sets custom claims
  and revokes sessions, i.e. administers Firebase Auth users.
- ``identity`` answers Identity Platform's blocking events from the token it is sent
  and its settings: no Firestore, no Auth admin API, so no role at all (Identity
  Platform itself applies the claims it answers with).

- ``call`` serves every operation of the others as a Firebase callable function
  (``handlers.callables``), so it needs the union of their roles (derived below: a
  role added to one of them reaches ``call`` too).

With App Check on (``APP_CHECK`` monitor or enforce), the functions that serve
single-use operations (``handlers.http.APP_CHECK_SINGLE_USE``) spend App Check tokens
in Firestore, so ``me`` and ``session`` then also get ``roles/datastore.user``.

Verifying ID tokens needs no role (Google's public keys are public).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
    "identity": (),
}
#: The callable function (``handlers.CALLABLE``) runs every operation of the others.
CALLABLE_FUNCTION = "call"
FUNCTION_ROLES = {
    **FUNCTION_ROLES,
    CALLABLE_FUNCTION: tuple(
        dict.fromkeys(role for roles in FUNCTION_ROLES.values() for role in roles)
    ),
}
#: Functions that spend App Check tokens (they serve ``APP_CHECK_SINGLE_USE`` routes).
APP_CHECK_LEDGER_FUNCTIONS = ("me", "session", "admin")
#: What spending a token needs: creating a document in ``appCheckConsumed``.
APP_CHECK_LEDGER_ROLE = "roles/datastore.user"
#: Given on each secret a function mounts (not project-wide).
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"  # noqa: S105 - a role name


def roles_for(
    function: str, env: Mapping[str, str], secrets: Collection[str] = ()
) -> tuple[str | CustomRole, ...]:
    """The project-level roles of ``function`` deployed with these settings: its own,
    plus Firestore access for the App Check ledger when App Check is on (or set from
    a secret, so unknown here)."""
    roles = FUNCTION_ROLES[function]
    app_check_on = "APP_CHECK" in secrets or env.get("APP_CHECK", "").strip().lower() not in {
        "",
        "off",
    }
    if (
        app_check_on
        and function in APP_CHECK_LEDGER_FUNCTIONS
        and APP_CHECK_LEDGER_ROLE not in roles
    ):
        roles = (*roles, APP_CHECK_LEDGER_ROLE)
    return roles


def role_name(role: str | CustomRole, project: str) -> str:
    return role.name(project) if isinstance(role, CustomRole) else role
