"""The contract of an endpoint, declared at its view with ``Function.endpoint``: method,
path, operationId, summary, who may call it, request and response bodies, the statuses
it may answer, the headers it reads and sets.

Everything else is generated from these declarations: the route table
(``handlers.FUNCTIONS``), the OpenAPI document (``python -m tools.openapi``) and the
API Gateway config (``python -m tools.gateway``). No pydantic or Flask here: ``/me``
imports this module and stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.fields import Integer, Text

if TYPE_CHECKING:
    from pydantic import BaseModel

    from auth import Resource, Role

#: A view: ``(request, [principal,] **path parameters) -> Response``.
View = Callable[..., Any]

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Access:
    """Who may call an endpoint, as far as the HTTP shell checks it (deny by default:
    every endpoint names one). What a verified caller may then do is the policy's
    (``auth.policy``), applied by the services.

    Attributes:
        name: the level, as documents show it.
        authenticated: a verified caller is required (401 otherwise); the view receives
            the ``Principal``.
        privileged: check the caller against a fresh user record every time (revocation,
            disabled, current roles) instead of the cached one.
        bearer_only: only a bearer token counts, never the session cookie.
    """

    name: str
    authenticated: bool = True
    privileged: bool = False
    bearer_only: bool = False


#: Anyone; no credential is read.
PUBLIC = Access("public", authenticated=False)
#: A verified caller, with a bearer token or the session cookie.
SIGNED_IN = Access("signed_in")
#: A verified caller with a bearer token (a session cookie does not count).
SIGNED_IN_WITH_BEARER = Access("signed_in_with_bearer", bearer_only=True)
#: A verified caller checked against a fresh user record every time (the ``/admin``
#: routes). The shell checks no role: the services apply the policy (admin; auditor for
#: the audit log), as they do for every other endpoint.
PRIVILEGED = Access("privileged", privileged=True)


class PolicyKind(StrEnum):
    """What kind of rule decides an endpoint (see ``Policy``)."""

    #: Actions of a resource declared in ``auth.resources`` (``projects.read``).
    ACTION = "action"
    #: A role rule of ``auth.policy`` (``roles:admin``): the caller's roles decide.
    ROLES = "roles"
    #: The caller acts on themselves only (``/me``, their own sessions).
    SELF = "self"
    #: No policy: a public endpoint (its access must be ``PUBLIC`` too).
    PUBLIC = "public"


@dataclass(frozen=True)
class Policy:
    """Which rule decides what a verified caller may do at an endpoint: the second half
    of an endpoint's declaration (``access`` says how it authenticates). Every endpoint
    names one (``tests/unit/test_route_lint.py`` fails for a route without), and the
    OpenAPI document shows it as ``x-policy``.

    Build one with ``action``, ``roles``, ``SELF`` or ``NO_POLICY_PUBLIC``.

    Attributes:
        kind: the kind of rule.
        rules: what decides, each named as the documents show it (``projects.read``,
            ``admin``); several when the request decides which applies (removing a
            member is ``manage_members``, removing yourself ``leave``).
    """

    kind: PolicyKind
    rules: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``projects.manage_members|projects.leave``, ``roles:admin,auditor``, ``self``,
        ``public``."""
        if self.kind is PolicyKind.ACTION:
            return "|".join(self.rules)
        if self.kind is PolicyKind.ROLES:
            return "roles:" + ",".join(self.rules)
        return self.kind.value


def action(resource: Resource, *names: str) -> Policy:
    """The policy of ``resource``'s actions ``names`` (``auth.resources``): checked now,
    so an endpoint cannot name an action its resource does not grant.

    Raises:
        KeyError: the resource declares no such action.
        ValueError: no action named.
    """
    if not names:
        raise ValueError(f"expected at least one action of {resource.collection}, got none")
    for name in names:
        resource.grant(name)
    return Policy(PolicyKind.ACTION, tuple(f"{resource.collection}.{name}" for name in names))


