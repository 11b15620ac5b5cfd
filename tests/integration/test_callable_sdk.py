"""The callables with the real Firebase JS SDK: ``tests/callable/sdk_client.mjs`` signs in
on the Auth emulator (``firebase/auth``) and calls the backend with ``httpsCallableFromURL``
(``firebase/functions``), served here on a local port with the emulators behind it.

The script checks each result and each ``FunctionsError`` (SDK ``code`` and this API's
``details.code``) itself; this test requires every check to have run, then reads the
outcome back through the REST API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import functions_framework
import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from tests.integration.conftest import PASSWORD
from tests.integration.emulator import MakeUser, bearer

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "tests" / "callable" / "sdk_client.mjs"
#: Every check of the script, in order: a step that silently did not run fails here.
CHECKS = [
    "get_me",
    "create_project",
    "create_project_idempotent",
    "list_projects",
    "get_project",
    "rename_project",
    "stale_if_match_is_aborted",
    "share_by_email",
    "member_reads_shared_project",
    "viewer_cannot_rename",
    "unknown_project_is_not_found",
    "bad_field_is_invalid_argument",
    "invalid_argument_names_the_field",
    "unknown_operation_is_not_found",
    "admin_changes_a_role",
    "admin_reads_the_role",
    "non_admin_cannot_change_roles",
    "admin_cannot_demote_themselves",
    "call_does_not_serve_admin_operations",
    "the_refused_call_changed_nothing",
    "delete_project",
    "deleted_project_is_not_found",
    "signed_out_is_unauthenticated",
]
#: A bound on the script's run (it takes a few seconds), so a hang fails instead of blocking.
SCRIPT_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="module")
def backend_url() -> Iterator[str]:
    """The whole backend (``main.py``'s ``local`` target) on a free local port."""
    app = functions_framework.create_app(  # type: ignore[no-untyped-call]  # untyped upstream
        target="local", source=str(REPO_ROOT / "main.py")
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def test_the_firebase_js_sdk_calls_every_kind_of_operation(
    backend_url: str, make_user: MakeUser, project_id: str, client: FlaskClient
) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed (it runs the Firebase emulators too)"
    owner, member, admin = make_user(), make_user(), make_user(roles=["admin"])
    users = {
        who: {"email": user.email, "password": PASSWORD}
        for who, user in (("owner", owner), ("member", member), ("admin", admin))
    }
    env = {
        **os.environ,
        "API_URL": backend_url,
        "PROJECT_ID": project_id,
        "USERS": json.dumps(users),
    }
    run = subprocess.run(
        [node, str(SCRIPT)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    outcome = json.loads(lines[-1])
    assert outcome["checks"] == CHECKS
    # What the SDK did is what REST sees.
    roles = client.get(f"/admin/users/{member.uid}/roles", headers=bearer(admin))
    assert roles.get_json()["roles"] == ["auditor"]
    gone = client.get(f"/projects/{outcome['projectId']}", headers=bearer(owner))
    assert gone.status_code == 404
    audit = client.get("/admin/audit", headers=bearer(admin)).get_json()["items"]
    assert {"roles.set", "project.shared", "project.deleted"} <= {e["action"] for e in audit}
