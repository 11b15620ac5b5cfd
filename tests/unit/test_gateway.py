"""tools.gateway: a valid OpenAPI 2.0 (Swagger) config for Google API Gateway that lists
every route and method of handlers.FUNCTIONS, checks Firebase ID tokens at the edge,
and leaves the caller's Authorization header for the function to verify again."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Request, Response

from handlers import FUNCTIONS
from handlers.endpoints import NO_POLICY_PUBLIC, PUBLIC
from handlers.http import Function
from tools import gateway
from tools._routes import RouteError, callable_specs, route_specs

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMITTED = REPO_ROOT / "deploy" / "gateway.openapi2.json"
PROJECT, REGION = "acme-prod", "us-central1"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return gateway.build(
        PROJECT,
        REGION,
        deadlines={
            "me": 30,
            "projects": 60,
            "admin": 60,
            "session": 30,
            "call": 60,
            "admincall": 45,
        },
    )


def served_operations() -> set[tuple[str, str]]:
    """(OpenAPI path, lower-case method) for every view of every function, and the
    callable form of each (``POST /call/{operationId}``; ``admin``'s at
    ``/admincall/{operationId}``)."""
    operations = set()
    for function in FUNCTIONS:
        prefix = "admincall" if function.name == "admin" else "call"
        for served in function.routes:
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", served.pattern)
            operations |= {(path, method.lower()) for method in served.endpoints}
            operations |= {
                (f"/{prefix}/{e.operation_id}", "post") for e in served.endpoints.values()
            }
    return operations


def test_it_is_valid_swagger_2(document: dict[str, Any]) -> None:
    from openapi_spec_validator.validation import OpenAPIV2SpecValidator

    errors = list(OpenAPIV2SpecValidator(document).iter_errors())
    assert [error.message for error in errors] == []


def test_it_is_well_formed_without_a_validator(document: dict[str, Any]) -> None:
    """The Swagger 2.0 rules a gateway deploy would trip on, checked by hand."""
    assert document["swagger"] == "2.0"
    assert {"title", "version"} <= document["info"].keys()
    ids = []
    for path, item in document["paths"].items():
        assert path.startswith("/")
        declared = {p["name"] for p in item.get("parameters", [])}
        assert declared == set(re.findall(r"{([^}]+)}", path)), path
        for p in item.get("parameters", []):
            assert (p["in"], p["required"], p["type"]) == ("path", True, "string")
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert method in HTTP_METHODS
            assert operation["responses"], f"{method} {path} has no responses"
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", operation["operationId"])
            ids.append(operation["operationId"])
            for requirement in operation.get("security", []):
                assert requirement.keys() <= document["securityDefinitions"].keys()
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_every_route_and_method_is_listed_with_a_preflight(document: dict[str, Any]) -> None:
    listed = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = served_operations()
    preflights = {(path, "options") for path, _ in served}
    assert listed == served | preflights
    assert len(served) >= 14  # the API section of README.md


def test_tokens_are_checked_at_the_edge_except_on_preflights(document: dict[str, Any]) -> None:
    assert document["securityDefinitions"] == {
        "firebase": {
            "type": "oauth2",
            "flow": "implicit",
            "authorizationUrl": f"https://securetoken.google.com/{PROJECT}",
            "x-google-issuer": f"https://securetoken.google.com/{PROJECT}",
            "x-google-jwks_uri": "https://www.googleapis.com/service_accounts/v1/metadata/x509/"
            "securetoken@system.gserviceaccount.com",
            "x-google-audiences": PROJECT,
        }
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "options":
                assert "security" not in operation, f"preflight {path} must not need a token"
            elif method != "parameters":
                assert operation["security"] == [{"firebase": []}], f"{method} {path}"


def test_each_operation_goes_to_its_function_with_the_callers_token(
    document: dict[str, Any],
) -> None:
    owner = {spec.path: spec.function for spec in [*route_specs(), *callable_specs()]}
    deadlines = {
        "me": 30.0,
        "projects": 60.0,
        "admin": 60.0,
        "session": 30.0,
        "call": 60.0,
        "admincall": 45.0,
    }
    for path, item in document["paths"].items():
        function = owner[path]
        assert path == f"/{function}" or path.startswith(f"/{function}/")
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["x-google-backend"] == {
                "address": f"https://{REGION}-{PROJECT}.cloudfunctions.net/{function}",
                "path_translation": "APPEND_PATH_TO_ADDRESS",
                "deadline": deadlines[function],
                "disable_auth": True,
            }


def test_admin_callables_go_to_admincall_and_no_other_callable_does(
    document: dict[str, Any],
) -> None:
    """``call``'s identity holds none of admin's roles: the gateway never sends it an
    admin operation, and sends admincall nothing else."""
    backends = {
        path: item["post"]["x-google-backend"]["address"].rsplit("/", 1)[1]
        for path, item in document["paths"].items()
        if path.startswith(("/call/", "/admincall/"))
    }
    admin = {e.operation_id for f in FUNCTIONS if f.name == "admin" for e in f.endpoints}
    assert {path for path, backend in backends.items() if backend == "admincall"} == {
        f"/admincall/{operation_id}" for operation_id in admin
    }
    assert not {f"/call/{operation_id}" for operation_id in admin} & backends.keys()
    assert all(backend in {"call", "admincall"} for backend in backends.values())
    assert {backend for path, backend in backends.items() if path.startswith("/call/")} == {"call"}


def test_operation_ids_are_the_view_names_of_openapi_json(document: dict[str, Any]) -> None:
    ids = {
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method not in {"parameters", "options"}
    }
    assert {"get_me", "revoke_sessions", "list_projects", "put_roles", "list_audit"} <= ids


def test_the_committed_config_is_up_to_date(tmp_path: Path) -> None:
    """Generated from deploy/config.toml and the routes, as the deploy docs say."""
    generated = tmp_path / "gateway.json"
    assert gateway.main(["--output", str(generated)]) == 0
    assert COMMITTED.read_text() == generated.read_text(), (
        "deploy/gateway.openapi2.json is stale: run "
        "`python -m tools.gateway > deploy/gateway.openapi2.json`"
    )


def test_cli_prints_the_config_for_a_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gateway.main(["--project", PROJECT, "--region", REGION]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["securityDefinitions"]["firebase"]["x-google-audiences"] == PROJECT
    out = tmp_path / "gateway.json"
    assert gateway.main(["--project", PROJECT, "--region", REGION, "--output", str(out)]) == 0
    assert json.loads(out.read_text()) == printed


def test_cli_refuses_an_invalid_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gateway.main(["--config", str(tmp_path / "absent.toml")]) == 1
    assert "error config:" in capsys.readouterr().err


# --- route conversion -------------------------------------------------------------


def view(request: Request) -> Response:
    return Response()


def function_with(name: str, *paths: str, operation_id: str = "op") -> Function:
    function = Function(name, needs=lambda _: None)
    for n, path in enumerate(paths):
        declare = function.endpoint(
            "GET",
            path,
            operation_id=f"{operation_id}{n or ''}",
            summary="A test.",
            access=PUBLIC,
            policy=NO_POLICY_PUBLIC,
        )
        declare(view)
    return function


def test_converters_become_typed_path_parameters() -> None:
    function = function_with("things", "/things/<int:n>/<string(length=20):thing_id>")
    (spec,) = route_specs([function])
    assert spec.path == "/things/{n}/{thing_id}"
    assert [(p.name, p.type) for p in spec.params] == [("n", "integer"), ("thing_id", "string")]
    assert spec.operations[0].summary == "A test."


def test_a_multi_segment_converter_cannot_be_described() -> None:
    function = function_with("files", "/files/<path:rest>")
    with pytest.raises(RouteError, match=r"<path:\.\.\.> converter"):
        route_specs([function])


def test_two_functions_cannot_have_one_name() -> None:
    with pytest.raises(RouteError, match="two functions are named 'a'"):
        route_specs([function_with("a", "/a"), function_with("a", "/a/b", operation_id="other")])


def test_two_functions_cannot_share_an_operation_id() -> None:
    with pytest.raises(RouteError, match="operation ids must be unique"):
        route_specs([function_with("a", "/a"), function_with("b", "/b")])
