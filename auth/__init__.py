"""Identity and policy: who is calling, and what they may do. Knows nothing of HTTP routes."""

from auth.declaration import Decision
from auth.identity import Authenticator
from auth.policy import Action, ProjectAccess, Relation, authorize, decide
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
