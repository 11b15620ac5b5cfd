"""``/projects``: HTTP in, ``ProjectService`` call, JSON out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from flask import Request, Response

from auth import PROJECTS, Principal, Profile
from handlers.bodies import (
    etag,
    idempotency_key,
    if_match_version,
    page_params,
    parse_body,
    require_uid,
)
from handlers.endpoints import SIGNED_IN, action
from handlers.http import Function
from handlers.params import CURSOR, LIMIT, OWNER_ID
from handlers.responses import empty_response, json_response
from handlers.schemas import MemberByEmail, MemberPut, ProjectCreate, ProjectPatch, TransferBody
from handlers.wire import PROJECT_PAGE, ProjectJson, project_json
from services.project_changes import MemberRole
from services.projects import ProjectService
from services.tasks import TaskService
from store.models import Project

#: ``UserDirectory.profiles``: member uids to emails and display names (bounded cache).
Profiles = Callable[..., Mapping[str, Profile]]
#: Member profiles looked up per list page; beyond it ``people`` carries uids only.
MAX_PROFILES_PER_PAGE = 500


@dataclass(frozen=True)
class ProjectApi:
    """What the ``projects`` function's views use (its tasks' views too: a task's
    routes live under its project's)."""

    projects: ProjectService
    tasks: TaskService
    profiles: Profiles

    def one(self, project: Project, status: int = 200, **headers: str) -> Response:
        """A project with its members named, and its ``ETag``."""
        named = self.profiles(project.members, limit=len(project.members))
        body = project_json(project, named)
        return json_response(body, status, {"ETag": etag(project.version), **headers})

    def named(self, page: Sequence[Project]) -> Mapping[str, Profile]:
        uids = [uid for project in page for uid in project.members]
        return self.profiles(uids, limit=MAX_PROFILES_PER_PAGE)


projects = Function(
    "projects",
    needs=lambda container: ProjectApi(
        container.projects, container.tasks, container.directory.profiles
    ),
)


@projects.endpoint(
    "GET",
    "/projects",
    operation_id="list_projects",
    summary="Projects the caller owns or shares, newest first; "
    "`ownerId` of others: admin, auditor.",
    access=SIGNED_IN,
    policy=action(PROJECTS, "read"),
    response=PROJECT_PAGE,
    query=(LIMIT, CURSOR, OWNER_ID),
    errors=(400, 403),
)
def list_projects(request: Request, principal: Principal, api: ProjectApi) -> Response:
    limit, cursor = page_params(request)
    owner_id = request.args.get("ownerId")
    if owner_id is not None:
        require_uid(owner_id, "ownerId")
    page = api.projects.list(principal, limit=limit, cursor=cursor, owner_id=owner_id)
    named = api.named(page.items)
    return json_response(
        {"items": [project_json(p, named) for p in page.items], "nextCursor": page.next_cursor}
    )


@projects.endpoint(
    "POST",
    "/projects",
    operation_id="create_project",
    summary="Create a project owned by the caller (verified email).",
    access=SIGNED_IN,
    policy=action(PROJECTS, "create"),
    status=201,
    request=ProjectCreate,
    response=ProjectJson,
    errors=(403, 409, 422),
    idempotent=True,
    etag=True,
    location=True,
)
def create_project(request: Request, principal: Principal, api: ProjectApi) -> Response:
    body = parse_body(request, ProjectCreate)
    key = idempotency_key(request)
    project, replayed = api.projects.create(
        principal, name=body.name, description=body.description, idempotency_key=key
    )
    extra = {"Idempotent-Replayed": "true"} if replayed else {}
    return api.one(project, 201, Location=f"/projects/{project.id}", **extra)


@projects.endpoint(
    "GET",
    "/projects/<project_id>",
    operation_id="get_project",
    summary="One project (owner, editors, viewers, admin, auditor).",
    access=SIGNED_IN,
    policy=action(PROJECTS, "read"),
    response=ProjectJson,
    errors=(404,),
    etag=True,
)
def get_project(
    request: Request, principal: Principal, api: ProjectApi, project_id: str
) -> Response:
    return api.one(api.projects.get(principal, project_id))


