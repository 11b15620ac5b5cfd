"""The ``projects/{projectId}/tasks`` subcollections.

A task's access lives on its project (``auth.resources.TASKS``), so every task
operation reads the project with it. Writes are a transaction over both
documents: the caller's access and the assignee's membership are facts of the
project, and the transaction makes the task write fail if the project changed
after it was read (a member removed at that moment cannot write anyway).
Costs (``tests/integration/test_rpc_counts.py``): get 1 RPC (one batchGet of
project and task), list 2 (the project, then one query), writes 3 (begin, one
batchGet, commit): the floor for a write whose invariant spans two documents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from core.errors import Busy, NotFound
from store import cursors
from store import projects as project_store
from store.client import Firestore
from store.errors import translated
from store.ids import is_document_id
from store.models import Page, Project, Task, as_datetime

if TYPE_CHECKING:
    from google.cloud.firestore import CollectionReference, DocumentReference, Transaction

COLLECTION = "tasks"
#: Documents deleted per batch when a project goes (Firestore allows 500 writes per batch).
DELETE_BATCH = 400
CONTENTION_ROUNDS = project_store.CONTENTION_ROUNDS


@dataclass(frozen=True)
class TaskFilter:
    """Optional equality filters of a task list."""

    done: bool | None = None
    assignee_id: str | None = None


#: Given the project and the current task (``None`` when creating), the new task,
#: ``None`` to delete, or an ``ApiError`` to abort without writing. Pure; may be retried.
TaskChange = Callable[[Project, "Task | None"], "Task | None"]


class TaskStore(Protocol):
    """Where tasks live (under their project); what ``TaskService`` needs."""

    def new_id(self, project_id: str) -> str: ...

    def get(self, project_id: str, task_id: str) -> tuple[Project, Task | None]: ...

    def apply(self, project_id: str, task_id: str, change: TaskChange) -> Task | None: ...

    def list_page(
        self, project_id: str, *, where: TaskFilter, limit: int, cursor: str | None
    ) -> Page[Task]: ...

    def delete_all(self, project_id: str) -> int: ...


class FirestoreTasks(TaskStore):
    """``TaskStore`` on the ``projects/{projectId}/tasks`` subcollections."""

    def __init__(self, db: Firestore) -> None:
        self._db = db

    def new_id(self, project_id: str) -> str:
        doc_id: str = _collection(self._db, project_id).document().id
        return doc_id

    def get(self, project_id: str, task_id: str) -> tuple[Project, Task | None]:
        """The project and the task, in one batchGet. Raises: NotFound (no project)."""
        project_ref, task_ref = (
            project_store.ref(self._db, project_id),
            _ref(self._db, project_id, task_id),
        )
        with translated():
            snapshots = {
                s.reference.path: s
                for s in self._db.client.get_all(
                    [project_ref, task_ref], timeout=self._db.timeout()
                )
            }
        project_snapshot = snapshots.get(project_ref.path)
        if project_snapshot is None or not project_snapshot.exists:
            raise NotFound()
        project = project_store.from_document(project_snapshot.id, project_snapshot.to_dict() or {})
        task_snapshot = snapshots.get(task_ref.path)
        if task_snapshot is None or not task_snapshot.exists:
            return project, None
        return project, from_document(project_id, task_snapshot.id, task_snapshot.to_dict() or {})

    def apply(self, project_id: str, task_id: str, change: TaskChange) -> Task | None:
        """Read the project and the task, change the task, write it: one transaction.

        Returns:
            The new task, or ``None`` when the change deleted it.

        Raises:
            NotFound: no such project (nothing written).
            ApiError: whatever ``change`` raised (nothing written).
            Busy: contention outlasted the retries. Unavailable: Firestore unreachable.
        """
        from google.cloud import firestore

        client = self._db.client
        project_ref, task_ref = (
            project_store.ref(self._db, project_id),
            _ref(self._db, project_id, task_id),
        )

        @firestore.transactional
        def run(transaction: Transaction) -> Task | None:
            snapshots = {
                s.reference.path: s
                for s in transaction.get_all([project_ref, task_ref], timeout=self._db.timeout())
            }
            project_snapshot = snapshots.get(project_ref.path)
            if project_snapshot is None or not project_snapshot.exists:
                raise NotFound()
            project = project_store.from_document(project_id, project_snapshot.to_dict() or {})
            task_snapshot = snapshots.get(task_ref.path)
            current = (
                from_document(project_id, task_id, task_snapshot.to_dict() or {})
                if task_snapshot is not None and task_snapshot.exists
                else None
            )
            updated = change(project, current)
            if updated is None:
                if current is not None:
                    transaction.delete(task_ref)
            else:
                transaction.set(task_ref, to_document(updated))
            return updated

        def attempt() -> Task | None:
            with translated():
                result: Task | None = run(client.transaction())
            return result

        # The client library retries a conflicting commit at once, but not a read that
        # lost a lock: under a burst of writes, back off and start over (``change`` is
        # pure). tenacity, as in ``store.documents``: rounds bounded by count.
        retrying = Retrying(
            stop=stop_after_attempt(CONTENTION_ROUNDS),
            wait=wait_random_exponential(multiplier=0.02, max=0.4),
            retry=retry_if_exception_type(Busy),
            reraise=True,
        )
        outcome: Task | None = retrying(attempt)
        return outcome

    def list_page(
        self, project_id: str, *, where: TaskFilter, limit: int, cursor: str | None
    ) -> Page[Task]:
        """One page of a project's tasks, newest first: one query."""
        from google.cloud import firestore
        from google.cloud.firestore import FieldFilter

        query: Any = _collection(self._db, project_id)
        if where.done is not None:
            query = query.where(filter=FieldFilter("done", "==", where.done))
        if where.assignee_id is not None:
            query = query.where(filter=FieldFilter("assigneeId", "==", where.assignee_id))
        descending = firestore.Query.DESCENDING
        ordered = query.order_by("createdAt", direction=descending).order_by(
            "__name__", direction=descending
        )
        if cursor is not None:
            created_at, doc_id = cursors.decode(cursor)
            ordered = ordered.start_after(
                {"createdAt": created_at, "__name__": _ref(self._db, project_id, doc_id)}
            )
        with translated():
            snapshots = list(ordered.limit(limit + 1).stream(timeout=self._db.timeout()))
        found = [from_document(project_id, s.id, s.to_dict() or {}) for s in snapshots]
        return cursors.page(found, limit, lambda task: (task.created_at, task.id))

    def delete_all(self, project_id: str) -> int:
        """Delete every task of a project in bounded batches; returns how many.

        Called after the project itself is gone: from then on no task is readable (the
        API reads the project first; the rules' ``get()`` of the project fails), so a
        crash half-way leaves only unreadable documents, which a later call removes.
        """
        deleted = 0
        collection = _collection(self._db, project_id)
        while True:
            with translated():
                refs = [
                    s.reference
                    for s in collection.limit(DELETE_BATCH)
                    .select([])
                    .stream(timeout=self._db.timeout())
                ]
                if not refs:
                    return deleted
                batch = self._db.client.batch()
                for ref in refs:
                    batch.delete(ref)
                batch.commit(timeout=self._db.timeout())
            deleted += len(refs)


