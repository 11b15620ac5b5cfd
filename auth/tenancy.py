"""Identity Platform tenants: which callers a deployment accepts, by the tenant their
token names (``firebase.tenant``; none for project-level users).

A tenant is a realm: its users, their Auth records and the data they create are kept
apart from every other realm's (``app.Container.for_tenant``). This module only says
who may enter; where each realm's records and documents live is decided there.
"""

from __future__ import annotations

from collections.abc import Set

from auth.principal import Principal
from core.errors import TenantNotAllowed


def require_allowed_tenant(
    principal: Principal, tenants: Set[str], *, allow_project_level: bool
) -> None:
    """Raise unless ``principal``'s realm is accepted: a tenant in ``tenants``, or no
    tenant when ``allow_project_level``.

    Raises:
        TenantNotAllowed: a tenant not listed, or a project-level user where only
            tenants are (401: an account of the right realm is needed).
    """
    if principal.tenant is None:
        if allow_project_level:
            return
        raise TenantNotAllowed("Sign in with your organisation's account.")
    if principal.tenant not in tenants:
        raise TenantNotAllowed()
