"""The ``me`` function's cold start stays near the floor of functions-framework +
firebase-admin: loading it, and building every part of the container it uses, imports
neither pydantic, grpc nor the Firestore client, and builds no Firestore client (its
first revocation check does, to read the user's recorded sign-outs: README, "What each
function may do").

Checked in a fresh interpreter, as a deployed instance starts (``bench/coldstart``
measures the time, with an authenticated request on the emulators).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from handlers import ENTRY_POINTS

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "grpc", "google.cloud.firestore", "google.api_core")

PROBE = """
import json, sys
import functions_framework

app = functions_framework.create_app(target="me", source="main.py")
refused = app.test_client().get("/me")  # no credential: 401 before anything is built

from app import build_container
import handlers

container = build_container()
handlers.entry_point("me", container)
container.authenticator  # what the first authenticated request builds
handlers.function("me").needs(container)  # and what its views receive
print(json.dumps({
    "status": refused.status_code,
    "built": sorted(container.built),
    "imported": [name for name in sys.argv[1:] if name in sys.modules],
}))
"""


def fresh_python(code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter (nothing imported yet), in the repository."""
    base = {"PATH": os.environ.get("PATH", ""), "FIREBASE_PROJECT_ID": "demo-cold-start"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_me_function_imports_and_builds_nothing_of_firestore() -> None:
    completed = fresh_python(PROBE, *HEAVY)
    assert completed.returncode == 0, completed.stderr
    probe = json.loads(completed.stdout.strip().splitlines()[-1])
    assert probe["status"] == 401
    assert probe["imported"] == []
    assert probe["built"] == [
        "authenticator",
        "directory",
        "firebase_app",
        "key_fetch",
        "revocation",
    ]


def test_every_entry_point_is_a_function_functions_framework_accepts() -> None:
    """functions-framework refuses a target that is not a plain function."""
    probe = (
        "import sys, functions_framework\n"
        "for name in sys.argv[1:]:\n"
        "    functions_framework.create_app(target=name, source='main.py')\n"
    )
    # The identity function refuses to start without the URL it is registered under.
    completed = fresh_python(
        probe, *ENTRY_POINTS, IDENTITY_FUNCTION_URLS="http://localhost/identity"
    )
    assert completed.returncode == 0, completed.stderr
