"""The route lint: every route the backend serves declares how it authenticates and which
policy decides it (``access=`` and ``policy=`` on its ``Function.endpoint``), or is
explicitly public (``access=PUBLIC, policy=NO_POLICY_PUBLIC``).

``Function.endpoint`` already refuses an endpoint without them; this lint checks what is
actually routed, whichever way a route got there:

- each function's werkzeug map (``Function.url_map``, what the shell routes with): every
  rule and method must dispatch to a fully declared endpoint, so an endpoint appended
  past the decorator, or a rule with no endpoint, fails;
- each entry point (``handlers.ENTRY_POINTS``): a declared function, or a dispatcher in
  ``DISPATCHERS`` that says which endpoint each of its routes dispatches to (``local``
  serves every function by its prefix; a callable route ``POST /call/{operationId}`` or
  ``POST /admincall/{operationId}`` is linted through the endpoint it runs, and only
  the operations of its own group count). An entry point the lint does not know fails;
- the functions-framework app of each entry point (``framework_rules``): only the
  framework's own rules (the catch-all that calls the entry point, and 404s for
  ``/robots.txt`` and ``/favicon.ico``; Flask's ``/static/`` rule only while there is no
  static folder to serve), nothing registered on the Flask app besides;
- the source (``source_problems``): no Flask route, blueprint or werkzeug rule is made
  outside ``handlers/http.py``.

``tests/unit/test_route_lint.py`` runs it; ``python -m tools.route_lint`` prints the
problems and exits 1 if there are any.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from handlers import CALLABLES
from handlers.endpoints import Endpoint, declaration_problems
from handlers.http import Function

REPO_ROOT = Path(__file__).resolve().parents[1]

#: A dispatching entry point: given the declared functions, each route it serves as
#: ``"METHOD pattern"`` and the endpoint it dispatches to (``None``: none).
Dispatcher = Callable[[Sequence[Function[Any]]], Iterable[tuple[str, Endpoint | None]]]


def _local(functions: Sequence[Function[Any]]) -> Iterable[tuple[str, Endpoint | None]]:
    """``local`` sends each path to the function that owns its prefix (and the rest to a
    function with no endpoint, which answers 404): it serves exactly their routes."""
    for function in functions:
        for method, pattern, endpoint in function.routed():
            yield f"{method} {pattern}", endpoint


def _callables(name: str) -> Dispatcher:
    """The dispatcher of the callable function ``name``: it serves ``POST
    /{name}/{operationId}`` for the functions of its group (``handlers.CALLABLES``) only,
    each the endpoint it names."""

    def dispatch(functions: Sequence[Function[Any]]) -> Iterable[tuple[str, Endpoint | None]]:
        from handlers import callables

        group = [function for function in functions if function.name in CALLABLES[name]]
        for operation_id, operation in callables.operations(group, lambda _: _no_serve).items():
            yield f"POST /{name}/{operation_id}", operation.endpoint

    return dispatch


def _no_serve(*_: Any) -> Any:
    raise AssertionError("the lint never serves")


#: Entry points that are not one declared function, and how their routes map onto
#: endpoint declarations. A callable entry point (``POST /{name}/{operationId}``) belongs
#: here, mapping each operation of its group to the endpoint whose operation_id it names.
DISPATCHERS: dict[str, Dispatcher] = {
    "local": _local,
    **{name: _callables(name) for name in CALLABLES},
}

#: Entry points that speak another protocol than this API's REST (no ``Function``), each
#: with how it authenticates and which policy decides, declared here by hand; ``local``
#: serves them at ``/<name>`` too.
PROTOCOL_ENTRY_POINTS: Mapping[str, tuple[str, str]] = {
    "identity": (
        "a blocking-event JWT signed by Google, exact aud (auth.blocking)",
        "auth.signup_policy: the email-domain allowlist and default claims",
    ),
    "signouts": (
        "Eventarc CloudEvents only: invocable by its own service account, no public invoker",
        "services.sign_outs: applies the recorded sign-out the event names, nothing else",
    ),
}

#: The functions-framework app's own rules (``functions_framework._configure_app`` for
#: an HTTP function): (rule, endpoint). ``run`` calls the entry point, whose routing is
#: linted above; ``error`` answers 404.
FRAMEWORK_RULES = frozenset(
    {
        ("/", "run"),
        ("/<path:path>", "run"),
        ("/robots.txt", "error"),
        ("/favicon.ico", "error"),
    }
)
FRAMEWORK_VIEWS = frozenset({"run", "error"})
#: The same for a CloudEvent function (``handlers.EVENT_ENTRY_POINTS``): ``POST`` of an
#: event to any path calls the entry point.
EVENT_FRAMEWORK_RULES = frozenset({("/", "cloudevent"), ("/<path:path>", "cloudevent")})
EVENT_FRAMEWORK_VIEWS = frozenset({"cloudevent"})
#: Flask's own static-file rule, which functions-framework leaves on its app: it serves
#: ``<repository>/static/`` at ``/static/...`` before the entry point sees the request,
#: with no authentication. Harmless only while that folder does not exist (404).
STATIC_RULE = ("/static/<path:filename>", "static")

#: Calls that add a route to Flask or werkzeug, and the one module allowed to make them.
ROUTE_MAKERS = frozenset({"add_url_rule", "route", "register_blueprint", "Blueprint", "Rule"})
ROUTING_MODULE = "handlers/http.py"
#: What the source scan leaves out: tests (their fixtures build Flask apps), tools'
#: own probe, and what is not ours.
SOURCE_EXCLUDED = ("tests/", ".venv/", "node_modules/", "web/", "tools/route_lint.py")


def function_problems(functions: Iterable[Function[Any]]) -> list[str]:
    """Every routed method of every function, and every endpoint, fully declared."""
    problems: list[str] = []
    for function in functions:
        for method, pattern, endpoint in function.routed():
            if endpoint is None:
                problems.append(f"{function.name}: {method} {pattern} routes to no endpoint")
            else:
                problems.extend(f"{function.name}: {p}" for p in declaration_problems(endpoint))
        for endpoint in function.endpoints:  # also those no rule routes (yet)
            problems.extend(f"{function.name}: {p}" for p in declaration_problems(endpoint))
    return sorted(set(problems))


def entry_point_problems(
    entry_points: Iterable[str],
    functions: Sequence[Function[Any]],
    dispatchers: Mapping[str, Dispatcher] | None = None,
) -> list[str]:
    """Every entry point is a declared function (linted by ``function_problems``) or a
    known dispatcher whose every route dispatches to a fully declared endpoint of
    ``functions``."""
    dispatchers = DISPATCHERS if dispatchers is None else dispatchers
    names = {function.name for function in functions}
    declared = {id(e) for function in functions for e in function.endpoints}
    problems: list[str] = []
    for name in entry_points:
        if name in names or name in PROTOCOL_ENTRY_POINTS:
            continue
        dispatcher = dispatchers.get(name)
        if dispatcher is None:
            problems.append(
                f"entry point {name!r}: its routes are not linted; declare its endpoints "
                "with Function.endpoint, or map its routes onto them in "
                "tools.route_lint.DISPATCHERS"
            )
            continue
        for route, endpoint in dispatcher(functions):
            if endpoint is None:
                problems.append(f"entry point {name!r}: {route} dispatches to no endpoint")
                continue
            if id(endpoint) not in declared:
                problems.append(
                    f"entry point {name!r}: {route} dispatches to {endpoint.operation_id!r}, "
                    "which no function declares"
                )
            problems.extend(f"entry point {name!r}: {p}" for p in declaration_problems(endpoint))
    return problems


def framework_problems(name: str, app: Mapping[str, Any]) -> list[str]:
    """The functions-framework app of entry point ``name`` (``framework_rules``) has
    only the framework's own rules and views."""
    from handlers import EVENT_ENTRY_POINTS

    static = app.get("static_folder")
    static_unserved = static is None or not app.get("static_folder_exists", True)
    event = name in EVENT_ENTRY_POINTS
    rules = EVENT_FRAMEWORK_RULES if event else FRAMEWORK_RULES
    views = EVENT_FRAMEWORK_VIEWS if event else FRAMEWORK_VIEWS
    problems = [
        f"entry point {name!r}: the Flask app routes {rule['rule']} to {rule['endpoint']!r}, "
        "which is no endpoint declaration"
        for rule in app["rules"]
        if (rule["rule"], rule["endpoint"]) not in rules
        and not ((rule["rule"], rule["endpoint"]) == STATIC_RULE and static_unserved)
    ]
    problems.extend(
        f"entry point {name!r}: the Flask app has a view {view!r} outside the declarations"
        for view in app["views"]
        if view not in views and not (view == STATIC_RULE[1] and static_unserved)
    )
    if not static_unserved:
        problems.append(
            f"entry point {name!r}: the Flask app serves the files of {static} at /static/ "
            "with no authentication; remove that folder"
        )
    return problems


