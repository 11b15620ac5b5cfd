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
from handlers.http import Function, authenticated, route
from handlers.responses import empty_response, json_response
from handlers.schemas import MemberPut, ProjectCreate, ProjectPatch, TransferBody, project_json
from services import context
from services.project_changes import MemberRole
from services.projects import ProjectService
from store.models import Project


def _service() -> ProjectService:
    return context.project_service()


def _one(project: Project, status: int = 200, **headers: str) -> Response:
    return json_response(project_json(project), status, {"ETag": etag(project.version), **headers})


@authenticated()
def list_projects(request: Request, principal: Principal) -> Response:
    limit, cursor = page_params(request)
    owner_id = request.args.get("ownerId")
    if owner_id is not None:
        require_uid(owner_id, "ownerId")
    page = _service().list(principal, limit=limit, cursor=cursor, owner_id=owner_id)
    return json_response(
        {"items": [project_json(p) for p in page.items], "nextCursor": page.next_cursor}
    )


@authenticated()
def create_project(request: Request, principal: Principal) -> Response:
    body = parse_body(request, ProjectCreate)
    key = idempotency_key(request)
    project, replayed = _service().create(
        principal, name=body.name, description=body.description, idempotency_key=key
    )
    extra = {"Idempotent-Replayed": "true"} if replayed else {}
    return _one(project, 201, Location=f"/projects/{project.id}", **extra)


@authenticated()
def get_project(request: Request, principal: Principal, project_id: str) -> Response:
    return _one(_service().get(principal, project_id))


@authenticated()
def patch_project(request: Request, principal: Principal, project_id: str) -> Response:
    body = parse_body(request, ProjectPatch)
    project = _service().edit(
        principal,
        project_id,
        name=body.name,
        description=body.description,
        if_match=if_match_version(request),
    )
    return _one(project)


@authenticated()
def delete_project(request: Request, principal: Principal, project_id: str) -> Response:
    _service().delete(principal, project_id, if_match=if_match_version(request))
    return empty_response(204)


@authenticated()
def put_member(request: Request, principal: Principal, project_id: str, uid: str) -> Response:
    require_uid(uid, "uid")
    body = parse_body(request, MemberPut)
    project = _service().put_member(
        principal, project_id, uid, MemberRole(body.role), if_match=if_match_version(request)
    )
    return _one(project)


@authenticated()
def delete_member(request: Request, principal: Principal, project_id: str, uid: str) -> Response:
    require_uid(uid, "uid")
    project = _service().remove_member(
        principal, project_id, uid, if_match=if_match_version(request)
    )
    return _one(project)


@authenticated()
def transfer_project(request: Request, principal: Principal, project_id: str) -> Response:
    body = parse_body(request, TransferBody)
    require_uid(body.ownerId, "ownerId")
    project = _service().transfer(
        principal, project_id, body.ownerId, if_match=if_match_version(request)
    )
    return _one(project)


projects = Function(
    "projects",
    [
        route("/projects", get=list_projects, post=create_project),
        route(
            "/projects/<project_id>",
            get=get_project,
            patch=patch_project,
            delete=delete_project,
        ),
        route("/projects/<project_id>/members/<uid>", put=put_member, delete=delete_member),
        route("/projects/<project_id>/transfer", post=transfer_project),
    ],
)
