"""Every route, REST or dispatched (``local``; callables through the endpoint they run),
declares how it authenticates and which policy decides it, or is explicitly public
(``tools.route_lint``). The tests below it show the lint fails for a route without."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from flask import Request, Response

import handlers
from auth import PROJECTS, Role
from handlers.endpoints import (
    NO_POLICY_PUBLIC,
    PRIVILEGED,
    PUBLIC,
    SELF,
    SIGNED_IN,
    Endpoint,
    action,
    roles,
)
from handlers.http import Function, Route
from tools import route_lint


def _view(request: Request, *args: object) -> Response:
    return Response()


def _declared() -> Function[None]:
    function = Function("things", needs=lambda _: None)
    function.endpoint(
        "GET", "/things", operation_id="list_things", summary="", access=SIGNED_IN, policy=SELF
    )(_view)
    return function


def test_every_route_of_the_backend_is_declared() -> None:
    """The lint over the real functions, entry points, functions-framework apps and
    source: no problem at all."""
    assert route_lint.lint() == []


def test_every_routed_method_resolves_to_a_declared_endpoint() -> None:
    """Not vacuous: the lint walks each werkzeug rule, and finds every endpoint."""
    functions = handlers.FUNCTIONS
    routed = [(m, p, e) for f in functions for m, p, e in f.routed()]
    endpoints = [e for f in functions for e in f.endpoints]
    assert len(routed) == len(endpoints) > 0
    assert {id(e) for _, _, e in routed} == {id(e) for e in endpoints}


def test_an_endpoint_appended_past_the_decorator_fails_the_lint() -> None:
    function = _declared()
    undeclared = dataclasses.replace(
        function.endpoints[0], method="POST", operation_id="sneak", policy=None
    )
    function.endpoints.append(undeclared)
    assert route_lint.function_problems([function]) == [
        "things: POST /things: expected policy=action(...)|roles(...)|SELF|NO_POLICY_PUBLIC, "
        "got None"
    ]


def test_an_endpoint_with_no_access_fails_the_lint() -> None:
    function = _declared()
    function.endpoints.append(
        dataclasses.replace(function.endpoints[0], path="/things/x", access=None)
    )
    (problem,) = route_lint.function_problems([function])
    assert "GET /things/x: expected access=" in problem


class _ExtraRule(Function[None]):
    """A function whose routing has a rule beyond its endpoints (as if a route had been
    added to the werkzeug map directly)."""

    @property
    def routes(self) -> tuple[Route, ...]:
        return (*super().routes, Route("/things/hidden", {}))

    def url_map(self) -> Any:
        from werkzeug.routing import Map, Rule

        mapped: Map = super().url_map()
        mapped.add(Rule("/things/hidden", endpoint=len(super().routes), methods=["DELETE"]))
        return mapped


def test_a_werkzeug_rule_without_an_endpoint_fails_the_lint() -> None:
    function = _ExtraRule("things", needs=lambda _: None)
    function.endpoint(
        "GET", "/things", operation_id="list_things", summary="", access=SIGNED_IN, policy=SELF
    )(_view)
    assert route_lint.function_problems([function]) == [
        "things: DELETE /things/hidden routes to no endpoint"
    ]


@pytest.mark.parametrize(
    ("access", "policy", "error"),
    [
        pytest.param(SIGNED_IN, None, "expected policy=", id="signed_in_without_policy"),
        pytest.param(None, SELF, "expected access=", id="policy_without_access"),
        pytest.param(PUBLIC, SELF, "does not fit access", id="public_access_needs_public_policy"),
        pytest.param(
            SIGNED_IN, NO_POLICY_PUBLIC, "does not fit access", id="public_policy_needs_public"
        ),
    ],
)
def test_function_endpoint_refuses_an_undeclared_endpoint(
    access: Any, policy: Any, error: str
) -> None:
    function = Function("things", needs=lambda _: None)
    with pytest.raises(ValueError, match=error):
        function.endpoint(
            "GET", "/things", operation_id="op", summary="", access=access, policy=policy
        )(_view)
    assert function.endpoints == []


def test_binding_refuses_a_function_with_an_undeclared_endpoint() -> None:
    """Deny by default at start-up too: the shell will not serve it."""
    from app import build_container
    from core.settings import Settings

    function = _declared()
    function.endpoints.append(dataclasses.replace(function.endpoints[0], policy=None))
    with pytest.raises(ValueError, match="expected policy="):
        function.bind(build_container(Settings(project_id="demo-lint")))


def test_policies_name_what_the_declarations_grant() -> None:
    assert action(PROJECTS, "manage_members", "leave").name == (
        "projects.manage_members|projects.leave"
    )
    assert roles(Role.AUDITOR, Role.ADMIN).name == "roles:admin,auditor"
    with pytest.raises(KeyError, match="no action 'publish'"):
        action(PROJECTS, "publish")
    with pytest.raises(ValueError, match="at least one"):
        roles()


def test_an_unknown_entry_point_fails_the_lint() -> None:
    """A new entry point (a callable protocol, say) must say where its routes go."""
    assert route_lint.entry_point_problems(["things", "rpc"], [_declared()]) == [
        "entry point 'rpc': its routes are not linted; declare its endpoints with "
        "Function.endpoint, or map its routes onto them in tools.route_lint.DISPATCHERS"
    ]


def test_a_dispatched_route_is_linted_through_its_endpoint() -> None:
    """How a callable route (``POST /call/{operationId}``) is linted: by the endpoint
    it dispatches to, which must be one the functions declare, fully."""
    function = _declared()
    (declared,) = function.endpoints
    stray = dataclasses.replace(declared, operation_id="stray")
    unfenced = dataclasses.replace(declared, policy=None)

    def call(functions: Any) -> list[tuple[str, Endpoint | None]]:
        return [
            ("POST /call/list_things", declared),
            ("POST /call/nothing", None),
            ("POST /call/stray", stray),
        ]

    problems = route_lint.entry_point_problems(["call"], [function], {"call": call})
    assert problems == [
        "entry point 'call': POST /call/nothing dispatches to no endpoint",
        "entry point 'call': POST /call/stray dispatches to 'stray', which no function declares",
    ]
    function.endpoints[0] = unfenced
    problems = route_lint.entry_point_problems(
        ["call"], [function], {"call": lambda _: [("POST /call/list_things", unfenced)]}
    )
    assert problems == [
        "entry point 'call': GET /things: expected "
        "policy=action(...)|roles(...)|SELF|NO_POLICY_PUBLIC, got None"
    ]


@pytest.mark.parametrize("name", list(handlers.CALLABLES))
def test_each_callable_dispatcher_serves_exactly_its_groups_operations(name: str) -> None:
    functions = handlers.FUNCTIONS
    routes = list(route_lint.DISPATCHERS[name](functions))
    group = [f for f in functions if f.name in handlers.CALLABLES[name]]
    assert sorted(routes, key=lambda r: r[0]) == sorted(
        ((f"POST /{name}/{e.operation_id}", e) for f in group for e in f.endpoints),
        key=lambda r: r[0],
    )


def test_local_serves_exactly_the_functions_routes() -> None:
    functions = handlers.FUNCTIONS
    local = list(route_lint.DISPATCHERS["local"](functions))
    assert len(local) == sum(len(f.endpoints) for f in functions)
    assert all(endpoint is not None for _, endpoint in local)


@pytest.mark.parametrize(
    ("rule", "endpoint"),
    [
        pytest.param("/debug", "debug", id="a_flask_route_on_the_app"),
        pytest.param("/<path:path>", "other", id="the_catch_all_to_another_view"),
    ],
)
def test_a_route_added_to_the_functions_framework_app_fails_the_lint(
    rule: str, endpoint: str
) -> None:
    app = {
        "rules": [
            {"rule": "/<path:path>", "endpoint": "run"},
            {"rule": rule, "endpoint": endpoint},
        ],
        "views": ["run", endpoint],
        "static_folder": None,
    }
    problems = route_lint.framework_problems("me", app)
    assert f"entry point 'me': the Flask app routes {rule} to {endpoint!r}" in problems[0]
    assert (
        problems[1]
        == f"entry point 'me': the Flask app has a view {endpoint!r} outside the declarations"
    )


def test_a_static_folder_the_flask_app_would_serve_fails_the_lint() -> None:
    app = {
        "rules": [{"rule": "/static/<path:filename>", "endpoint": "static"}],
        "views": ["static"],
        "static_folder": "/srv/static",
        "static_folder_exists": True,
    }
    assert any(
        "serves the files of /srv/static" in p for p in route_lint.framework_problems("me", app)
    )
    assert route_lint.framework_problems("me", {**app, "static_folder_exists": False}) == []


def test_the_functions_framework_apps_are_probed_as_deployed() -> None:
    """The probe really reads functions-framework's rules (not an empty list)."""
    apps = route_lint.framework_rules(["me"])
    rules = {(r["rule"], r["endpoint"]) for r in apps["me"]["rules"]}
    assert ("/<path:path>", "run") in rules


def test_a_route_made_outside_the_shell_fails_the_lint(tmp_path: Path) -> None:
    (tmp_path / "extra.py").write_text(
        "import flask\n"
        "app = flask.Flask(__name__)\n"
        "@app.route('/debug')\n"
        "def debug(): return 'hi'\n"
        "app.add_url_rule('/x', 'x', debug)\n",
        encoding="utf-8",
    )
    assert route_lint.source_problems(tmp_path, ["extra.py"]) == [
        "extra.py:3: route(...) makes a route outside handlers/http.py; "
        "declare it with Function.endpoint",
        "extra.py:5: add_url_rule(...) makes a route outside handlers/http.py; "
        "declare it with Function.endpoint",
    ]


def test_privileged_endpoints_are_decided_by_a_role_rule() -> None:
    """What the declarations say of the admin function (the OpenAPI ``x-policy``)."""
    admin = handlers.function("admin")
    assert all(e.access is PRIVILEGED for e in admin.endpoints)
    assert {e.operation_id: e.policy.name for e in admin.endpoints} == {
        "find_user": "roles:admin",
        "get_roles": "roles:admin",
        "put_roles": "roles:admin",
        "list_audit": "roles:admin,auditor",
    }
