"""Identity and policy: who is calling, and what they may do. Knows nothing of HTTP routes.

The public API: everything outside ``auth`` imports from here, never from its modules.
"""

from auth.claims import canonical_roles, merge_roles
from auth.credentials import (
    SAFE_METHODS,
    Credential,
    CredentialKind,
    HttpRequest,
    check_origin,
    credential,
)
from auth.directory import UserDirectory, UserRecord
from auth.directory import translated as translated_auth_errors
from auth.firebase_app import firebase_app
from auth.identity import Authenticator, SessionCookie
from auth.policy import (
    Action,
    Decision,
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
from auth.principal import Principal, Role, roles_from_claims
from auth.revocation import RevocationChecker
from auth.session_cookies import SESSION_COOKIE_NAME

__all__ = [
    "SAFE_METHODS",
    "SESSION_COOKIE_NAME",
    "Action",
    "Authenticator",
    "Credential",
    "CredentialKind",
    "Decision",
    "HttpRequest",
    "Principal",
    "ProjectAccess",
    "Relation",
    "RevocationChecker",
    "Role",
    "SessionCookie",
    "UserDirectory",
    "UserRecord",
    "authorize",
    "authorize_create",
    "canonical_roles",
    "check_origin",
    "credential",
    "decide",
    "firebase_app",
    "may_list_any_owner",
    "may_manage_roles",
    "may_read_audit_log",
    "member_removal_action",
    "merge_roles",
    "roles_from_claims",
    "translated_auth_errors",
]
