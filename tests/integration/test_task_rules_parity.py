"""The generated ``firestore.rules`` agree with the task rows of the policy table.

Each case seeds (as admin, bypassing rules) a project with the table's members and
one task, then performs the case's read, query or write against the Firestore
emulator's REST API with the actor's real Auth-emulator ID token. Writes send what
the backend would store (``store.tasks.to_document``), with ``createdAt`` and
``updatedAt`` set by the server, as the rules demand ``request.time``. Rules cannot
tell 403 from 404: FORBIDDEN and HIDDEN both expect PERMISSION_DENIED.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from store.models import Task
from store.tasks import to_document
from tests.integration.emulator import (
    TIMEOUT_SECONDS,
    AuthEmulator,
    EmulatorUser,
    FirestoreEmulator,
    encode_fields,
)
from tests.policy_table import ALLOWED, TASK_CASES, TaskActor, TaskCase, TaskOp, task_assignee

SEEDED_AT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
PASSWORD = "task-parity-password-1"
ROLES = {TaskActor.ADMIN: ["admin"], TaskActor.AUDITOR: ["auditor"]}
DENIED = "denied"

Users = dict[TaskActor, EmulatorUser]


@pytest.fixture(scope="module")
def users(auth_emulator: AuthEmulator) -> Users:
    made: Users = {}
    for actor in TaskActor:
        email = f"task-parity-{actor.value}-{uuid.uuid4().hex[:8]}@example.com"
        created = auth_emulator.sign_up(email, PASSWORD)
        auth_emulator.set_email_verified(created.uid, True)
        if actor in ROLES:
            auth_emulator.set_custom_claims(created.uid, {"roles": ROLES[actor]})
        made[actor] = auth_emulator.sign_in(email, PASSWORD)
    return made


@pytest.fixture(autouse=True)
def _wipe_emulators(firestore_emulator: FirestoreEmulator) -> None:
    """Documents go before each case; the module's users stay."""
    firestore_emulator.wipe()


def _new_id() -> str:
    return uuid.uuid4().hex[:20]


@dataclasses.dataclass(frozen=True)
class Seeded:
    project_id: str
    task: Task

    @property
    def task_path(self) -> str:
        return f"projects/{self.project_id}/tasks/{self.task.id}"


def seed(fs: FirestoreEmulator, users: Users, assignee: TaskActor) -> Seeded:
    """The table's project (the removed member is not on it) and one task."""
    viewers = [users[a].uid for a in (TaskActor.VIEWER, TaskActor.ASSIGNEE)]
    owner, editor = users[TaskActor.OWNER].uid, users[TaskActor.EDITOR].uid
    project_id = _new_id()
    fs.set_document(
        f"projects/{project_id}",
        {
            "name": "Parity",
            "description": "",
            "ownerId": owner,
            "editors": [editor],
            "viewers": viewers,
            "members": [owner, editor, *viewers],
            "createdAt": SEEDED_AT,
            "updatedAt": SEEDED_AT,
            "version": 1,
        },
    )
    task = Task(
        id=_new_id(),
        project_id=project_id,
        title="Write the spec",
        notes="",
        done=False,
        assignee_id=users[assignee].uid,
        created_by=editor,
        created_at=SEEDED_AT,
        updated_at=SEEDED_AT,
        version=1,
    )
    fs.set_document(f"projects/{project_id}/tasks/{task.id}", to_document(task))
    return Seeded(project_id, task)


def _name(fs: FirestoreEmulator, path: str) -> str:
    return f"projects/{fs.project_id}/databases/(default)/documents/{path}"


def _outcome(response: requests.Response) -> str:
    if response.ok:
        return ALLOWED
    if response.status_code == 403 and "PERMISSION_DENIED" in response.text:
        return DENIED
    return f"unexpected {response.status_code} {response.text[:200]}"


def _post(fs: FirestoreEmulator, token: str, url: str, body: dict[str, Any]) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    return _outcome(requests.post(url, json=body, headers=headers, timeout=TIMEOUT_SECONDS))


def commit(fs: FirestoreEmulator, token: str, write: dict[str, Any]) -> str:
    return _post(fs, token, f"{fs.documents_url}:commit", {"writes": [write]})


def write_task(
    fs: FirestoreEmulator,
    token: str,
    task: Task,
    *,
    create: bool,
    document: dict[str, Any] | None = None,
) -> str:
    stamped = ["createdAt", "updatedAt"] if create else ["updatedAt"]
    fields = {k: v for k, v in (document or to_document(task)).items() if k not in stamped}
    path = f"projects/{task.project_id}/tasks/{task.id}"
    return commit(
        fs,
        token,
        {
            "update": {"name": _name(fs, path), "fields": encode_fields(fields)},
            "updateTransforms": [
                {"fieldPath": f, "setToServerValue": "REQUEST_TIME"} for f in stamped
            ],
            "currentDocument": {"exists": not create},
        },
    )