def framework_rules(entry_points: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each entry point's functions-framework app, as deployed: its URL rules and views.

    Built in a fresh interpreter (``main.py`` reads the environment at import), as
    ``functions-framework --target <name>`` does.

    Raises:
        RuntimeError: the probe failed.
    """
    completed = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "tools.route_lint", "--framework-json", *entry_points],
        cwd=REPO_ROOT,
        env={
            "PATH": "",
            "FIREBASE_PROJECT_ID": "demo-route-lint",
            # The identity function refuses to start without the URL it is registered under.
            "IDENTITY_FUNCTION_URLS": "http://localhost/identity",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"functions-framework could not start an entry point: {last}")
    found: dict[str, dict[str, Any]] = json.loads(completed.stdout)
    return found


def _framework_json(entry_points: Sequence[str]) -> dict[str, dict[str, Any]]:
    import functions_framework

    found: dict[str, dict[str, Any]] = {}
    for name in entry_points:
        # functions-framework keeps the last app's signature type in the environment
        # (a CloudEvent one would leak to the next): each app starts from none, as deployed.
        os.environ.pop("FUNCTION_SIGNATURE_TYPE", None)
        app = functions_framework.create_app(  # type: ignore[no-untyped-call]  # untyped
            target=name, source=str(REPO_ROOT / "main.py")
        )
        found[name] = {
            "rules": [
                {"rule": rule.rule, "endpoint": str(rule.endpoint)}
                for rule in app.url_map.iter_rules()
            ],
            "views": sorted(app.view_functions),
            "static_folder": app.static_folder,
            "static_folder_exists": bool(app.static_folder) and Path(app.static_folder).is_dir(),
        }
    return found


def source_problems(root: Path = REPO_ROOT, files: Iterable[str] | None = None) -> list[str]:
    """Flask routes, blueprints or werkzeug rules made outside ``handlers/http.py``.

    Args:
        files: paths relative to ``root`` (default: git's Python files, untracked ones
            too).
    """
    if files is None:
        listed = subprocess.run(
            # Tracked and untracked (not ignored) files: a new module counts before `git add`.
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],  # noqa: S607
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        files = listed.stdout.split()
    problems: list[str] = []
    for relative in files:
        if relative == ROUTING_MODULE or relative.startswith(SOURCE_EXCLUDED):
            continue
        tree = ast.parse((root / relative).read_text(encoding="utf-8"), relative)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ROUTE_MAKERS:
                problems.append(
                    f"{relative}:{node.lineno}: {called}(...) makes a route outside "
                    f"{ROUTING_MODULE}; declare it with Function.endpoint"
                )
    return problems


def lint(
    functions: Sequence[Function[Any]] | None = None,
    entry_points: Sequence[str] | None = None,
) -> list[str]:
    """Every problem the lint finds in the declared functions, the entry points, their
    functions-framework apps and the source (empty: every route is declared)."""
    import handlers

    functions = tuple(handlers.FUNCTIONS) if functions is None else functions
    entry_points = tuple(handlers.ENTRY_POINTS) if entry_points is None else entry_points
    problems = function_problems(functions)
    problems += entry_point_problems(entry_points, functions)
    try:
        apps = framework_rules(entry_points)
    except RuntimeError as error:  # ``Function.bind`` refuses an undeclared endpoint
        problems.append(str(error))
    else:
        for name, app in apps.items():
            problems += framework_problems(name, app)
    problems += source_problems()
    return problems


def main(argv: Sequence[str]) -> int:
    """``python -m tools.route_lint``: print the problems; exit 1 if there are any."""
    if argv[:1] == ["--framework-json"]:
        sys.stdout.write(json.dumps(_framework_json(argv[1:])))
        return 0
    problems = lint()
    for problem in problems:
        sys.stdout.write(problem + "\n")
    return 1 if problems else 0


__all__ = [
    "DISPATCHERS",
    "entry_point_problems",
    "framework_problems",
    "framework_rules",
    "function_problems",
    "lint",
    "main",
    "source_problems",
]

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
