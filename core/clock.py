"""The wall clock, in one place so that services take it as a parameter."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware (Firestore stores UTC; naive datetimes would be ambiguous)."""
    return datetime.now(UTC)
