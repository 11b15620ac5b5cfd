"""``/projects/{id}/tasks``: HTTP in, ``TaskService`` call, JSON out."""

from __future__ import annotations

from flask import Request, Response

from auth.principal import Principal
from core.errors import ValidationFailed
from handlers.bodies import etag, if_match_version, page_params, parse_body, require_uid
from handlers.http import authenticated
from handlers.responses import empty_response, json_response
from handlers.schemas import TaskCreate, TaskPatch, task_json
from services import context
from services.tasks import TaskService
from store.models import Task
from store.tasks import TaskFilter


def _service() -> TaskService:
    return TaskService(require_verified_email=context.settings().require_verified_email)


def _one(task: Task, status: int = 200, **headers: str) -> Response:
    return json_response(task_json(task), status, {"ETag": etag(task.version), **headers})


def _done_filter(request: Request) -> bool | None:
    raw = request.args.get("done")
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise ValidationFailed(details={"done": "must be true or false"})
    return raw == "true"


@authenticated()
def list_tasks(request: Request, principal: Principal, project_id: str) -> Response:
    limit, cursor = page_params(request)
    assignee = request.args.get("assigneeId")
    if assignee is not None:
        require_uid(assignee, "assigneeId")
    where = TaskFilter(done=_done_filter(request), assignee_id=assignee)
    page = _service().list(principal, project_id, where=where, limit=limit, cursor=cursor)
    return json_response(
        {"items": [task_json(t) for t in page.items], "nextCursor": page.next_cursor}
    )


@authenticated()
def create_task(request: Request, principal: Principal, project_id: str) -> Response:
    body = parse_body(request, TaskCreate)
    if body.assigneeId is not None:
        require_uid(body.assigneeId, "assigneeId")
    task = _service().create(
        principal,
        project_id,
        title=body.title,
        notes=body.notes,
        done=body.done,
        assignee_id=body.assigneeId,
    )
    return _one(task, 201, Location=f"/projects/{project_id}/tasks/{task.id}")


@authenticated()
def get_task(request: Request, principal: Principal, project_id: str, task_id: str) -> Response:
    return _one(_service().get(principal, project_id, task_id))


@authenticated()
def patch_task(request: Request, principal: Principal, project_id: str, task_id: str) -> Response:
    body = parse_body(request, TaskPatch)
    if body.assigneeId is not None:
        require_uid(body.assigneeId, "assigneeId")
    task = _service().edit(
        principal, project_id, task_id, body.changes(), if_match=if_match_version(request)
    )
    return _one(task)


@authenticated()
def delete_task(request: Request, principal: Principal, project_id: str, task_id: str) -> Response:
    _service().delete(principal, project_id, task_id, if_match=if_match_version(request))
    return empty_response(204)
