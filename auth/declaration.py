"""The shape of a resource declaration, and the Python decision that evaluates one.

A ``Resource`` says, as data, where a document lives, how a caller relates to it
(``relations``), who may do each action (``grants``), what must always hold of it
(``invariants``) and how "what may I see" becomes one query (``list_by``).
``auth/resources.py`` declares the resources; three enforcers are derived from it:

- the Python decision (``decide``, ``check_write`` below), used by the services;
- the list query's constraint (``ListBy``), applied by the store;
- ``firestore.rules``, written by ``python -m tools.rules``.

Deny by default: an action is allowed only when its grant names the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from auth.conditions import CALLER, Compare, Env, Expr, In, Stored
from auth.principal import Principal, Role
from core.errors import (
    AnonymousNotAllowed,
    ApiError,
    EmailNotVerified,
    InternalError,
    NotFound,
    PermissionDenied,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

#: Fields every write sets (``version`` + 1, ``updatedAt`` = server time); a grant's
#: ``fields`` never needs to list them.
BOOKKEEPING_FIELDS = frozenset({"updatedAt", "version"})


class Op(StrEnum):
    """The Firestore operation an action is, as security rules see it."""

    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class Grant:
    """Who may do one action: any of ``relations``, any of ``roles``, or (create) anyone
    signed in; then ``when`` must hold, and an update may change only ``fields``."""

    op: Op
    relations: tuple[str, ...] = ()
    roles: tuple[Role, ...] = ()
    #: Any signed-in caller (creating a top-level document of one's own).
    signed_in: bool = False
    #: Updates: the only fields this action may change (besides the bookkeeping ones).
    fields: tuple[str, ...] | None = None
    #: A condition on the caller, the stored and the proposed document.
    when: Expr | None = None
    #: Writes pass the write gate (``check_write_gate``: a verified identity, no guest);
    #: leaving does not.
    verified: bool = True
    #: One line on why, rendered into ``firestore.rules`` as a comment.
    why: str = ""


@dataclass(frozen=True)
class Invariant:
    """A condition every stored state satisfies, and the error a write breaking it gets."""

    condition: Expr
    error: type[ApiError] = InternalError
    message: str | None = None
    #: The field the client should fix (``details`` of a 400), if any.
    field: str | None = None
    why: str = ""


@dataclass(frozen=True)
class ListBy:
    """How "what may I list" becomes one indexed query.

    Either a relation of the form ``uid in field`` / ``field == uid`` (the query filters
    on it), or ``parent=True``: a nested collection listed under one parent whose
    read access is checked once (the rules judge it from the path).
    """

    relation: str | None = None
    parent: bool = False


@dataclass(frozen=True)
class QueryFilter:
    """A Firestore filter: ``FieldFilter(field, op, uid)``."""

    field: str
    op: str


@dataclass(frozen=True)
class Resource:
    """One kind of document and its access rules (see the module docstring)."""

    #: Collection name, and the resource's name in logs and the rules.
    collection: str
    #: The path variable of the document ID (``projectId``).
    id_var: str
    #: The stored document's fields and their types (a pydantic model), imported only
    #: when needed: the ``me`` function never loads pydantic.
    document: Callable[[], type[BaseModel]]
    relations: Mapping[str, Expr]
    grants: Mapping[str, Grant]
    list_by: ListBy
    invariants: tuple[Invariant, ...] = ()
    parent: Resource | None = None
    #: The action whose refusal hides the document (404 instead of 403).
    read_action: str = "read"
    #: Fields a client may never send (server-managed), beyond the bookkeeping ones.
    server_fields: tuple[str, ...] = field(default=())

    @property
    def path(self) -> str:
        """``projects/{projectId}/tasks/{taskId}``."""
        own = f"{self.collection}/{{{self.id_var}}}"
        return f"{self.parent.path}/{own}" if self.parent else own

    def grant(self, action: str) -> Grant:
        try:
            return self.grants[action]
        except KeyError:
            raise KeyError(f"{self.collection} declares no action {action!r}") from None

    def list_filter(self) -> QueryFilter | None:
        """The list query's filter, derived from the ``list_by`` relation."""
        if self.list_by.relation is None:
            return None
        return query_filter(self.relations[self.list_by.relation])


def query_filter(relation: Expr) -> QueryFilter:
    """The Firestore filter equivalent to a relation (``uid in f`` or ``f == uid``).

    Raises:
        ValueError: the relation is not one a single filter can express.
    """
    if (
        isinstance(relation, In)
        and relation.item == CALLER
        and isinstance(relation.collection, Stored)
    ):
        return QueryFilter(relation.collection.name, "array_contains")
    if isinstance(relation, Compare) and relation.op == "==":
        sides = {relation.left, relation.right}
        stored = [side for side in sides if isinstance(side, Stored)]
        if CALLER in sides and stored:
            return QueryFilter(stored[0].name, "==")
    raise ValueError(f"a list relation must be `uid in field` or `field == uid`, got {relation}")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: The rule that decided, e.g. ``owner``, ``role:admin``, ``signed_in`` or ``deny``.
    rule: str


DENY = Decision(False, "deny")
_ABSENT = object()


