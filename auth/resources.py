"""Who may do what to each kind of document: the one declaration per resource.

Read a resource's block top to bottom: its relations (how a caller relates to a
document), its grants (action -> who, which fields, under which condition) and its
invariants. The services decide with it (``auth.declaration``), the store lists
with its ``list_by``, and ``python -m tools.rules > firestore.rules`` writes the
security rules from it. Anything not granted here is denied.

projects
| action          | allowed                                                    |
|-----------------|------------------------------------------------------------|
| read, list      | owner, editors, viewers, admin, auditor                    |
| create          | any signed-in user, as the owner of a project with no members |
| update          | name/description: owner, editors, admin                    |
| manage_members  | owner, admin                                               |
| leave           | an editor or viewer removing only themselves (no verified identity needed) |
| transfer        | owner, admin (the old owner stays on as an editor)         |
| delete          | owner, admin                                               |

tasks (``projects/{projectId}/tasks/{taskId}``: access comes from the project, read
at request time, never copied onto the task)
| action          | allowed                                                    |
|-----------------|------------------------------------------------------------|
| read, list      | whoever may read the project                               |
| create, update, delete | owner, editors, admin                               |
| set_done        | as above, and the task's assignee while a member of the project |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.conditions import (
    CALLER,
    all_of,
    any_of,
    distinct,
    list_of,
    parent,
    path_var,
    proposed,
    stored,
)
from auth.declaration import Grant, Invariant, ListBy, Op, Resource
from auth.principal import Role
from core.errors import AssigneeNotMember, TooManyMembers

if TYPE_CHECKING:
    from pydantic import BaseModel

from core.fields import MAX_MEMBERS

ADMIN, AUDITOR = Role.ADMIN, Role.AUDITOR


def _project_document() -> type[BaseModel]:
    from core.documents import ProjectDocument

    return ProjectDocument


def _task_document() -> type[BaseModel]:
    from core.documents import TaskDocument

    return TaskDocument


PROJECTS = Resource(
    collection="projects",
    id_var="projectId",
    document=_project_document,
    relations={
        "owner": stored("ownerId").eq(CALLER),
        "editor": CALLER.is_in(stored("editors")),
        "viewer": CALLER.is_in(stored("viewers")),
        "member": CALLER.is_in(stored("members")),
    },
    grants={
        "read": Grant(Op.READ, ("owner", "editor", "viewer"), (ADMIN, AUDITOR)),
        "create": Grant(
            Op.CREATE,
            signed_in=True,
            when=all_of(
                proposed("ownerId").eq(CALLER),
                proposed("editors").eq([]),
                proposed("viewers").eq([]),
            ),
            why="a new project belongs to its creator and has no other members yet",
        ),
        "update": Grant(Op.UPDATE, ("owner", "editor"), (ADMIN,), fields=("name", "description")),
        "manage_members": Grant(
            Op.UPDATE, ("owner",), (ADMIN,), fields=("editors", "viewers", "members")
        ),
        "leave": Grant(
            Op.UPDATE,
            ("editor", "viewer"),
            fields=("editors", "viewers", "members"),
            when=all_of(
                proposed("editors").eq(stored("editors").remove_all(list_of(CALLER))),
                proposed("viewers").eq(stored("viewers").remove_all(list_of(CALLER))),
            ),
            verified=False,
            why="a member takes only themselves off; consent was never asked to add them",
        ),
        "transfer": Grant(
            Op.UPDATE,
            ("owner",),
            (ADMIN,),
            fields=("ownerId", "editors", "viewers", "members"),
            when=all_of(
                proposed("ownerId").ne(stored("ownerId")),
                stored("ownerId").is_in(proposed("editors")),
            ),
            why="the previous owner stays on as an editor",
        ),
        "delete": Grant(Op.DELETE, ("owner",), (ADMIN,)),
    },
    list_by=ListBy(relation="member"),
    invariants=(
        Invariant(
            proposed("members").eq(
                list_of(proposed("ownerId")).concat(proposed("editors"), proposed("viewers"))
            ),
            why="members is derived: owner, then editors, then viewers",
        ),
        Invariant(distinct(proposed("members")), why="nobody holds two places"),
        Invariant(
            proposed("editors").concat(proposed("viewers")).size().le(MAX_MEMBERS),
            error=TooManyMembers,
            message=f"A project has at most {MAX_MEMBERS} members.",
            why="bounds the document and every rules evaluation",
        ),
    ),
    server_fields=("ownerId", "editors", "viewers", "members", "createdAt"),
)


TASKS = Resource(
    collection="tasks",
    id_var="taskId",
    parent=PROJECTS,
    document=_task_document,
    relations={
        "owner": parent("ownerId").eq(CALLER),
        "editor": CALLER.is_in(parent("editors")),
        "viewer": CALLER.is_in(parent("viewers")),
        "assignee": all_of(stored("assigneeId").eq(CALLER), CALLER.is_in(parent("members"))),
    },
    grants={
        "read": Grant(Op.READ, ("owner", "editor", "viewer"), (ADMIN, AUDITOR)),
        "create": Grant(
            Op.CREATE,
            ("owner", "editor"),
            (ADMIN,),
            when=all_of(
                proposed("createdBy").eq(CALLER),
                proposed("projectId").eq(path_var("projectId")),
            ),
            why="a task names its creator and the project it lives in",
        ),
        "update": Grant(
            Op.UPDATE,
            ("owner", "editor"),
            (ADMIN,),
            fields=("title", "notes", "assigneeId", "done"),
        ),
        "set_done": Grant(
            Op.UPDATE,
            ("owner", "editor", "assignee"),
            (ADMIN,),
            fields=("done",),
            why="the assignee (a viewer too) may tick their task, and change nothing else",
        ),
        "delete": Grant(Op.DELETE, ("owner", "editor"), (ADMIN,)),
    },
    list_by=ListBy(parent=True),
    invariants=(
        Invariant(
            any_of(
                proposed("assigneeId").eq(None),
                proposed("assigneeId").is_in(parent("members")),
            ),
            error=AssigneeNotMember,
            field="assigneeId",
            why="must be a member of the project (owner, editor or viewer)",
        ),
    ),
    server_fields=("projectId", "createdBy", "createdAt"),
)

#: Every declared resource, parents before children (the rules generator's order).
RESOURCES = (PROJECTS, TASKS)
