"""``/projects/{id}/tasks``: HTTP in, ``TaskService`` call, JSON out.

The task endpoints belong to the ``projects`` function (their paths are under a
project's), so they are declared on it and receive its ``ProjectApi``.
"""

from __future__ import annotations

from flask import Request, Response

from auth import TASKS, Principal
from core.errors import ValidationFailed
from handlers.bodies import etag, if_match_version, page_params, parse_body, require_uid
from handlers.endpoints import SIGNED_IN, action
from handlers.params import ASSIGNEE_ID, CURSOR, DONE, LIMIT
from handlers.projects import ProjectApi, projects
from handlers.responses import empty_response, json_response
from handlers.schemas import TaskCreate, TaskPatch
from handlers.wire import TASK_PAGE, TaskJson, task_json
from store.models import Task
from store.tasks import TaskFilter


def _one(task: Task, status: int = 200, **headers: str) -> Response:
    return json_response(task_json(task), status, {"ETag": etag(task.version), **headers})


def _done_filter(request: Request) -> bool | None:
    raw = request.args.get("done")
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise ValidationFailed(details={"done": "must be true or false"})
    return raw == "true"


@projects.endpoint(
    "GET",
    "/projects/<project_id>/tasks",
    operation_id="list_tasks",
    summary="A project's tasks, newest first (whoever may read the project); "
    "filters `done`, `assigneeId`.",
    access=SIGNED_IN,
    policy=action(TASKS, "read"),
    response=TASK_PAGE,
    query=(LIMIT, CURSOR, DONE, ASSIGNEE_ID),
    errors=(400, 404),
)
def list_tasks(
    request: Request, principal: Principal, api: ProjectApi, project_id: str
) -> Response:
    limit, cursor = page_params(request)
    assignee = request.args.get("assigneeId")
    if assignee is not None:
        require_uid(assignee, "assigneeId")
    where = TaskFilter(done=_done_filter(request), assignee_id=assignee)
    page = api.tasks.list(principal, project_id, where=where, limit=limit, cursor=cursor)
    return json_response(
        {"items": [task_json(t) for t in page.items], "nextCursor": page.next_cursor}
    )


@projects.endpoint(
    "POST",
    "/projects/<project_id>/tasks",
    operation_id="create_task",
    summary="Create a task in a project (owner, editors, admin); the assignee must be a member.",
    access=SIGNED_IN,
    policy=action(TASKS, "create"),
    status=201,
    request=TaskCreate,
    response=TaskJson,
    errors=(403, 404, 409),
    etag=True,
    location=True,
)
def create_task(
    request: Request, principal: Principal, api: ProjectApi, project_id: str
) -> Response:
    body = parse_body(request, TaskCreate)
    if body.assigneeId is not None:
        require_uid(body.assigneeId, "assigneeId")
    task = api.tasks.create(
        principal,
        project_id,
        title=body.title,
        notes=body.notes,
        done=body.done,
        assignee_id=body.assigneeId,
    )
    return _one(task, 201, Location=f"/projects/{project_id}/tasks/{task.id}")


@projects.endpoint(
    "GET",
    "/projects/<project_id>/tasks/<task_id>",
    operation_id="get_task",
    summary="One task (whoever may read the project).",
    access=SIGNED_IN,
    policy=action(TASKS, "read"),
    response=TaskJson,
    errors=(404,),
    etag=True,
)
def get_task(
    request: Request, principal: Principal, api: ProjectApi, project_id: str, task_id: str
) -> Response:
    return _one(api.tasks.get(principal, project_id, task_id))


@projects.endpoint(
    "PATCH",
    "/projects/<project_id>/tasks/<task_id>",
    operation_id="patch_task",
    summary="Change a task (owner, editors, admin); its assignee may change `done` alone.",
    access=SIGNED_IN,
    policy=action(TASKS, "update", "set_done"),
    request=TaskPatch,
    response=TaskJson,
    errors=(403, 404, 409, 412),
    if_match=True,
    etag=True,
)
def patch_task(
    request: Request, principal: Principal, api: ProjectApi, project_id: str, task_id: str
) -> Response:
    body = parse_body(request, TaskPatch)
    if body.assigneeId is not None:
        require_uid(body.assigneeId, "assigneeId")
    task = api.tasks.edit(
        principal, project_id, task_id, body.changes(), if_match=if_match_version(request)
    )
    return _one(task)


@projects.endpoint(
    "DELETE",
    "/projects/<project_id>/tasks/<task_id>",
    operation_id="delete_task",
    summary="Delete a task (owner, editors, admin).",
    access=SIGNED_IN,
    policy=action(TASKS, "delete"),
    status=204,
    errors=(403, 404, 409, 412),
    if_match=True,
)
def delete_task(
    request: Request, principal: Principal, api: ProjectApi, project_id: str, task_id: str
) -> Response:
    api.tasks.delete(principal, project_id, task_id, if_match=if_match_version(request))
    return empty_response(204)
