"""A tiny condition language that Python and Firestore security rules both run.

A resource's relations ("the caller is the owner"), its transition conditions
("leaving removes only yourself") and its invariants ("``members`` is owner +
editors + viewers") are written once as ``Expr`` trees. ``evaluate`` runs a tree
in Python (the backend's decision); ``rules`` renders the same tree as a Firestore
rules expression (``tools/rules.py`` writes ``firestore.rules`` from them). The
two renderings are kept equal by ``tests/policy_table.py``, run against both.

Hand-written: no library compiles one expression to both Python and the rules
language, and the vocabulary needed here is a dozen nodes.

Semantics follow the rules language: a missing field or a type error makes the
whole condition fail (``Undefined``), and a failed condition denies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Undefined(Exception):
    """The expression reads a missing field or mixes types: the rules would error (deny)."""


@dataclass(frozen=True)
class Env:
    """What an expression can see, in Python. Mirrors the rules' ``request``/``resource``."""

    #: The caller's uid (``request.auth.uid``); ``None`` when signed out.
    uid: str | None = None
    #: The stored document's fields (``resource.data``).
    stored: Mapping[str, Any] | None = None
    #: The proposed document's fields (``request.resource.data``).
    proposed: Mapping[str, Any] | None = None
    #: The parent document's fields (a nested resource's ``get()`` of its parent).
    parent: Mapping[str, Any] | None = None
    #: Path variables, e.g. ``{"projectId": "..."}``.
    path: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RulesScope:
    """How the rules spell the document being judged and its parent."""

    #: The rules variable that holds the parent document's data (a function parameter).
    parent: str = "parent"


class Expr:
    """A node. Subclasses implement ``evaluate`` and ``rules``; helpers build trees."""

    def evaluate(self, env: Env) -> Any:
        raise NotImplementedError

    def rules(self, scope: RulesScope) -> str:
        raise NotImplementedError

    def holds(self, env: Env) -> bool:
        """True only when the expression evaluates to ``True`` (errors deny)."""
        try:
            return self.evaluate(env) is True
        except Undefined:
            return False

    # Builders, so declarations read like the rule they state.
    def eq(self, other: Expr | object) -> Expr:
        return Compare("==", self, lit(other))

    def ne(self, other: Expr | object) -> Expr:
        return Compare("!=", self, lit(other))

    def le(self, other: Expr | object) -> Expr:
        return Compare("<=", self, lit(other))

    def is_in(self, collection: Expr) -> Expr:
        return In(self, collection)

    def size(self) -> Expr:
        return Size(self)

    def concat(self, *others: Expr) -> Expr:
        return Concat((self, *others))

    def remove_all(self, items: Expr) -> Expr:
        return RemoveAll(self, items)


def lit(value: Expr | object) -> Expr:
    return value if isinstance(value, Expr) else Literal(value)


@dataclass(frozen=True)
class Literal(Expr):
    value: object

    def evaluate(self, env: Env) -> Any:
        return self.value

    def rules(self, scope: RulesScope) -> str:
        return _rules_literal(self.value)


def _rules_literal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # JSON string escapes are valid in the rules language; single quotes read better.
        return "'" + json.dumps(value)[1:-1].replace("'", "\\'").replace('\\"', '"') + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_rules_literal(v) for v in value) + "]"
    raise TypeError(f"expected a literal rules can spell, got {type(value).__name__}")


@dataclass(frozen=True)
class CallerUid(Expr):
    def evaluate(self, env: Env) -> Any:
        if env.uid is None:
            raise Undefined("signed out")
        return env.uid

    def rules(self, scope: RulesScope) -> str:
        return "request.auth.uid"


def _field(data: Mapping[str, Any] | None, name: str, where: str) -> Any:
    if data is None or name not in data:
        raise Undefined(f"{where}.{name}")
    return data[name]


@dataclass(frozen=True)
class Stored(Expr):
    """A field of the document as stored (before the write)."""

    name: str

    def evaluate(self, env: Env) -> Any:
        return _field(env.stored, self.name, "resource.data")

    def rules(self, scope: RulesScope) -> str:
        return f"resource.data.{self.name}"


@dataclass(frozen=True)
class Proposed(Expr):
    """A field of the document as the write would leave it."""

    name: str

    def evaluate(self, env: Env) -> Any:
        return _field(env.proposed, self.name, "request.resource.data")

    def rules(self, scope: RulesScope) -> str:
        return f"request.resource.data.{self.name}"


@dataclass(frozen=True)
class Parent(Expr):
    """A field of the parent document (nested resources only)."""

    name: str

    def evaluate(self, env: Env) -> Any:
        return _field(env.parent, self.name, "parent")

    def rules(self, scope: RulesScope) -> str:
        return f"{scope.parent}.{self.name}"


@dataclass(frozen=True)
class PathVar(Expr):
    """A variable of the document's path, e.g. ``projectId``."""

    name: str

    def evaluate(self, env: Env) -> Any:
        if self.name not in env.path:
            raise Undefined(self.name)
        return env.path[self.name]

    def rules(self, scope: RulesScope) -> str:
        return self.name


