"""Functions that Eventarc calls (not HTTP, ``handlers.EVENT_ENTRY_POINTS``): their
triggers.

The deploy deploys these with a Firestore trigger instead of ``--trigger-http``, each
invocable only by its own service account (never ``--allow-unauthenticated``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from store import sign_outs


@dataclass(frozen=True)
class FirestoreTrigger:
    """An Eventarc trigger on documents of the ``(default)`` Firestore database."""

    #: ``google.cloud.firestore.document.v1.created`` and the like.
    event_type: str
    #: The documents' path pattern (``collection/{wildcard}/...``).
    document: str
    database: str = "(default)"


EVENT_FUNCTIONS: Mapping[str, FirestoreTrigger] = {
    # Applies each recorded "sign out everywhere" (services.sign_outs.apply).
    "signouts": FirestoreTrigger(
        event_type="google.cloud.firestore.document.v1.created",
        document=sign_outs.TRIGGER_DOCUMENT,
    ),
}
#: The APIs event functions need besides the base ones.
EVENTS_SERVICE = "eventarc.googleapis.com"
