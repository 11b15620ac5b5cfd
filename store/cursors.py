"""Opaque page cursors: (timestamp, document id) of the last item, base64url-encoded.

Hand-written because it is ten lines; the cursor is only a position, the query
that uses it still applies the caller's access filter, so it needs no signature.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from core.errors import InvalidCursor
from core.fields import MAX_CURSOR_LENGTH
from store.ids import is_document_id
from store.models import Page

T = TypeVar("T")


def encode(when: datetime, doc_id: str) -> str:
    raw = json.dumps([when.isoformat(), doc_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, str]:
    """Raises: InvalidCursor for anything ``encode`` did not produce."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        when_text, doc_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        when = datetime.fromisoformat(when_text)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        # Firestore sends UTC; an offset near year 1 or 9999 does not convert (OverflowError).
        when = when.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, UnicodeError, binascii.Error):
        raise InvalidCursor() from None
    if not isinstance(doc_id, str) or not is_document_id(doc_id):
        raise InvalidCursor()
    return when, doc_id


def page(found: Sequence[T], limit: int, position: Callable[[T], tuple[datetime, str]]) -> Page[T]:
    """The page of the first ``limit`` of ``found`` (fetched with ``limit + 1``, so that
    one more tells whether a next page exists), with the cursor after its last item.

    Args:
        position: an item's (timestamp, document id), what ``encode`` records.
    """
    items = list(found[:limit])
    next_cursor = encode(*position(items[-1])) if len(found) > limit else None
    return Page(items=items, next_cursor=next_cursor)