@projects.endpoint(
    "PATCH",
    "/projects/<project_id>",
    operation_id="patch_project",
    summary="Change name and/or description (owner, editors, admin).",
    access=SIGNED_IN,
    policy=action(PROJECTS, "update"),
    request=ProjectPatch,
    response=ProjectJson,
    errors=(403, 404, 409, 412),
    if_match=True,
    etag=True,
)
def patch_project(
    request: Request, principal: Principal, api: ProjectApi, project_id: str
) -> Response:
    body = parse_body(request, ProjectPatch)
    project = api.projects.edit(
        principal,
        project_id,
        name=body.name,
        description=body.description,
        if_match=if_match_version(request),
    )
    return api.one(project)


@projects.endpoint(
    "DELETE",
    "/projects/<project_id>",
    operation_id="delete_project",
    summary="Delete a project (owner, admin).",
    access=SIGNED_IN,
    policy=action(PROJECTS, "delete"),
    status=204,
    errors=(403, 404, 409, 412),
    if_match=True,
)
def delete_project(
    request: Request, principal: Principal, api: ProjectApi, project_id: str
) -> Response:
    api.projects.delete(principal, project_id, if_match=if_match_version(request))
    return empty_response(204)


@projects.endpoint(
    "PUT",
    "/projects/<project_id>/members/<uid>",
    operation_id="put_member",
    summary="Add a member or change their role (owner, admin); at most 100 members.",
    access=SIGNED_IN,
    policy=action(PROJECTS, "manage_members"),
    request=MemberPut,
    response=ProjectJson,
    errors=(403, 404, 409, 412),
    if_match=True,
    etag=True,
)
def put_member(
    request: Request, principal: Principal, api: ProjectApi, project_id: str, uid: str
) -> Response:
    require_uid(uid, "uid")
    body = parse_body(request, MemberPut)
    project = api.projects.put_member(
        principal, project_id, uid, MemberRole(body.role), if_match=if_match_version(request)
    )
    return api.one(project)


@projects.endpoint(
    "POST",
    "/projects/<project_id>/members",
    operation_id="share_by_email",
    summary="Add a member by email, or change their role (owner, admin); unknown email: 404.",
    access=SIGNED_IN,
    policy=action(PROJECTS, "manage_members"),
    request=MemberByEmail,
    response=ProjectJson,
    errors=(403, 404, 409, 412),
    if_match=True,
    etag=True,
)
def share_by_email(
    request: Request, principal: Principal, api: ProjectApi, project_id: str
) -> Response:
    body = parse_body(request, MemberByEmail)
    project = api.projects.share_by_email(
        principal, project_id, body.email, MemberRole(body.role), if_match=if_match_version(request)
    )
    return api.one(project)


@projects.endpoint(
    "DELETE",
    "/projects/<project_id>/members/<uid>",
    operation_id="delete_member",
    summary="Remove a member (owner, admin, or the member themselves).",
    access=SIGNED_IN,
    policy=action(PROJECTS, "manage_members", "leave"),
    response=ProjectJson,
    errors=(400, 403, 404, 409, 412),
    if_match=True,
    etag=True,
)
def delete_member(
    request: Request, principal: Principal, api: ProjectApi, project_id: str, uid: str
) -> Response:
    require_uid(uid, "uid")
    project = api.projects.remove_member(
        principal, project_id, uid, if_match=if_match_version(request)
    )
    return api.one(project)


@projects.endpoint(
    "POST",
    "/projects/<project_id>/transfer",
    operation_id="transfer_project",
    summary="Transfer ownership (owner, admin); the old owner becomes an editor.",
    access=SIGNED_IN,
    policy=action(PROJECTS, "transfer"),
    request=TransferBody,
    response=ProjectJson,
    errors=(403, 404, 409, 412),
    if_match=True,
    etag=True,
)
def transfer_project(
    request: Request, principal: Principal, api: ProjectApi, project_id: str
) -> Response:
    body = parse_body(request, TransferBody)
    require_uid(body.ownerId, "ownerId")
    project = api.projects.transfer(
        principal, project_id, body.ownerId, if_match=if_match_version(request)
    )
    return api.one(project)


# The task endpoints live under /projects/<project_id>/tasks: they join this function.
import handlers.tasks  # noqa: E402, F401