def roles(*allowed: Role) -> Policy:
    """A role rule: callers with one of ``allowed`` (``auth.policy``'s ``may_...``).

    Raises:
        ValueError: no role named.
    """
    if not allowed:
        raise ValueError("expected at least one role, got none")
    return Policy(PolicyKind.ROLES, tuple(sorted(role.value for role in allowed)))


#: The caller acts on themselves only (their identity, their sessions).
SELF = Policy(PolicyKind.SELF)
#: Deliberately no policy: an endpoint anyone may call (with ``access=PUBLIC``).
NO_POLICY_PUBLIC = Policy(PolicyKind.PUBLIC)


def declaration_problems(endpoint: Endpoint) -> list[str]:
    """What is missing or inconsistent in how ``endpoint`` declares who may call it:
    an access level and a deciding policy, a public policy exactly on public access.
    Empty when it is fully declared (``Function.endpoint`` refuses anything else, and
    the route lint checks every served route with it)."""
    where = f"{getattr(endpoint, 'method', '?')} {getattr(endpoint, 'path', '?')}"
    access = getattr(endpoint, "access", None)
    policy = getattr(endpoint, "policy", None)
    problems: list[str] = []
    if not isinstance(access, Access):
        problems.append(f"{where}: expected access=SIGNED_IN|PRIVILEGED|..., got {access!r}")
    if not isinstance(policy, Policy):
        problems.append(
            f"{where}: expected policy=action(...)|roles(...)|SELF|NO_POLICY_PUBLIC, got {policy!r}"
        )
    if isinstance(access, Access) and isinstance(policy, Policy):
        public_policy = policy.kind is PolicyKind.PUBLIC
        if public_policy != (not access.authenticated):
            problems.append(
                f"{where}: policy {policy.name!r} does not fit access {access.name!r} "
                "(NO_POLICY_PUBLIC goes with access=PUBLIC, and only with it)"
            )
        if policy.kind in (PolicyKind.ACTION, PolicyKind.ROLES) and not policy.rules:
            problems.append(f"{where}: policy {policy.kind.value!r} names no rule")
    return problems


@dataclass(frozen=True)
class Param:
    """A path or query parameter: its name, its rule (``core.fields``) and what it means."""

    name: str
    rule: Text | Integer
    description: str
    required: bool = False


@dataclass(frozen=True)
class Paged:
    """A page of a list: ``{"items": [...], "nextCursor": str | null}``.

    Attributes:
        name: the page's name in the OpenAPI document.
        item: the TypedDict of one item.
    """

    name: str
    item: type[Any]


@dataclass(frozen=True)
class Endpoint:
    """One method of one path, and the view that serves it (see the module docstring).

    Attributes:
        function: the deployed function that serves it.
        method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE`` (``HEAD`` and
            ``OPTIONS`` are answered by the shell).
        path: a werkzeug pattern (``/projects/<project_id>``); each placeholder is a
            parameter of ``handlers.params.PATH_PARAMETERS``.
        operation_id: unique across the API (OpenAPI, API Gateway).
        summary: one line for the documents.
        access: how it authenticates (who may call it at all).
        policy: which rule decides what the caller may do there.
        view: the function that serves it.
        status: the success status.
        response: the success body: a TypedDict, a ``Paged``, or ``None`` (no body).
        request: the pydantic model the view validates the JSON body with, if any.
        errors: error statuses it may answer besides those of its access, of a body,
            and 500/503 (``tools.openapi`` adds those).
        query: its query parameters.
        if_match: it honours ``If-Match``.
        idempotent: it honours ``Idempotency-Key`` (and may answer ``Idempotent-Replayed``).
        etag: its success response carries ``ETag``.
        location: its success response carries ``Location``.
        cookie: its success response sets or clears the session cookie.
    """

    function: str
    method: str
    path: str
    operation_id: str
    summary: str
    access: Access
    policy: Policy
    view: View
    status: int = 200
    response: type[Any] | Paged | None = None
    request: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    query: tuple[Param, ...] = ()
    if_match: bool = False
    idempotent: bool = False
    etag: bool = False
    location: bool = False
    cookie: bool = False
