"""``/admin``: user lookup, role assignment, audit log. Every call is privileged:
the caller's token is checked against a fresh user record."""

from __future__ import annotations

from flask import Request, Response

from auth import Principal, Role, UserRecord
from core import fields
from core.errors import ValidationFailed
from handlers.bodies import page_params, parse_body, require_uid
from handlers.endpoints import PRIVILEGED, roles
from handlers.http import Function, request_id
from handlers.params import CURSOR, EMAIL, LIMIT
from handlers.responses import json_response
from handlers.schemas import RolesPut
from handlers.wire import AUDIT_PAGE, RoleChangeJson, RolesJson, UserJson, audit_json
from services.roles import RoleService

admin = Function("admin", needs=lambda container: container.roles)


def _roles_json(record: UserRecord) -> RolesJson:
    return {"uid": record.uid, "roles": sorted(role.value for role in record.roles)}


@admin.endpoint(
    "GET",
    "/admin/users",
    operation_id="find_user",
    summary="Find a user by email (admin).",
    access=PRIVILEGED,
    policy=roles(Role.ADMIN),
    response=UserJson,
    query=(EMAIL,),
    errors=(400, 403, 404),
)
def find_user(request: Request, principal: Principal, service: RoleService) -> Response:
    email = (request.args.get("email") or "").strip()
    if not fields.EMAIL.matches(email):
        raise ValidationFailed(details={"email": "must be an email address"})
    record = service.find_user(principal, email)
    body: UserJson = {**_roles_json(record), "email": record.email, "disabled": record.disabled}
    return json_response(body)


@admin.endpoint(
    "GET",
    "/admin/users/<uid>/roles",
    operation_id="get_roles",
    summary="A user's roles (admin).",
    access=PRIVILEGED,
    policy=roles(Role.ADMIN),
    response=RolesJson,
    errors=(400, 403, 404),
)
def get_roles(request: Request, principal: Principal, service: RoleService, uid: str) -> Response:
    require_uid(uid, "uid")
    return json_response(_roles_json(service.get_roles(principal, uid)))


@admin.endpoint(
    "PUT",
    "/admin/users/<uid>/roles",
    operation_id="put_roles",
    summary="Replace a user's roles, keeping their other claims (admin); audited.",
    access=PRIVILEGED,
    policy=roles(Role.ADMIN),
    request=RolesPut,
    response=RoleChangeJson,
    errors=(403, 404, 409),
)
def put_roles(request: Request, principal: Principal, service: RoleService, uid: str) -> Response:
    require_uid(uid, "uid")
    body = parse_body(request, RolesPut)
    change = service.set_roles(principal, uid, body.role_set(), request_id=request_id(request))
    reply: RoleChangeJson = {
        "uid": change.uid,
        "roles": sorted(role.value for role in change.after),
        "sessionsRevoked": change.sessions_revoked,
    }
    return json_response(reply)


@admin.endpoint(
    "GET",
    "/admin/audit",
    operation_id="list_audit",
    summary="The audit log, newest first (admin, auditor).",
    access=PRIVILEGED,
    policy=roles(Role.ADMIN, Role.AUDITOR),
    response=AUDIT_PAGE,
    query=(LIMIT, CURSOR),
    errors=(400, 403),
)
def list_audit(request: Request, principal: Principal, service: RoleService) -> Response:
    limit, cursor = page_params(request)
    page = service.audit_log(principal, limit=limit, cursor=cursor)
    return json_response(
        {"items": [audit_json(entry) for entry in page.items], "nextCursor": page.next_cursor}
    )
