"""Who each function runs as, and the least each needs (one service account per function).

The roles follow from what the code calls, so they live here, next to the code, and
not in the environment's config: a new function fails the deploy until it is added.
``NEEDS`` says, per function, the permissions its code uses; a unit test checks that
the roles grant them, and that nothing else can change users (README, "What each
function may do").

Identity Toolkit has one permission for every change to a user,
``firebaseauth.users.update`` (``accounts:update``: custom claims, ``validSince``,
email, password, ``disabled``, ...), and IAM conditions cannot look inside a request,
so whoever may revoke refresh tokens may also mint admins and take over any account.
Only ``admin``, ``admincall`` (``admin``'s operations as callables) and ``signouts``
hold it: none of the functions an ordinary caller's requests are served by (README,
"What is left"):

- ``me`` and ``session`` read user records (revocation checks) and, for "sign out
  everywhere", *record* the sign-out in Firestore (``store.sign_outs``): every
  instance refuses the user's earlier sessions from then on.
- ``signouts`` is not an HTTP function: Eventarc calls it when a sign-out is recorded,
  and it revokes the user's refresh tokens (the Firebase-wide effect).
- ``projects`` reads and writes Firestore and looks users up (members, emails).
- ``admin`` reads and writes Firestore (audit log, leases), sets custom claims and
  revokes sessions.
- ``identity`` answers Identity Platform's blocking events from the token it is sent
  and its settings: no Firestore, no Auth admin API, so no role at all (Identity
  Platform itself applies the claims it answers with).
- ``call`` and ``admincall`` serve the operations of the HTTP functions as Firebase
  callable functions (``handlers.callables``), each those of its group
  (``handlers.CALLABLES``: ``call`` those of ``me``, ``projects`` and ``session``,
  ``admincall`` ``admin``'s), so each needs the union of its group's roles (derived
  below: a role added to one of them reaches its callable function too).

Verifying ID tokens needs no role (Google's public keys are public).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from handlers import CALLABLES


@dataclass(frozen=True)
class CustomRole:
    """A project-level custom IAM role; the deploy keeps it at exactly these values."""

    id: str
    title: str
    description: str
    permissions: tuple[str, ...]
    stage: str = "GA"

    def name(self, project: str) -> str:
        return f"projects/{project}/roles/{self.id}"


USER_READER = CustomRole(
    id="firebaseAuthUserReader",
    title="Firebase Auth user reader",
    description="Read user records (revocation checks, member lookups); change nothing.",
    permissions=("firebaseauth.users.get",),
)
SESSION_ISSUER = CustomRole(
    id="firebaseAuthSessionIssuer",
    title="Firebase Auth session issuer",
    description="Read user records and exchange ID tokens for session cookies (/session).",
    permissions=("firebaseauth.users.createSession", "firebaseauth.users.get"),
)
SIGN_OUT_RECORDER = CustomRole(
    id="backendSignOutRecorder",
    title="Backend sign-out recorder",
    description=(
        "Create and read Firestore documents: record sign-outs and spent App Check "
        "tokens; never change or delete a document."
    ),
    permissions=("datastore.entities.create", "datastore.entities.get", "datastore.entities.list"),
)
USER_ADMIN = CustomRole(
    id="firebaseAuthUserAdmin",
    title="Firebase Auth user admin",
    description="Read and update user records: custom claims, revocation (/admin).",
    permissions=("firebaseauth.users.get", "firebaseauth.users.update"),
)
SIGN_OUT_APPLIER = CustomRole(
    id="backendSignOutApplier",
    title="Backend sign-out applier",
    description=(
        "Revoke the refresh tokens of users whose sign-out was recorded, and mark the "
        "record applied (the signouts function, called by Eventarc only)."
    ),
    permissions=(
        "datastore.entities.get",
        "datastore.entities.update",
        "firebaseauth.users.get",
        "firebaseauth.users.update",
    ),
)

DATASTORE_USER = "roles/datastore.user"
#: Lets the signouts account receive the Firestore events that trigger its function.
EVENT_RECEIVER = "roles/eventarc.eventReceiver"

#: Project-level roles of each function's runtime service account.
FUNCTION_ROLES: Mapping[str, tuple[str | CustomRole, ...]] = {
    "me": (USER_READER, SIGN_OUT_RECORDER),
    "session": (SESSION_ISSUER, SIGN_OUT_RECORDER),
    "projects": (DATASTORE_USER, USER_READER),
    "admin": (DATASTORE_USER, USER_ADMIN),
    "signouts": (SIGN_OUT_APPLIER, EVENT_RECEIVER),
    "identity": (),
}
#: Each callable function (``handlers.CALLABLES``) runs the operations of its group of
#: HTTP functions, so it holds the union of their roles (a role added to one reaches it
#: too); ``admin`` is alone in its group, so ``call`` never holds ``admin``'s roles.
FUNCTION_ROLES = {
    **FUNCTION_ROLES,
    **{
        name: tuple(dict.fromkeys(role for served in group for role in FUNCTION_ROLES[served]))
        for name, group in CALLABLES.items()
    },
}

#: What each function's code calls, as IAM permissions (checked against FUNCTION_ROLES).
NEEDS: Mapping[str, frozenset[str]] = {
    # revocation checks (user record + recorded sign-outs); POST /me/revoke-sessions
    # records one; with App Check on, spending a token creates a ledger document.
    "me": frozenset(
        {
            "firebaseauth.users.get",
            "datastore.entities.get",
            "datastore.entities.list",
            "datastore.entities.create",
        }
    ),
    "session": frozenset(
        {
            "firebaseauth.users.get",
            "firebaseauth.users.createSession",
            "datastore.entities.get",
            "datastore.entities.list",
            "datastore.entities.create",
        }
    ),
    "projects": frozenset(
        {
            "firebaseauth.users.get",
            "datastore.databases.get",
            "datastore.entities.create",
            "datastore.entities.delete",
            "datastore.entities.get",
            "datastore.entities.list",
            "datastore.entities.update",
        }
    ),
    "admin": frozenset(
        {
            "firebaseauth.users.get",
            "firebaseauth.users.update",
            "datastore.databases.get",
            "datastore.entities.create",
            "datastore.entities.delete",
            "datastore.entities.get",
            "datastore.entities.list",
            "datastore.entities.update",
        }
    ),
    "signouts": frozenset(
        {
            "firebaseauth.users.get",
            "firebaseauth.users.update",
            "datastore.entities.get",
            "datastore.entities.update",
            "eventarc.events.receiveEvent",
        }
    ),
    "identity": frozenset(),
}
NEEDS = {
    **NEEDS,
    **{
        name: frozenset().union(*(NEEDS[served] for served in group))
        for name, group in CALLABLES.items()
    },
}

#: The permissions of the predefined roles used above (from Google's role reference),
#: so that tests can compute what each account may do.
PREDEFINED: Mapping[str, frozenset[str]] = {
    DATASTORE_USER: frozenset(
        {
            "appengine.applications.get",
            "datastore.databases.get",
            "datastore.databases.getMetadata",
            "datastore.entities.allocateIds",
            "datastore.entities.create",
            "datastore.entities.delete",
            "datastore.entities.get",
            "datastore.entities.list",
            "datastore.entities.update",
            "datastore.indexes.list",
            "datastore.namespaces.get",
            "datastore.namespaces.list",
            "datastore.statistics.get",
            "datastore.statistics.list",
            "resourcemanager.projects.get",
            "resourcemanager.projects.list",
        }
    ),
    EVENT_RECEIVER: frozenset({"eventarc.events.receiveEvent"}),
    "roles/secretmanager.secretAccessor": frozenset({"secretmanager.versions.access"}),
}

#: Functions that spend App Check tokens (they serve ``APP_CHECK_SINGLE_USE`` routes):
#: their roles let them create documents (the ledger) whatever ``APP_CHECK`` says.
APP_CHECK_LEDGER_FUNCTIONS = ("me", "session", "admin")
#: Given on each secret a function mounts (not project-wide).
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"  # noqa: S105 - a role name


def roles_for(function: str) -> tuple[str | CustomRole, ...]:
    """The project-level roles of ``function``'s runtime service account."""
    return FUNCTION_ROLES[function]


def permissions_of(function: str) -> frozenset[str]:
    """Every permission ``function``'s account holds on the project (its roles expanded)."""
    granted: set[str] = set()
    for role in FUNCTION_ROLES[function]:
        granted |= set(role.permissions) if isinstance(role, CustomRole) else PREDEFINED[role]
    return frozenset(granted)


def custom_roles(functions: list[str] | tuple[str, ...]) -> tuple[CustomRole, ...]:
    """The custom roles the given functions use, each once, in first-use order."""
    found: dict[str, CustomRole] = {}
    for function in functions:
        for role in FUNCTION_ROLES[function]:
            if isinstance(role, CustomRole):
                found.setdefault(role.id, role)
    return tuple(found.values())


def role_name(role: str | CustomRole, project: str) -> str:
    return role.name(project) if isinstance(role, CustomRole) else role
