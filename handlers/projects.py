"""``/projects``: HTTP in, ``ProjectService`` call, JSON out."""

from __future__ import annotations

from flask import Request, Response

from auth import Principal
from handlers.bodies import (
    etag,
    idempotency_key,
    if_match_version,
    page_params,
    parse_body,
    require_uid,
)
from handlers.endpoints import SIGNED_IN
from handlers.http import Function
from handlers.params import CURSOR, LIMIT, OWNER_ID
from handlers.responses import empty_response, json_response
from handlers.schemas import MemberPut, ProjectCreate, ProjectPatch, TransferBody
from handlers.wire import PROJECT_PAGE, ProjectJson, project_json
from services.project_changes import MemberRole
from services.projects import ProjectService
from store.models import Project

projects = Function("projects", needs=lambda container: container.projects)


def _one(project: Project, status: int = 200, **headers: str) -> Response:
    return json_response(project_json(project), status, {"ETag": etag(project.version), **headers})


@projects.endpoint(
    "GET",
    "/projects",
    operation_id="list_projects",
    summary="Projects the caller owns or shares, newest first; "
    "`ownerId` of others: admin, auditor.",
    access=SIGNED_IN,
    response=PROJECT_PAGE,
    query=(LIMIT, CURSOR, OWNER_ID),
    errors=(400, 403),
)
def list_projects(request: Request, principal: Principal, service: ProjectService) -> Response:
    limit, cursor = page_params(request)
    owner_id = request.args.get("ownerId")
    if owner_id is not None:
        require_uid(owner_id, "ownerId")
    page = service.list(principal, limit=limit, cursor=cursor, owner_id=owner_id)
    return json_response(
        {"items": [project_json(p) for p in page.items], "nextCursor": page.next_cursor}
    )


@projects.endpoint(
    "POST",
    "/projects",
    operation_id="create_project",
    summary="Create a project owned by the caller (verified email).",
    access=SIGNED_IN,
    status=201,
    request=ProjectCreate,
    response=ProjectJson,
    errors=(403, 409, 422),
    idempotent=True,
    etag=True,
    location=True,
)
def create_project(request: Request, principal: Principal, service: ProjectService) -> Response:
    body = parse_body(request, ProjectCreate)
    key = idempotency_key(request)
    project, replayed = service.create(
        principal, name=body.name, description=body.description, idempotency_key=key
    )
    extra = {"Idempotent-Replayed": "true"} if replayed else {}
    return _one(project, 201, Location=f"/projects/{project.id}", **extra)


@projects.endpoint(
    "GET",
    "/projects/<project_id>",
    operation_id="get_project",
    summary="One project (owner, editors, viewers, admin, auditor).",
    access=SIGNED_IN,
    response=ProjectJson,
    errors=(404,),
    etag=True,
)
def get_project(
    request: Request, principal: Principal, service: ProjectService, project_id: str
) -> Response:
    return _one(service.get(principal, project_id))


@projects.endpoint(
    "PATCH",
    "/projects/<project_id>",
    operation_id="patch_project",
    summary="Change name and/or description (owner, editors, admin).",
    access=SIGNED_IN,
    request=ProjectPatch,
    response=ProjectJson,
    errors=(403, 404, 409, 412),
    if_match=True,
    etag=True,
)
def patch_project(
    request: Request, principal: Principal, service: ProjectService, project_id: str
) -> Response:
    body = parse_body(request, ProjectPatch)
    project = service.edit(
        principal,
        project_id,
        name=body.name,
        description=body.description,
        if_match=if_match_version(request),
    )
    return _one(project)


@projects.endpoint(
    "DELETE",
    "/projects/<project_id>",
    operation_id="delete_project",
    summary="Delete a project (owner, admin).",
    access=SIGNED_IN,
    status=204,
    errors=(403, 404, 409, 412),
    if_match=True,
)
def delete_project(
    request: Request, principal: Principal, service: ProjectService, project_id: str
) -> Response:
    service.delete(principal, project_id, if_match=if_match_version(request))
    return empty_response(204)


@projects.endpoint(
    "PUT",
    "/projects/<project_id>/members/<uid>",
    operation_id="put_member",
    summary="Add a member or change their role (owner, admin); at most 100 members.",
    access=SIGNED_IN,
    request=MemberPut,
    response=ProjectJson,
    errors=(403, 404, 409, 412),
    if_match=True,
    etag=True,
)
def put_member(
    request: Request, principal: Principal, service: ProjectService, project_id: str, uid: str
) -> Response:
    require_uid(uid, "uid")
    body = parse_body(request, MemberPut)
    project = service.put_member(
        principal, project_id, uid, MemberRole(body.role), if_match=if_match_version(request)
    )
    return _one(project)


@projects.endpoint(
    "DELETE",
    "/projects/<project_id>/members/<uid>",
    operation_id="delete_member",
    summary="Remove a member (owner, admin, or the member themselves).",
    access=SIGNED_IN,
    response=ProjectJson,
    errors=(400, 403, 404, 409, 412),
    if_match=True,
    etag=True,
)
def delete_member(
    request: Request, principal: Principal, service: ProjectService, project_id: str, uid: str
) -> Response:
    require_uid(uid, "uid")
    project = service.remove_member(principal, project_id, uid, if_match=if_match_version(request))
    return _one(project)


@projects.endpoint(
    "POST",
    "/projects/<project_id>/transfer",
    operation_id="transfer_project",
    summary="Transfer ownership (owner, admin); the old owner becomes an editor.",
    access=SIGNED_IN,
    request=TransferBody,
    response=ProjectJson,
    errors=(403, 404, 409, 412),
    if_match=True,
    etag=True,
)
def transfer_project(
    request: Request, principal: Principal, service: ProjectService, project_id: str
) -> Response:
    body = parse_body(request, TransferBody)
    require_uid(body.ownerId, "ownerId")
    project = service.transfer(
        principal, project_id, body.ownerId, if_match=if_match_version(request)
    )
    return _one(project)