_PY_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<=": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class Compare(Expr):
    op: str
    left: Expr
    right: Expr

    def evaluate(self, env: Env) -> Any:
        left, right = self.left.evaluate(env), self.right.evaluate(env)
        if self.op == "<=" and not (_is_int(left) and _is_int(right)):
            raise Undefined("<= needs two integers")
        return _PY_COMPARE[self.op](_comparable(left), _comparable(right))

    def rules(self, scope: RulesScope) -> str:
        return f"{self.left.rules(scope)} {self.op} {self.right.rules(scope)}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _comparable(value: object) -> object:
    # Rules compare lists by value; Python tuples and lists must compare equal too.
    return list(value) if isinstance(value, tuple) else value


def _as_list(value: object) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise Undefined(f"expected a list, got {type(value).__name__}")
    return list(value)


@dataclass(frozen=True)
class In(Expr):
    item: Expr
    collection: Expr

    def evaluate(self, env: Env) -> Any:
        return self.item.evaluate(env) in _as_list(self.collection.evaluate(env))

    def rules(self, scope: RulesScope) -> str:
        return f"{self.item.rules(scope)} in {self.collection.rules(scope)}"


@dataclass(frozen=True)
class Size(Expr):
    of: Expr

    def evaluate(self, env: Env) -> Any:
        return len(_as_list(self.of.evaluate(env)))

    def rules(self, scope: RulesScope) -> str:
        return f"{self.of.rules(scope)}.size()"


@dataclass(frozen=True)
class Concat(Expr):
    lists: tuple[Expr, ...]

    def evaluate(self, env: Env) -> Any:
        return [item for part in self.lists for item in _as_list(part.evaluate(env))]

    def rules(self, scope: RulesScope) -> str:
        first, *rest = self.lists
        return first.rules(scope) + "".join(f".concat({part.rules(scope)})" for part in rest)


@dataclass(frozen=True)
class RemoveAll(Expr):
    of: Expr
    items: Expr

    def evaluate(self, env: Env) -> Any:
        drop = _as_list(self.items.evaluate(env))
        return [item for item in _as_list(self.of.evaluate(env)) if item not in drop]

    def rules(self, scope: RulesScope) -> str:
        return f"{self.of.rules(scope)}.removeAll({self.items.rules(scope)})"


@dataclass(frozen=True)
class ListOf(Expr):
    """A list built from expressions, e.g. ``[request.auth.uid]``."""

    items: tuple[Expr, ...]

    def evaluate(self, env: Env) -> Any:
        return [item.evaluate(env) for item in self.items]

    def rules(self, scope: RulesScope) -> str:
        return "[" + ", ".join(item.rules(scope) for item in self.items) + "]"


@dataclass(frozen=True)
class Distinct(Expr):
    """No item twice."""

    of: Expr

    def evaluate(self, env: Env) -> Any:
        items = _as_list(self.of.evaluate(env))
        return len(set(items)) == len(items)

    def rules(self, scope: RulesScope) -> str:
        rendered = self.of.rules(scope)
        return f"{rendered}.toSet().size() == {rendered}.size()"


@dataclass(frozen=True)
class All(Expr):
    parts: tuple[Expr, ...]

    def evaluate(self, env: Env) -> Any:
        return _combine(self.parts, env, decisive=False)

    def rules(self, scope: RulesScope) -> str:
        return " && ".join(_grouped(part, scope) for part in self.parts)


@dataclass(frozen=True)
class AnyOf(Expr):
    parts: tuple[Expr, ...]

    def evaluate(self, env: Env) -> Any:
        return _combine(self.parts, env, decisive=True)

    def rules(self, scope: RulesScope) -> str:
        return " || ".join(_grouped(part, scope) for part in self.parts)


def _combine(parts: tuple[Expr, ...], env: Env, *, decisive: bool) -> bool:
    """``&&`` (decisive=False) and ``||`` (decisive=True) as the rules language has them:
    a branch that decides wins even if another branch errors; otherwise an error stands."""
    error: Undefined | None = None
    for part in parts:
        try:
            value = part.evaluate(env)
        except Undefined as undefined:
            error = undefined
            continue
        if not isinstance(value, bool):
            error = Undefined(f"expected a boolean, got {type(value).__name__}")
        elif value is decisive:
            return decisive
    if error is not None:
        raise error
    return not decisive


def _grouped(part: Expr, scope: RulesScope) -> str:
    rendered = part.rules(scope)
    return f"({rendered})" if isinstance(part, All | AnyOf) else rendered


CALLER = CallerUid()


def stored(name: str) -> Stored:
    return Stored(name)


def proposed(name: str) -> Proposed:
    return Proposed(name)


def parent(name: str) -> Parent:
    return Parent(name)


def path_var(name: str) -> PathVar:
    return PathVar(name)


def all_of(*parts: Expr) -> Expr:
    return All(tuple(parts))


def any_of(*parts: Expr) -> Expr:
    return AnyOf(tuple(parts))


def list_of(*items: Expr | object) -> Expr:
    return ListOf(tuple(lit(item) for item in items))


def distinct(of: Expr) -> Expr:
    return Distinct(of)
