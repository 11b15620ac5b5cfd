"""Identity and policy: who is calling, and what they may do. Knows nothing of HTTP routes.

The public API: everything outside ``auth`` imports from here, never from its modules.
"""

from typing import TYPE_CHECKING, Any

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
from auth.keys import MAX_BODY_BYTES as MAX_KEY_BODY_BYTES
from auth.keys import Fetch as KeyFetch
from auth.keys import KeyFetchError, PublicKeys
from auth.keys import Response as KeyResponse
from auth.keys import for_app as id_token_key_store
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
from auth.resources import PROJECTS, RESOURCES, TASKS
from auth.revocation import TOKEN_LIFETIME_SECONDS, RevocationChecker, SignOutRecords
from auth.session_cookies import SESSION_COOKIE_NAME

if TYPE_CHECKING:  # what ``__getattr__`` below loads on first use, for the type checker
    from auth.app_check import AppCheckToken, AppCheckVerifier
    from auth.app_check import key_store as app_check_key_store
    from auth.blocking import BlockingTokenVerifier
    from auth.blocking import key_store as blocking_key_store
    from auth.signup_policy import SignupPolicy, Verdict
    from auth.signup_policy import decide as decide_signup
    from auth.signup_policy import parse_allowed_domains as parse_signup_domains
    from auth.signup_policy import parse_default_claims as parse_signup_default_claims

#: Loaded on first use (PEP 562): with App Check off, no instance pays for PyJWT.
_LAZY = {
    "AppCheckToken": ("auth.app_check", "AppCheckToken"),
    "AppCheckVerifier": ("auth.app_check", "AppCheckVerifier"),
    "app_check_key_store": ("auth.app_check", "key_store"),
    # Identity Platform's blocking events and the sign-up policy (the identity function).
    "BlockingTokenVerifier": ("auth.blocking", "BlockingTokenVerifier"),
    "blocking_key_store": ("auth.blocking", "key_store"),
    "SignupPolicy": ("auth.signup_policy", "SignupPolicy"),
    "Verdict": ("auth.signup_policy", "Verdict"),
    "decide_signup": ("auth.signup_policy", "decide"),
    "parse_signup_domains": ("auth.signup_policy", "parse_allowed_domains"),
    "parse_signup_default_claims": ("auth.signup_policy", "parse_default_claims"),
}


def __getattr__(name: str) -> Any:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module 'auth' has no attribute {name!r}")
    import importlib

    module, attribute = found
    return getattr(importlib.import_module(module), attribute)


__all__ = [
    "ANONYMOUS_PROVIDER",
    "BOOKKEEPING_FIELDS",
    "MAX_KEY_BODY_BYTES",
    "PHONE_PROVIDER",
    "PROJECTS",
    "RESOURCES",
    "SAFE_METHODS",
    "SESSION_COOKIE_NAME",
    "TASKS",
    "TOKEN_LIFETIME_SECONDS",
    "Action",
    "AppCheckToken",
    "AppCheckVerifier",
    "Authenticator",
    "BlockingTokenVerifier",
    "Credential",
    "CredentialKind",
    "Decision",
    "Grant",
    "HttpRequest",
    "KeyFetch",
    "KeyFetchError",
    "KeyResponse",
    "Op",
    "Principal",
    "Profile",
    "ProjectAccess",
    "PublicKeys",
    "Relation",
    "Resource",
    "RevocationChecker",
    "Role",
    "RulesScope",
    "SessionCookie",
    "SignOutRecords",
    "SignupPolicy",
    "UserDirectory",
    "UserRecord",
    "Verdict",
    "app_check_key_store",
    "authorize",
    "authorize_action",
    "authorize_create",
    "blocking_key_store",
    "canonical_roles",
    "check_invariants",
    "check_origin",
    "credential",
    "decide",
    "decide_action",
    "decide_signup",
    "firebase_app",
    "id_token_key_store",
    "may_list_any_owner",
    "may_manage_roles",
    "may_read_audit_log",
    "member_removal_action",
    "merge_roles",
    "parse_signup_default_claims",
    "parse_signup_domains",
    "roles_from_claims",
    "server_managed_fields",
    "translated_auth_errors",
]
