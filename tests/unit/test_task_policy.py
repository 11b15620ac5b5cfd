"""The task rows of the policy table, against the declaration's Python decision (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from auth import declaration
from auth.principal import Principal, Role
from auth.resources import TASKS
from core.errors import AssigneeNotMember, EmailNotVerified, NotFound, PermissionDenied
from services.tasks import action_for
from tests.policy_table import (
    ALLOWED,
    FORBIDDEN,
    HIDDEN,
    TASK_CASES,
    TaskActor,
    TaskCase,
    TaskOp,
    task_assignee,
)

PROJECT_ID = "P" * 20
T0 = datetime(2024, 1, 2, tzinfo=UTC)
UIDS = {actor: f"u-{actor.value}" for actor in TaskActor}
ROLES = {TaskActor.ADMIN: {Role.ADMIN}, TaskActor.AUDITOR: {Role.AUDITOR}}
PROJECT: dict[str, Any] = {
    "ownerId": UIDS[TaskActor.OWNER],
    "editors": [UIDS[TaskActor.EDITOR]],
    "viewers": [UIDS[TaskActor.VIEWER], UIDS[TaskActor.ASSIGNEE]],
}
PROJECT["members"] = [PROJECT["ownerId"], *PROJECT["editors"], *PROJECT["viewers"]]


def principal(actor: TaskActor, *, verified: bool = True) -> Principal:
    return Principal(UIDS[actor], email_verified=verified, roles=frozenset(ROLES.get(actor, ())))


def task(assignee: TaskActor | None, **changes: Any) -> dict[str, Any]:
    document = {
        "projectId": PROJECT_ID,
        "title": "Write the spec",
        "notes": "",
        "done": False,
        "assigneeId": UIDS[assignee] if assignee else None,
        "createdBy": UIDS[TaskActor.EDITOR],
        "createdAt": T0,
        "updatedAt": T0,
        "version": 1,
    }
    return {**document, **changes}


def bumped(stored: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**stored, **changes, "version": stored["version"] + 1, "updatedAt": datetime.now(UTC)}


def outcome_of(actor: TaskActor, op: TaskOp, *, verified: bool = True) -> str:
    who = principal(actor, verified=verified)
    stored = task(task_assignee(actor))
    context: dict[str, Any] = {"parent": PROJECT, "path": {"projectId": PROJECT_ID}}
    changes = {
        TaskOp.RENAME: {"title": "Renamed"},
        TaskOp.ASSIGN: {"assigneeId": UIDS[TaskActor.EDITOR]},
        TaskOp.SET_DONE: {"done": True},
    }
    try:
        if op in (TaskOp.READ, TaskOp.DELETE):
            action = "read" if op is TaskOp.READ else "delete"
            declaration.authorize(
                TASKS, who, action, stored=stored, require_verified_email=True, **context
            )
        elif op is TaskOp.LIST:
            declaration.authorize(TASKS, who, "read", require_verified_email=True, **context)
        elif op is TaskOp.CREATE:
            new = task(None, createdBy=who.uid)
            declaration.authorize(
                TASKS, who, "create", proposed=new, require_verified_email=True, **context
            )
        else:
            patch = changes[op]
            declaration.authorize(
                TASKS,
                who,
                action_for(patch),
                stored=stored,
                proposed=bumped(stored, **patch),
                require_verified_email=True,
                **context,
            )
    except NotFound:
        return HIDDEN
    except PermissionDenied:
        return FORBIDDEN
    return ALLOWED


@pytest.mark.parametrize("case", TASK_CASES, ids=lambda case: case.id)
def test_task_table(case: TaskCase) -> None:
    assert outcome_of(case.actor, case.op) == case.outcome


@pytest.mark.parametrize(
    ("patch", "action"),
    [
        ({"done": True}, "set_done"),
        ({"done": True, "title": "x"}, "update"),
        ({"title": "x"}, "update"),
        ({"assigneeId": None}, "update"),
    ],
    ids=["done_alone_is_set_done", "done_and_title", "title", "unassign"],
)
def test_ticking_alone_is_its_own_action(patch: dict[str, Any], action: str) -> None:
    assert action_for(patch) == action


def test_assignee_viewer_may_set_done_but_not_title_in_the_same_write() -> None:
    """A write that sets done and anything else is an update: the assignee may not."""
    who = principal(TaskActor.ASSIGNEE)
    stored = task(TaskActor.ASSIGNEE)
    proposed = bumped(stored, done=True, title="Mine")
    decision = declaration.decide(
        TASKS, who, "set_done", stored=stored, parent=PROJECT, proposed=proposed
    )
    assert decision == declaration.Decision(False, "fields")


def test_removed_member_loses_access_to_every_task_at_once() -> None:
    """Access is read from the project: removing the member is enough."""
    who = principal(TaskActor.ASSIGNEE)
    stored = task(TaskActor.ASSIGNEE)
    before = declaration.decide(TASKS, who, "set_done", stored=stored, parent=PROJECT)
    removed = {
        **PROJECT,
        "viewers": [UIDS[TaskActor.VIEWER]],
        "members": [p for p in PROJECT["members"] if p != who.uid],
    }
    after = declaration.decide(TASKS, who, "set_done", stored=stored, parent=removed)
    assert (before.allowed, after.allowed) == (True, False)


def test_unverified_editor_may_read_but_not_write() -> None:
    assert outcome_of(TaskActor.EDITOR, TaskOp.READ, verified=False) == ALLOWED
    stored = task(None)
    with pytest.raises(EmailNotVerified):
        declaration.authorize(
            TASKS,
            principal(TaskActor.EDITOR, verified=False),
            "update",
            stored=stored,
            parent=PROJECT,
            proposed=bumped(stored, title="Renamed"),
            require_verified_email=True,
        )


@pytest.mark.parametrize(
    ("assignee", "keeps"),
    [(None, True), (UIDS[TaskActor.VIEWER], True), (UIDS[TaskActor.OWNER], True), ("u-x", False)],
    ids=["unassigned", "viewer", "owner", "not_a_member"],
)
def test_assignee_must_be_a_member(assignee: str | None, keeps: bool) -> None:
    proposed = task(None, assigneeId=assignee)
    if keeps:
        declaration.check_invariants(TASKS, proposed, parent=PROJECT)
    else:
        with pytest.raises(AssigneeNotMember) as refused:
            declaration.check_invariants(TASKS, proposed, parent=PROJECT)
        assert refused.value.details == {
            "assigneeId": "must be a member of the project (owner, editor or viewer)"
        }


def test_a_task_cannot_be_created_for_another_creator_or_project() -> None:
    who = principal(TaskActor.EDITOR)
    context: dict[str, Any] = {"parent": PROJECT, "path": {"projectId": PROJECT_ID}}
    forged = [task(None, createdBy=UIDS[TaskActor.OWNER]), task(None, projectId="Q" * 20)]
    for document in forged:
        decision = declaration.decide(TASKS, who, "create", proposed=document, **context)
        assert decision == declaration.Decision(False, "when")
