"""Functions that Eventarc calls (not HTTP, ``handlers.EVENT_ENTRY_POINTS``): their
triggers.

The deploy deploys these with a Firestore trigger instead of ``--trigger-http``, each
invocable only by its own service account (never ``--allow-unauthenticated``). A
function deployed this way has one trigger; the others it needs (``EXTRA_TRIGGERS``:
the tenants' sign-out records, ``tenants/{tenant}/signOuts/...``, which no path pattern
of the first can also match: a multi-segment wildcard may only end a pattern) are
Eventarc triggers of their own on the function's Cloud Run service, created or updated
to match after the function is deployed.
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


@dataclass(frozen=True)
class ExtraTrigger:
    """An Eventarc trigger, besides the function's own, that calls the function."""

    #: The trigger's id (``gcloud eventarc triggers create ID``).
    name: str
    trigger: FirestoreTrigger


EXTRA_TRIGGERS: Mapping[str, tuple[ExtraTrigger, ...]] = {
    # Each tenant's records (handlers.sign_outs takes the tenant from the path).
    "signouts": (
        ExtraTrigger(
            name="signouts-tenants",
            trigger=FirestoreTrigger(
                event_type="google.cloud.firestore.document.v1.created",
                document=sign_outs.TENANT_TRIGGER_DOCUMENT,
            ),
        ),
    ),
}
#: The APIs event functions need besides the base ones.
EVENTS_SERVICE = "eventarc.googleapis.com"
