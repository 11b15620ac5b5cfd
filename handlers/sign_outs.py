"""``signouts``: the Eventarc-triggered function that applies recorded sign-outs.

Not an HTTP function: it is deployed with a Firestore trigger on new
``signOuts/{user}/signOutEvents/{second}`` documents (``store.sign_outs``) and may be
invoked only by its own service account (Eventarc), never from the Internet. It reads
nothing from the event but the document's name (the payload is protobuf, and the record
is read again anyway), then runs ``services.sign_outs.SignOutService.apply``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import functions_framework

from store.sign_outs import is_record_path

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
        path = subject.removeprefix(_SUBJECT_PREFIX)
        if not subject.startswith(_SUBJECT_PREFIX) or not is_record_path(path):
            logger.warning("signouts: expected a sign-out record, got subject %r", subject[:200])
            return
        outcome = container.sign_out_service.apply(path)
        logger.info("signouts: %s %s", outcome.value, path)

    # Registers the name as a CloudEvent function (functions-framework looks it up).
    bound: Callable[[Any], None] = functions_framework.cloud_event(signouts)
    return bound
