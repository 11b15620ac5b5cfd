"""The ownership table as data: one row per (actor, action), with the expected outcome.

The same rows drive three tests: the pure policy (tests/unit/test_policy.py), the
HTTP API on the emulators (tests/integration/test_projects_table.py) and
``firestore.rules`` on the Firestore emulator (tests/integration/test_rules_parity.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Actor(StrEnum):
    """Who acts, relative to one project owned by OWNER with one EDITOR and one VIEWER."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"
    STRANGER = "stranger"  # signed in, no relation, no role
    ADMIN = "admin"  # role admin, no relation
    AUDITOR = "auditor"  # role auditor, no relation


class Op(StrEnum):
    CREATE = "create"  # create a new project of one's own
    READ = "read"
    UPDATE = "update"  # change name/description
    ADD_MEMBER = "add_member"  # add a new viewer (someone else)
    REMOVE_OTHER = "remove_other"  # remove the project's viewer (someone else)
    LEAVE = "leave"  # remove oneself from the members (only meaningful for non-owners)
    TRANSFER = "transfer"  # make the editor the owner
    DELETE = "delete"


#: The HTTP answer when the op is refused: 404 when the actor cannot even read.
ALLOWED, FORBIDDEN, HIDDEN = "allowed", "forbidden", "hidden"


@dataclass(frozen=True)
class Case:
    actor: Actor
    op: Op
    outcome: str

    @property
    def id(self) -> str:
        verb = {ALLOWED: "can", FORBIDDEN: "cannot", HIDDEN: "cannot_see_to"}[self.outcome]
        return f"{self.actor.value}_{verb}_{self.op.value}"


_A, _F, _H = ALLOWED, FORBIDDEN, HIDDEN
#: Not applicable: an owner, admin or auditor is not a member, so cannot "leave";
#: those cases are specified separately (tests/unit/test_policy.py).
_N = None
# fmt: off
_TABLE: dict[Op, dict[Actor, str | None]] = {
    #                 owner  editor viewer stranger admin auditor
    Op.CREATE:       dict(zip(Actor, (_A, _A, _A, _A, _A, _A), strict=True)),
    Op.READ:         dict(zip(Actor, (_A, _A, _A, _H, _A, _A), strict=True)),
    Op.UPDATE:       dict(zip(Actor, (_A, _A, _F, _H, _A, _F), strict=True)),
    Op.ADD_MEMBER:   dict(zip(Actor, (_A, _F, _F, _H, _A, _F), strict=True)),
    Op.REMOVE_OTHER: dict(zip(Actor, (_A, _F, _F, _H, _A, _F), strict=True)),
    Op.LEAVE:        dict(zip(Actor, (_N, _A, _A, _H, _N, _N), strict=True)),
    Op.TRANSFER:     dict(zip(Actor, (_A, _F, _F, _H, _A, _F), strict=True)),
    Op.DELETE:       dict(zip(Actor, (_A, _F, _F, _H, _A, _F), strict=True)),
}
# fmt: on

CASES: list[Case] = [
    Case(actor, op, outcome)
    for op, row in _TABLE.items()
    for actor, outcome in row.items()
    if outcome is not None
]


def removal_target(actor: Actor) -> Actor:
    """Whom REMOVE_OTHER removes: the viewer, or the editor when the viewer acts
    (removing yourself is LEAVE, a different rule)."""
    return Actor.EDITOR if actor is Actor.VIEWER else Actor.VIEWER


# --- tasks: projects/{projectId}/tasks/{taskId}, access read from the project ---------


class TaskActor(StrEnum):
    """Who acts on a task of a project owned by OWNER with one EDITOR and two viewers,
    one of whom (ASSIGNEE) the task is assigned to."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"  # a viewer the task is not assigned to
    STRANGER = "stranger"
    ADMIN = "admin"
    AUDITOR = "auditor"
    ASSIGNEE = "assignee_viewer"  # a viewer the task is assigned to
    #: The task's assignee, since removed from the project: access goes with membership.
    REMOVED_ASSIGNEE = "removed_member"


class TaskOp(StrEnum):
    READ = "read_task"
    LIST = "list_tasks"
    CREATE = "create_task"
    RENAME = "rename_task"  # change the title (a field only editors may change)
    ASSIGN = "assign_task"  # change assigneeId (to the editor)
    SET_DONE = "set_done"  # change done, and nothing else
    DELETE = "delete_task"


@dataclass(frozen=True)
class TaskCase:
    actor: TaskActor
    op: TaskOp
    outcome: str

    @property
    def id(self) -> str:
        verb = {ALLOWED: "can", FORBIDDEN: "cannot", HIDDEN: "cannot_see_to"}[self.outcome]
        return f"{self.actor.value}_{verb}_{self.op.value}"


# fmt: off
_TASK_TABLE: dict[TaskOp, tuple[str, ...]] = {
    #                owner editor viewer stranger admin auditor assignee removed
    TaskOp.READ:     (_A,   _A,    _A,    _H,      _A,   _A,     _A,      _H),
    TaskOp.LIST:     (_A,   _A,    _A,    _H,      _A,   _A,     _A,      _H),
    TaskOp.CREATE:   (_A,   _A,    _F,    _H,      _A,   _F,     _F,      _H),
    TaskOp.RENAME:   (_A,   _A,    _F,    _H,      _A,   _F,     _F,      _H),
    TaskOp.ASSIGN:   (_A,   _A,    _F,    _H,      _A,   _F,     _F,      _H),
    TaskOp.SET_DONE: (_A,   _A,    _F,    _H,      _A,   _F,     _A,      _H),
    TaskOp.DELETE:   (_A,   _A,    _F,    _H,      _A,   _F,     _F,      _H),
}
# fmt: on

TASK_CASES: list[TaskCase] = [
    TaskCase(actor, op, outcome)
    for op, row in _TASK_TABLE.items()
    for actor, outcome in zip(TaskActor, row, strict=True)
]


def task_assignee(actor: TaskActor) -> TaskActor:
    """Whom the seeded task is assigned to: the removed member in that member's own
    cases (they were assigned, then removed), the assignee viewer otherwise."""
    return TaskActor.REMOVED_ASSIGNEE if actor is TaskActor.REMOVED_ASSIGNEE else TaskActor.ASSIGNEE
