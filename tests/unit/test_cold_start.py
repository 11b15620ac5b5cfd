"""The ``me`` function's cold start stays near the floor of functions-framework +
firebase-admin: loading it, building every part of the container it uses, and serving
its first authenticated request (whose revocation check reads the user's record and
their latest recorded sign-out, the latter over Firestore's REST API) import neither
pydantic, grpc nor the Firestore client, and build no Firestore client.

Checked in a fresh interpreter, as a deployed instance starts (``bench/coldstart``
measures the time, with an authenticated request on the emulators).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from handlers import ENTRY_POINTS
from tests.unit import tokenforge

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


#: One authenticated ``GET /me`` in emulator mode, against a stand-in for the two
#: emulators on a local port (so offline): the Auth emulator's user lookup and
#: Firestore's REST ``runQuery`` (no sign-out recorded). Prints what it took.
AUTHENTICATED_PROBE = """
import json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

seen = []

class Emulators(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen.append(self.path.split("?")[0])
        if self.path.split("?")[0].endswith("accounts:lookup"):
            body = {"users": [{"localId": "alice-uid", "email": "alice@example.com"}]}
        elif self.path.endswith(":runQuery"):
            body = [{"readTime": "2026-01-01T00:00:00Z"}]
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Emulators)
threading.Thread(target=server.serve_forever, daemon=True).start()
host = f"127.0.0.1:{server.server_address[1]}"
os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = host
os.environ["FIRESTORE_EMULATOR_HOST"] = host

import functions_framework

app = functions_framework.create_app(target="me", source="main.py")
reply = app.test_client().get("/me", headers={"Authorization": "Bearer " + sys.argv[1]})
print(json.dumps({
    "status": reply.status_code,
    "body": reply.get_json(silent=True),
    "seen": seen,
    "imported": [name for name in sys.argv[2:] if name in sys.modules],
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


def test_the_first_authenticated_request_of_me_imports_nothing_of_firestore() -> None:
    """The revocation check reads the recorded sign-outs over REST (``store.rest``)."""
    token = tokenforge.unsigned()
    completed = fresh_python(
        AUTHENTICATED_PROBE, token, *HEAVY, FIREBASE_PROJECT_ID=tokenforge.PROJECT_ID
    )
    assert completed.returncode == 0, completed.stderr
    probe = json.loads(completed.stdout.strip().splitlines()[-1])
    assert probe["status"] == 200, probe["body"]
    key = hashlib.sha256(tokenforge.DEFAULT_UID.encode()).hexdigest()
    documents = f"/v1/projects/{tokenforge.PROJECT_ID}/databases/(default)/documents"
    assert probe["seen"] == [
        f"/identitytoolkit.googleapis.com/v1/projects/{tokenforge.PROJECT_ID}/accounts:lookup",
        f"{documents}/signOuts/{key}:runQuery",
    ]
    assert probe["imported"] == []


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