def bumped(task: Task, **changes: Any) -> Task:
    return dataclasses.replace(task, **changes, version=task.version + 1)


def perform(
    fs: FirestoreEmulator, users: Users, seeded: Seeded, actor: TaskActor, op: TaskOp
) -> str:
    token = users[actor].id_token
    task = seeded.task
    if op is TaskOp.READ:
        url = f"{fs.documents_url}/{seeded.task_path}"
        response = requests.get(
            url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_SECONDS
        )
        return _outcome(response)
    if op is TaskOp.LIST:
        url = f"{fs.documents_url}/projects/{seeded.project_id}:runQuery"
        query = {"structuredQuery": {"from": [{"collectionId": "tasks"}]}}
        return _post(fs, token, url, query)
    if op is TaskOp.CREATE:
        new = dataclasses.replace(task, id=_new_id(), assignee_id=None, created_by=users[actor].uid)
        return write_task(fs, token, new, create=True)
    if op is TaskOp.DELETE:
        write = {"delete": _name(fs, seeded.task_path), "currentDocument": {"exists": True}}
        return commit(fs, token, write)
    changes = {
        TaskOp.RENAME: {"title": "Renamed"},
        TaskOp.ASSIGN: {"assignee_id": users[TaskActor.EDITOR].uid},
        TaskOp.SET_DONE: {"done": True},
    }[op]
    return write_task(fs, token, bumped(task, **changes), create=False)


@pytest.mark.parametrize("case", TASK_CASES, ids=lambda case: case.id)
def test_generated_rules_match_the_task_table(
    case: TaskCase, users: Users, firestore_emulator: FirestoreEmulator
) -> None:
    fs = firestore_emulator
    seeded = seed(fs, users, task_assignee(case.actor))
    before = fs.get_document(seeded.task_path)
    outcome = perform(fs, users, seeded, case.actor, case.op)
    assert outcome == (ALLOWED if case.outcome == ALLOWED else DENIED)
    if outcome != ALLOWED:
        assert fs.get_document(seeded.task_path) == before


# --- refusals the table cannot express -------------------------------------------------


def test_assignee_cannot_tick_and_rename_in_one_write(
    users: Users, firestore_emulator: FirestoreEmulator
) -> None:
    seeded = seed(firestore_emulator, users, TaskActor.ASSIGNEE)
    token = users[TaskActor.ASSIGNEE].id_token
    both = bumped(seeded.task, done=True, title="Mine")
    assert write_task(firestore_emulator, token, both, create=False) == DENIED
    alone = bumped(seeded.task, done=True)
    assert write_task(firestore_emulator, token, alone, create=False) == ALLOWED


def test_no_task_of_a_deleted_project_is_readable(
    users: Users, firestore_emulator: FirestoreEmulator
) -> None:
    fs = firestore_emulator
    seeded = seed(fs, users, TaskActor.ASSIGNEE)
    fs.request("DELETE", f"projects/{seeded.project_id}")
    for actor in (TaskActor.OWNER, TaskActor.ADMIN):
        assert perform(fs, users, seeded, actor, TaskOp.READ) == DENIED
        assert perform(fs, users, seeded, actor, TaskOp.LIST) == DENIED


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"assignee_id": "not-a-member"}, "assignee_not_member"),
        ({"created_by": "someone-else"}, "created_by_is_immutable"),
        ({"project_id": "Q" * 20}, "project_id_is_immutable"),
        ({"title": " "}, "blank_title"),
        ({"notes": "n" * 5001}, "long_notes"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_editor_cannot_write_what_the_api_refuses(
    changes: dict[str, Any], why: str, users: Users, firestore_emulator: FirestoreEmulator
) -> None:
    seeded = seed(firestore_emulator, users, TaskActor.ASSIGNEE)
    token = users[TaskActor.EDITOR].id_token
    assert (
        write_task(firestore_emulator, token, bumped(seeded.task, **changes), create=False)
        == DENIED
    )


def test_editor_cannot_create_with_an_unknown_field_or_a_done_version(
    users: Users, firestore_emulator: FirestoreEmulator
) -> None:
    fs = firestore_emulator
    seeded = seed(fs, users, TaskActor.ASSIGNEE)
    editor = users[TaskActor.EDITOR]
    new = dataclasses.replace(seeded.task, id=_new_id(), created_by=editor.uid)
    extra = {**to_document(new), "public": True}
    assert write_task(fs, editor.id_token, new, create=True, document=extra) == DENIED
    assert (
        write_task(fs, editor.id_token, dataclasses.replace(new, version=2), create=True) == DENIED
    )
    assert write_task(fs, editor.id_token, new, create=True) == ALLOWED
