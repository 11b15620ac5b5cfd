"""``signouts``: the Eventarc-triggered function that applies recorded sign-outs.

Not an HTTP function: it is deployed with Firestore triggers on new
``signOuts/{user}/signOutEvents/{second}`` documents (project-level users') and
``tenants/{tenant}/signOuts/{user}/signOutEvents/{second}`` (each tenant's users',
revoked in that tenant; a tenant outside ``TENANTS`` is dropped; ``store.sign_outs``),
and may be invoked only by its own service account (Eventarc), never from the Internet. It reads
nothing from the event but the document's name (the payload is protobuf, and the record
is read again anyway), then runs ``services.sign_outs.SignOutService.apply``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import functions_framework

from core.errors import TenantNotAllowed
from store.sign_outs import record_path

if TYPE_CHECKING:
    from app import Container

logger = logging.getLogger(__name__)
#: The entry point's name (``main.signouts``; functions-framework registers it by name).
NAME = "signouts"
#: Firestore events name their document ``documents/<path>``.
_SUBJECT_PREFIX = "documents/"


def bind(container: Container) -> Callable[[Any], None]:
    """The CloudEvent function ``signouts``, serving with ``container``."""

    def signouts(event: Any) -> None:
        """Apply the sign-out recorded by the document this event reports as created.

        An event that names no record is logged and dropped (a retry could not help);
        Firestore or Auth failures raise, so that Eventarc retries the event.
        """
        subject = str(event.get("subject") or "")
        found = record_path(subject.removeprefix(_SUBJECT_PREFIX))
        if not subject.startswith(_SUBJECT_PREFIX) or found is None:
            logger.warning("signouts: expected a sign-out record, got subject %r", subject[:200])
            return
        try:
            # The record's realm: a tenant's user is revoked in that tenant only.
            realm = container.for_tenant(found.tenant)
        except TenantNotAllowed:
            logger.warning("signouts: tenant %r is not in TENANTS: dropped", found.tenant)
            return
        outcome = realm.sign_out_service.apply(found.path)
        logger.info("signouts: %s %s", outcome.value, found.path)

    # Registers the name as a CloudEvent function (functions-framework looks it up).
    bound: Callable[[Any], None] = functions_framework.cloud_event(signouts)
    return bound
