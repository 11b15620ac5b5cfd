"""One structured log line per request: who, what, on which resource, the decision
and the rule that made it. Layers note facts as they learn them; the HTTP shell
writes the line. Never the token, never the body."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class RequestRecord:
    request_id: str
    uid: str | None = None
    action: str | None = None
    resource: str | None = None
    #: ``allow`` or ``deny``.
    decision: str | None = None
    #: The rule that decided: ``owner``, ``role:admin``, ``signed_in``, ``deny``, an error code.
    rule: str | None = None

    def fields(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


_current: ContextVar[RequestRecord | None] = ContextVar("request_record", default=None)


@contextmanager
def recording(request_id: str) -> Iterator[RequestRecord]:
    """Collect facts about one request (contextvars: safe under threaded servers)."""
    record = RequestRecord(request_id)
    token = _current.set(record)
    try:
        yield record
    finally:
        _current.reset(token)


def note_uid(uid: str) -> None:
    record = _current.get()
    if record is not None:
        record.uid = uid


def note_decision(action: str, resource: str, *, allowed: bool, rule: str) -> None:
    """Record the authorization decision (the last one wins)."""
    record = _current.get()
    if record is not None:
        record.action = action
        record.resource = resource
        record.decision = "allow" if allowed else "deny"
        record.rule = rule
