"""Identity and policy: who is calling, and what they may do. Knows nothing of HTTP routes.

The public API: everything outside ``auth`` imports from here, never from its modules.
"""

from typing import Any

from auth.claims import canonical_roles, merge_roles
from auth.conditions import RulesScope
from auth.credentials import (
    SAFE_METHODS,
    Credential,
    CredentialKind,
    HttpRequest,
    check_origin,
    credential,
)
from auth.declaration import (
    BOOKKEEPING_FIELDS,
    Decision,
    Grant,
    Op,
    Resource,
    check_invariants,
    server_managed_fields,
)
from auth.declaration import authorize as authorize_action
from auth.declaration import decide as decide_action
from auth.directory import Profile, UserDirectory, UserRecord
from auth.directory import translated as translated_auth_errors
from auth.firebase_app import firebase_app
from auth.identity import Authenticator, SessionCookie
from auth.policy import (
    Action,
    ProjectAccess,
    Relation,
    authorize,
    authorize_create,
    decide,
    may_list_any_owner,
    may_manage_roles,
    may_read_audit_log,
    member_removal_action,
)
from auth.principal import (
    ANONYMOUS_PROVIDER,
    PHONE_PROVIDER,
    Principal,
    Role,
    roles_from_claims,
)
from auth.resources import MAX_MEMBERS, PROJECTS, RESOURCES, TASKS
from auth.revocation import RevocationChecker
from auth.session_cookies import SESSION_COOKIE_NAME

#: Loaded on first use (PEP 562): with App Check off, no instance pays for PyJWT.
_LAZY = {
    "AppCheckToken": "auth.app_check",
    "AppCheckVerifier": "auth.app_check",
    "app_check_key_store": "auth.app_check",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'auth' has no attribute {name!r}")
    import importlib

    attribute = "key_store" if name == "app_check_key_store" else name
    return getattr(importlib.import_module(module), attribute)


__all__ = [
    "ANONYMOUS_PROVIDER",
    "BOOKKEEPING_FIELDS",
    "MAX_MEMBERS",
    "PHONE_PROVIDER",
    "PROJECTS",
    "RESOURCES",
    "SAFE_METHODS",
    "SESSION_COOKIE_NAME",
    "TASKS",
    "Action",
    "AppCheckToken",
    "AppCheckVerifier",
    "Authenticator",
    "Credential",
    "CredentialKind",
    "Decision",
    "Grant",
    "HttpRequest",
    "Op",
    "Principal",
    "Profile",
    "ProjectAccess",
    "Relation",
    "Resource",
    "RevocationChecker",
    "Role",
    "RulesScope",
    "SessionCookie",
    "UserDirectory",
    "UserRecord",
    "app_check_key_store",
    "authorize",
    "authorize_action",
    "authorize_create",
    "canonical_roles",
    "check_invariants",
    "check_origin",
    "credential",
    "decide",
    "decide_action",
    "firebase_app",
    "may_list_any_owner",
    "may_manage_roles",
    "may_read_audit_log",
    "member_removal_action",
    "merge_roles",
    "roles_from_claims",
    "server_managed_fields",
    "translated_auth_errors",
]
