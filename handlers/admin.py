"""``/admin``: user lookup, role assignment, audit log. Every call is privileged:
the caller's token is checked against a fresh user record."""

from __future__ import annotations

from flask import Request, Response

from auth import Principal, UserRecord
from core import fields
from core.errors import ValidationFailed
from handlers.bodies import page_params, parse_body, require_uid
from handlers.http import Function, authenticated, request_id, route
from handlers.responses import json_response
from handlers.schemas import RolesPut, audit_json
from services import context
from services.roles import RoleService


def _service() -> RoleService:
    return context.role_service()


def _roles_json(record: UserRecord) -> dict[str, object]:
    return {"uid": record.uid, "roles": sorted(role.value for role in record.roles)}


@authenticated(privileged=True)
def find_user(request: Request, principal: Principal) -> Response:
    email = (request.args.get("email") or "").strip()
    if not fields.EMAIL.matches(email):
        raise ValidationFailed(details={"email": "must be an email address"})
    record = _service().find_user(principal, email)
    body = {**_roles_json(record), "email": record.email, "disabled": record.disabled}
    return json_response(body)


@authenticated(privileged=True)
def get_roles(request: Request, principal: Principal, uid: str) -> Response:
    require_uid(uid, "uid")
    return json_response(_roles_json(_service().get_roles(principal, uid)))


@authenticated(privileged=True)
def put_roles(request: Request, principal: Principal, uid: str) -> Response:
    require_uid(uid, "uid")
    body = parse_body(request, RolesPut)
    change = _service().set_roles(principal, uid, body.role_set(), request_id=request_id(request))
    return json_response(
        {
            "uid": change.uid,
            "roles": sorted(role.value for role in change.after),
            "sessionsRevoked": change.sessions_revoked,
        }
    )


@authenticated(privileged=True)
def list_audit(request: Request, principal: Principal) -> Response:
    limit, cursor = page_params(request)
    page = _service().audit_log(principal, limit=limit, cursor=cursor)
    return json_response(
        {"items": [audit_json(entry) for entry in page.items], "nextCursor": page.next_cursor}
    )


admin = Function(
    "admin",
    [
        route("/admin/users", get=find_user),
        route("/admin/users/<uid>/roles", get=get_roles, put=put_roles),
        route("/admin/audit", get=list_audit),
    ],
)