def _env(
    principal: Principal,
    *,
    stored: Mapping[str, Any] | None,
    proposed: Mapping[str, Any] | None,
    parent: Mapping[str, Any] | None,
    path: Mapping[str, str] | None,
) -> Env:
    return Env(principal.uid, stored, proposed, parent, path or {})


def decide(
    resource: Resource,
    principal: Principal,
    action: str,
    *,
    stored: Mapping[str, Any] | None = None,
    parent: Mapping[str, Any] | None = None,
    proposed: Mapping[str, Any] | None = None,
    path: Mapping[str, str] | None = None,
) -> Decision:
    """Whether ``principal`` may do ``action``, and by which rule (pure).

    Without ``proposed`` only "who" is decided; with it, also the grant's ``fields``
    and ``when`` (what the write would change), as the rules do. Relations are
    tried before roles so that the log names the narrower reason.
    """
    grant = resource.grant(action)
    env = _env(principal, stored=stored, proposed=proposed, parent=parent, path=path)
    decision = _who(resource, grant, principal, env)
    if not decision.allowed or proposed is None:
        return decision
    if grant.fields is not None and stored is not None:
        allowed = set(grant.fields) | BOOKKEEPING_FIELDS
        if not changed_keys(stored, proposed) <= allowed:
            return Decision(False, "fields")
    if grant.when is not None and not grant.when.holds(env):
        return Decision(False, "when")
    return decision


def _who(resource: Resource, grant: Grant, principal: Principal, env: Env) -> Decision:
    for name in grant.relations:
        if resource.relations[name].holds(env):
            return Decision(True, name)
    granting = sorted(set(grant.roles) & principal.roles)
    if granting:
        return Decision(True, f"role:{granting[0].value}")
    if grant.signed_in:
        return Decision(True, "signed_in")
    return DENY


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str]:
    """The keys added, removed or changed (the rules' ``diff().affectedKeys()``)."""
    keys = set(before) | set(after)
    return {
        key for key in keys if key not in before or key not in after or before[key] != after[key]
    }


def authorize(
    resource: Resource,
    principal: Principal,
    action: str,
    *,
    stored: Mapping[str, Any] | None = None,
    parent: Mapping[str, Any] | None = None,
    proposed: Mapping[str, Any] | None = None,
    path: Mapping[str, str] | None = None,
    require_verified_email: bool,
    allow_anonymous_writes: bool = False,
) -> Decision:
    """Raise unless ``principal`` may do ``action``; return the deciding rule.

    A document (or, for a nested one, a parent) the caller cannot read answers 404,
    as if it did not exist, so that IDs cannot be probed; readable but not allowed
    answers 403. Creating a top-level document needs no readable document. A write
    whose grant is ``verified`` passes the write gate first (``check_write_gate``).

    Raises:
        NotFound: the caller may not read it.
        AnonymousNotAllowed: a gated write by a guest account.
        EmailNotVerified: a gated write by a caller without a verified identity.
        PermissionDenied: readable, but no grant allows ``action``.
    """
    grant = resource.grant(action)
    context = {"stored": stored, "parent": parent, "path": path}
    hides = stored is not None or parent is not None
    if hides and not decide(resource, principal, resource.read_action, **context).allowed:
        raise NotFound()
    if grant.op is not Op.READ and grant.verified:
        check_write_gate(
            principal,
            require_verified_identity=require_verified_email,
            allow_anonymous_writes=allow_anonymous_writes,
        )
    decision = decide(resource, principal, action, proposed=proposed, **context)
    if not decision.allowed:
        raise PermissionDenied()
    return decision


def check_write_gate(
    principal: Principal, *, require_verified_identity: bool, allow_anonymous_writes: bool
) -> None:
    """Whether this caller may change anything at all, before any grant is consulted.

    The one place the rule lives (``isVerified()`` in ``firestore.rules`` is its
    default settings): a guest account writes only if ``ALLOW_ANONYMOUS_WRITES``;
    anyone else needs ``Principal.verified_identity`` (a phone sign-in, or an email
    verified by Firebase or by the federated provider) unless
    ``REQUIRE_VERIFIED_EMAIL`` is false. A guest is governed by its own setting only:
    it has no identity to verify.

    Raises:
        AnonymousNotAllowed: a guest, while anonymous writes are not allowed.
        EmailNotVerified: no verified identity, while one is required.
    """
    if principal.is_anonymous:
        if not allow_anonymous_writes:
            raise AnonymousNotAllowed()
        return
    if require_verified_identity and not principal.verified_identity:
        raise EmailNotVerified()


def check_invariants(
    resource: Resource,
    proposed: Mapping[str, Any],
    *,
    parent: Mapping[str, Any] | None = None,
    path: Mapping[str, str] | None = None,
) -> None:
    """Raise the declared error of the first invariant ``proposed`` breaks."""
    env = Env(None, None, proposed, parent, path or {})
    for invariant in resource.invariants:
        if not invariant.condition.holds(env):
            details = {invariant.field: invariant.why} if invariant.field else None
            raise invariant.error(invariant.message, details=details)


def server_managed_fields(resources: tuple[Resource, ...]) -> frozenset[str]:
    """Fields no client may send: IDs, bookkeeping and each resource's server fields."""
    fields = {"id", "createdAt", *BOOKKEEPING_FIELDS}
    for resource in resources:
        fields.update(resource.server_fields)
    return frozenset(fields)
