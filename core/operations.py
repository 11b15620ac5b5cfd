"""The operation ids of the API, as the endpoints declare them (``handlers``).

Settings name operations (``STEP_UP_OPERATIONS``) and are checked at start-up, before
any handler module is imported (``me`` must stay light, and ``core`` imports nothing
above it); so the ids are listed here, and ``tests/unit/test_step_up.py`` fails while
this list and the declared endpoints differ.
"""

from __future__ import annotations

from typing import Final

OPERATION_IDS: Final = frozenset(
    {
        "get_me",
        "revoke_sessions",
        "list_projects",
        "create_project",
        "get_project",
        "patch_project",
        "delete_project",
        "put_member",
        "share_by_email",
        "delete_member",
        "transfer_project",
        "list_tasks",
        "create_task",
        "get_task",
        "patch_task",
        "delete_task",
        "find_user",
        "get_roles",
        "put_roles",
        "list_audit",
        "create_session",
        "end_session",
    }
)
