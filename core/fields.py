"""One definition per input rule: each field type is declared here once and used by
request validation (handlers), the stored documents' shapes (``core/documents.py``),
the OpenAPI document and the generated ``firestore.rules``."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

#: Server-generated document IDs (projects, tasks): Firestore auto-IDs.
DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9]{20}$"

#: ``pattern``: not only whitespace (a JSON Schema cannot say "after stripping").
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"\S")
]
Description = Annotated[str, StringConstraints(max_length=5000)]
Uid = Annotated[str, StringConstraints(min_length=1, max_length=128)]
DocumentId = Annotated[str, StringConstraints(pattern=DOCUMENT_ID_PATTERN)]
TaskTitle = Name
TaskNotes = Description
#: At most 254 characters (RFC 5321), exactly one ``@`` with text on both sides (what
#: firebase-admin accepts without raising).
MAX_EMAIL_LENGTH = 254
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=MAX_EMAIL_LENGTH, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
]
