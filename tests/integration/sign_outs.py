"""Helpers of the sign-out record tests (test_sign_outs.py, test_tenants.py): the
records as the emulator stores them, and the event Eventarc sends for a new one."""

from __future__ import annotations

import hashlib
from typing import Any

from cloudevents.http import CloudEvent

from tests.integration.emulator import FirestoreEmulator


def records_of(
    firestore_emulator: FirestoreEmulator, uid: str, *, tenant: str | None = None
) -> dict[str, dict[str, Any]]:
    """A user's sign-out records in a realm (project-level users' by default), by id."""
    realm = "" if tenant is None else f"tenants/{tenant}/"
    key = hashlib.sha256(uid.encode()).hexdigest()
    return firestore_emulator.list_documents(f"{realm}signOuts/{key}/signOutEvents")


def created_event(subject: str) -> CloudEvent:
    """The CloudEvent of a new Firestore document named by ``subject``."""
    return CloudEvent(
        {
            "type": "google.cloud.firestore.document.v1.created",
            "source": "//firestore.googleapis.com/projects/demo/databases/(default)",
            "subject": subject,
        },
        b"\x0a\x00",  # a protobuf payload, which the function does not read
    )
