"""The ``core.fields`` rules as pydantic types, for request bodies (``handlers.schemas``)
and the stored documents' shapes (``core.documents``, from which ``firestore.rules``
takes its key, type and size checks). Kept apart so that ``core.fields`` stays free of
pydantic (the ``me`` function never imports it)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from core import fields


def constrained(rule: fields.Text, *, strip_whitespace: bool = False) -> StringConstraints:
    """A ``core.fields`` rule as pydantic constraints (the JSON Schema says the same)."""
    return StringConstraints(
        strip_whitespace=strip_whitespace or None,
        min_length=rule.min_length,
        max_length=rule.max_length,
        pattern=rule.json_pattern,
    )


#: Stripped first, then: not only whitespace (a JSON Schema cannot say "after stripping").
Name = Annotated[str, constrained(fields.PROJECT_NAME, strip_whitespace=True)]
Description = Annotated[str, constrained(fields.PROJECT_DESCRIPTION)]
TaskTitle = Annotated[str, constrained(fields.TASK_TITLE, strip_whitespace=True)]
TaskNotes = Annotated[str, constrained(fields.TASK_NOTES)]
#: The bounds of a uid; views also apply ``core.fields.is_uid`` (``handlers.bodies.require_uid``).
Uid = Annotated[str, constrained(fields.UID)]
DocumentId = Annotated[str, constrained(fields.DOCUMENT_ID)]
Email = Annotated[str, constrained(fields.EMAIL, strip_whitespace=True)]
