"""Path and query parameters: each a rule of ``core.fields`` and what it means here.

Views validate them (``handlers.bodies``), endpoints declare them (``query=``), and
``tools.openapi`` documents them. A path placeholder (``<project_id>``) names an entry
of ``PATH_PARAMETERS``.
"""

from __future__ import annotations

from collections.abc import Mapping

from core import fields
from handlers.endpoints import Param

# --- path ----------------------------------------------------------------------------

PROJECT_ID = Param(
    "project_id",
    fields.PROJECT_ID,
    "A project ID as the server generates them (a Firestore auto-ID). "
    "Anything else is 404 without a Firestore read.",
)
TASK_ID = Param(
    "task_id",
    fields.TASK_ID,
    "A task ID as the server generates them (a Firestore auto-ID). "
    "Anything else is 404 without a Firestore read.",
)
UID = Param("uid", fields.UID, "A Firebase uid: 1 to 128 printable characters without spaces.")

#: Path parameters by the name routes give them.
PATH_PARAMETERS: Mapping[str, Param] = {param.name: param for param in (PROJECT_ID, TASK_ID, UID)}

# --- query ---------------------------------------------------------------------------

LIMIT = Param("limit", fields.LIMIT, "Page size.")
CURSOR = Param("cursor", fields.CURSOR, "The `nextCursor` of the previous page (opaque).")
OWNER_ID = Param(
    "ownerId", fields.UID, "List the projects this uid owns (others' need admin or auditor)."
)
EMAIL = Param("email", fields.EMAIL, "The email address of the user to find.", required=True)
DONE = Param(
    "done", fields.Text(pattern="true|false"), "Only done (`true`) or open (`false`) tasks."
)
ASSIGNEE_ID = Param("assigneeId", fields.UID, "Only tasks assigned to this uid.")
