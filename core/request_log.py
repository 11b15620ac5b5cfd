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
    #: The App Check outcome (``valid``, ``missing``, ``invalid``, ``replayed``,
    #: ``unavailable``); absent with ``APP_CHECK=off``.
    app_check: str | None = None
    #: The app id of a verified App Check token (never the token).
    app_id: str | None = None
    #: True when the caller's token is older than their user record (``X-Claims-Stale``).
    claims_stale: bool | None = None

    def fields(self) -> dict[str, Any]:
        return {
            _FIELD_NAMES.get(key, key): value
            for key, value in asdict(self).items()
            if value is not None
        }


#: Names of fields in the log line, where they differ from the attribute's.
_FIELD_NAMES = {"app_check": "appCheck", "app_id": "appId", "claims_stale": "claimsStale"}


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


def note_app_check(outcome: str, app_id: str | None = None) -> None:
    """Record the App Check outcome and, for a verified token, its app id."""
    record = _current.get()
    if record is not None:
        record.app_check = outcome
        record.app_id = app_id


def note_claims_stale() -> None:
    """Record that the caller's token carries fewer roles (or an older ``email_verified``)
    than their user record: the response tells the client to refresh it."""
    record = _current.get()
    if record is not None:
        record.claims_stale = True


def note_decision(action: str, resource: str, *, allowed: bool, rule: str) -> None:
    """Record the authorization decision (the last one wins)."""
    record = _current.get()
    if record is not None:
        record.action = action
        record.resource = resource
        record.decision = "allow" if allowed else "deny"
        record.rule = rule


def current_request_id() -> str | None:
    """The id of the request being served, if any (audit entries name it)."""
    record = _current.get()
    return record.request_id if record is not None else None
