"""Input rules, one definition each: what a uid, a project ID, an email, a cursor, a page
size, a project name... may be.

Validation (``handlers.bodies``, the pydantic models of ``handlers.schemas``), the
store's ID checks (``store.ids``, ``store.cursors``) and the OpenAPI document
(``tools.openapi``) read them here, and so can a Firestore-rules generator: plain data
and predicates, no pydantic, no I/O.

A ``Text`` rule's ``pattern`` is a regular expression in the common subset of Python's
and ECMA-262's syntax (JSON Schema's dialect); ``whole`` says whether the value must
match it entirely (``^...$`` in JSON Schema) or only contain a match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Text:
    """A string input: its length bounds and, where a regular expression can say it,
    its alphabet."""

    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    #: The whole value must match ``pattern`` (else: contain a match).
    whole: bool = True
    #: A JSON Schema ``format`` (a hint for clients; not checked by ``matches``).
    format: str | None = None

    def matches(self, value: str) -> bool:
        """Whether ``value`` is within the bounds and matches the pattern."""
        if self.min_length is not None and len(value) < self.min_length:
            return False
        if self.max_length is not None and len(value) > self.max_length:
            return False
        if self.pattern is None:
            return True
        found = re.fullmatch(self.pattern, value) if self.whole else re.search(self.pattern, value)
        return found is not None

    def json_schema(self) -> dict[str, Any]:
        """The rule as JSON Schema (OpenAPI 3.1): ``type``, ``format``, bounds, ``pattern``."""
        schema: dict[str, Any] = {"type": "string"}
        if self.format is not None:
            schema["format"] = self.format
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = self.json_pattern
        return schema

    @property
    def json_pattern(self) -> str | None:
        """``pattern`` as JSON Schema writes it (anchored when ``whole``)."""
        if self.pattern is None:
            return None
        return f"^{self.pattern}$" if self.whole else self.pattern


@dataclass(frozen=True)
class Integer:
    """An integer input (a query parameter): its range and default."""

    minimum: int
    maximum: int
    default: int | None = None

    @property
    def max_digits(self) -> int:
        """Digits of the largest value: longer input is refused before ``int()`` runs."""
        return len(str(self.maximum))

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "integer",
            "minimum": self.minimum,
            "maximum": self.maximum,
        }
        if self.default is not None:
            schema["default"] = self.default
        return schema


#: Firebase's limit on a uid.
MAX_UID_LENGTH = 128
#: RFC 5321's limit on an email address.
MAX_EMAIL_LENGTH = 254
MAX_CURSOR_LENGTH = 200
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_NAME_LENGTH, MAX_DESCRIPTION_LENGTH = 200, 5000
#: Editors plus viewers on one project (``auth.resources`` declares it as an invariant).
MAX_MEMBERS = 100
#: Roles in one ``PUT /admin/users/{uid}/roles`` body.
MAX_ROLES = 10

#: A Firebase uid. ``is_uid`` adds what JSON Schema does not say: printable, no whitespace.
UID = Text(min_length=1, max_length=MAX_UID_LENGTH)

#: An ID the server generates (Firestore's auto-ID: 20 characters of ``[A-Za-z0-9]``),
#: for projects, audit entries and cursors. Anything else names no document.
DOCUMENT_ID = Text(pattern="[A-Za-z0-9]{20}")
PROJECT_ID = TASK_ID = DOCUMENT_ID

#: An Identity Platform tenant ID (``firebase.tenant``): letters, digits and hyphens, as
#: Identity Platform makes them (``acme-x1y2z``) and the Auth emulator (28 alphanumerics).
#: It names a Firestore path segment (``tenants/{tenant}``), so nothing else is accepted.
TENANT_ID = Text(min_length=1, max_length=64, pattern="[A-Za-z0-9][A-Za-z0-9-]*")

#: An email address as firebase-admin accepts one: exactly one ``@`` with text on both sides.
EMAIL = Text(max_length=MAX_EMAIL_LENGTH, pattern="[^@]+@[^@]+", format="email")

#: A page cursor as ``store.cursors.encode`` writes it (base64url, unpadded).
CURSOR = Text(max_length=MAX_CURSOR_LENGTH, pattern="[A-Za-z0-9_-]*")

#: Items per page.
LIMIT = Integer(minimum=1, maximum=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)

#: An ``Idempotency-Key`` header: visible ASCII characters.
IDEMPOTENCY_KEY = Text(min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LENGTH, pattern="[!-~]+")

#: A project's name, after stripping surrounding whitespace: not only whitespace.
PROJECT_NAME = Text(min_length=1, max_length=MAX_NAME_LENGTH, pattern=r"\S", whole=False)
PROJECT_DESCRIPTION = Text(max_length=MAX_DESCRIPTION_LENGTH)
#: A task's title and notes: the same rules as a project's name and description.
TASK_TITLE = PROJECT_NAME
TASK_NOTES = PROJECT_DESCRIPTION


def is_uid(value: str) -> bool:
    """A uid Firebase could have issued: ``UID``'s bounds, printable, no whitespace.

    U+FFFD stands for bytes that were not UTF-8: not what the client meant.
    """
    return (
        UID.matches(value)
        and value.isprintable()
        and "\ufffd" not in value
        and not any(c.isspace() for c in value)
    )
