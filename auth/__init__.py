"""Identity and policy: who is calling, and what they may do. Knows nothing of HTTP routes."""

from auth.identity import Authenticator
from auth.policy import Action, Decision, ProjectAccess, Relation, authorize, decide
from auth.principal import Principal, Role

__all__ = [
    "Action",
    "Authenticator",
    "Decision",
    "Principal",
    "ProjectAccess",
    "Relation",
    "Role",
    "authorize",
    "decide",
]
