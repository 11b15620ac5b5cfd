"""Schemathesis against the whole backend on the emulators, with real ID tokens.

Every operation of the checked-in ``openapi.json`` is fuzzed (positive and negative
inputs; coverage and fuzzing phases) through the in-process WSGI app, as a
verified user for ``/me`` and ``/projects`` and as an admin for ``/admin``. Each
response must not be a 5xx and must conform to the document: a documented status,
the documented content type, headers and body schema.

The run is bounded (``MAX_EXAMPLES`` per operation) and deterministic
(``deterministic``: the same cases every run), so it belongs to the normal suite.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.api import Api
from tests.integration.emulator import FirestoreEmulator, MakeUser, bearer
from tests.integration.fuzz_world import FuzzWorld

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi.json"
#: Generated cases per operation (the coverage phase adds its own): about 1 000 cases
#: and 30 s in all. A deeper run:
#: ``FUZZ_MAX_EXAMPLES=500 scripts/test tests/integration/test_fuzz_api.py``.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "40"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(
    json.loads(DOCUMENT.read_text(encoding="utf-8")),
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)

#: (operation, status) of every case, reported at the end of the module.
CASES: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_cases(request: pytest.FixtureRequest) -> Iterator[None]:
    """One summary line; with ``-v``, the statuses each operation answered."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not CASES:
        return
    operations = sorted({label for label, _ in CASES})
    lines = [
        f"schemathesis: {CASES.total()} cases over {len(operations)} operations, "
        f"{MAX_EXAMPLES} generated per operation"
    ]
    if request.config.get_verbosity() > 0:
        for label in operations:
            statuses = sorted((status, n) for (op, status), n in CASES.items() if op == label)
            lines.append(f"  {label}: " + " ".join(f"{s}x{n}" for s, n in statuses))
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    api: Api,
    firestore_emulator: FirestoreEmulator,
    make_user: MakeUser,
) -> FuzzWorld:
    """Fresh users and projects for each operation (the emulators are wiped per test)."""
    as_admin = "/admin/" in request.node.name
    return FuzzWorld.build(api, firestore_emulator, make_user, as_admin=as_admin)


@schema.parametrize()
# ``world`` is built once per operation on purpose: cases share its users, and
# ``prepare`` resets the projects a case may change before it runs.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_conforms_to_openapi(
    case: schemathesis.Case[Any], world: FuzzWorld, client: FlaskClient
) -> None:
    world.prepare(case)
    response = case.call(app=client.application)
    CASES[case.operation.label, response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


def _cursor(when: str, doc_id: str = "a" * 20) -> str:
    """A cursor in ``store.cursors``' format, with any timestamp text."""
    raw = json.dumps([when, doc_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: Inputs the generators (almost) never produce, found by hand: each once answered a
#: 5xx or a response the document does not describe. Sent with the Flask client, byte
#: for byte (schemathesis's own transport drops a newline from a path).
EDGE_CASES = [
    pytest.param(
        "GET", "/admin/users", "/admin/users?email=a@@b", None, 400, id="email_with_two_at_signs"
    ),
    pytest.param(
        "GET", "/admin/users", "/admin/users?email=x@y@z", None, 400, id="email_with_two_domains"
    ),
    pytest.param(
        "GET",
        "/projects",
        f"/projects?cursor={_cursor('0001-01-01T00:00:00+01:00')}",
        None,
        400,
        id="cursor_before_year_1_in_utc",
    ),
    pytest.param(
        "GET",
        "/admin/audit",
        f"/admin/audit?cursor={_cursor('9999-12-31T23:59:59-01:00')}",
        None,
        400,
        id="cursor_after_year_9999_in_utc",
    ),
    pytest.param(
        "GET",
        "/projects/{project_id}",
        "/projects/a%0Ab",  # project_id="a\nb"
        None,
        404,
        id="newline_in_project_id",
    ),
    pytest.param(
        "PUT",
        "/admin/users/{uid}/roles",
        "/admin/users/a%0Ab/roles",  # uid="a\nb"
        {"roles": []},
        404,
        id="newline_in_uid",
    ),
]


@pytest.mark.parametrize(("method", "operation", "url", "body", "status"), EDGE_CASES)
def test_edge_case_conforms_to_openapi(
    method: str,
    operation: str,
    url: str,
    body: Any,
    status: int,
    make_user: MakeUser,
    client: FlaskClient,
) -> None:
    admin = make_user(roles=["admin"])
    names = re.findall(r"{(\w+)}", operation)
    case = schema[operation][method].Case(path_parameters=dict.fromkeys(names, "a\nb"))
    response = client.open(url, method=method, json=body, headers=bearer(admin))
    case.validate_response(response, checks=CHECKS)
    assert response.status_code == status, response.text
