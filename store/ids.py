"""Which strings may name a document this backend created.

The server generates every ID with Firestore's auto-ID (``core.fields.DOCUMENT_ID``).
Anything else (slashes, dots, ``__x__`` names, over-long strings, control or
zero-width characters) is refused before a path is built.
"""

from __future__ import annotations

from core.fields import DOCUMENT_ID


def is_document_id(value: str) -> bool:
    return DOCUMENT_ID.matches(value)