def to_document(task: Task) -> dict[str, Any]:
    return {
        "projectId": task.project_id,
        "title": task.title,
        "notes": task.notes,
        "done": task.done,
        "assigneeId": task.assignee_id,
        "createdBy": task.created_by,
        "createdAt": task.created_at,
        "updatedAt": task.updated_at,
        "version": task.version,
    }


def from_document(project_id: str, doc_id: str, data: dict[str, Any]) -> Task:
    assignee = data.get("assigneeId")
    return Task(
        id=doc_id,
        project_id=project_id,
        title=str(data.get("title", "")),
        notes=str(data.get("notes", "")),
        done=data.get("done") is True,
        assignee_id=assignee if isinstance(assignee, str) else None,
        created_by=str(data.get("createdBy", "")),
        created_at=as_datetime(data["createdAt"]),
        updated_at=as_datetime(data["updatedAt"]),
        version=int(data.get("version", 1)),
    )


def _collection(db: Firestore, project_id: str) -> CollectionReference:
    collection: CollectionReference = project_store.ref(db, project_id).collection(COLLECTION)
    return collection


def _ref(db: Firestore, project_id: str, task_id: str) -> DocumentReference:
    if not is_document_id(task_id):
        raise NotFound()
    return _collection(db, project_id).document(task_id)
