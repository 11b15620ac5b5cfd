"""Demo data for ``scripts/dev``: three users, an admin, a few shared projects and tasks.

Users are upserted with the Admin SDK (each run resets their passwords to fresh
random ones), the admin is made by ``python -m tools.make_admin``, and projects are
created through the running backend's HTTP API, as a client would, so the demo data
obeys the same rules as real data. Prints the credentials and writes a fresh ID token
of alice to ``.cache/demo-token``.

Runs only against the Auth emulator (FIREBASE_AUTH_EMULATOR_HOST must be set): it
resets passwords, which must never happen to a real project.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import firebase_admin
import requests
from firebase_admin import auth

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKEN_FILE = REPO_ROOT / ".cache" / "demo-token"
TIMEOUT_SECONDS = 10
ADMIN, ALICE, BOB = "admin@example.com", "alice@example.com", "bob@example.com"


@dataclass
class DemoUser:
    email: str
    password: str
    uid: str
    id_token: str = ""
    roles: tuple[str, ...] = ()


def main() -> int:
    auth_host = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST")
    if not auth_host:
        print(
            "seed: FIREBASE_AUTH_EMULATOR_HOST is not set; refusing to touch a real "
            "project (run scripts/dev instead)",
            file=sys.stderr,
        )
        return 2
    project_id = (
        os.environ.get("PROJECT_ID") or os.environ.get("GOOGLE_CLOUD_PROJECT") or "demo-backend"
    )
    backend = (
        os.environ.get("BACKEND_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
    ).rstrip("/")

    app = firebase_admin.initialize_app(options={"projectId": project_id}, name="seed")
    users = {email: upsert_user(email, app) for email in (ADMIN, ALICE, BOB)}

    make_admin = subprocess.run(
        [sys.executable, "-m", "tools.make_admin", "--email", ADMIN],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if make_admin.returncode != 0:
        sys.stderr.write(make_admin.stdout + make_admin.stderr)
        print(f"seed: tools.make_admin exited with {make_admin.returncode}", file=sys.stderr)
        return 1

    # Signed in after make_admin, so the tokens carry the current role claims.
    for user in users.values():
        user.id_token = sign_in(auth_host, user)
        user.roles = tuple((auth.get_user(user.uid, app=app).custom_claims or {}).get("roles", []))

    api = Api(backend)
    alice, bob = users[ALICE], users[BOB]
    if not api.owned_projects(alice):
        first = api.create_project(alice, "Alice's roadmap", "Plans for the next quarter")
        api.create_project(alice, "Alice's notes", "Private scratchpad")
        api.share(alice, first, bob, "editor")
        api.create_task(alice, first, {"title": "Draft the plan", "assigneeId": bob.uid})
        api.create_task(alice, first, {"title": "Review the budget", "done": True})
        api.create_task(bob, first, {"title": "Book the venue", "notes": "Two options"})
    if not api.owned_projects(bob):
        api.share(
            bob, api.create_project(bob, "Bob's budget", "Costs and invoices"), alice, "viewer"
        )

    # Printed after every HTTP call, so that the server's request logs do not cut the table.
    projects = [(user, project) for user in (alice, bob) for project in api.owned_projects(user)]
    print(f"\n{'email':<20} {'password':<18} {'uid':<30} roles")
    for user in users.values():
        print(f"{user.email:<20} {user.password:<18} {user.uid:<30} {','.join(user.roles) or '-'}")
    emails = {user.uid: user.email for user in users.values()}
    for owner, project in projects:
        shared = [
            f"{emails.get(uid, uid)} ({role[:-1]})"
            for role in ("editors", "viewers")
            for uid in project[role]
        ]
        print(
            f"project {project['id']} {project['name']!r} owner {owner.email}, "
            f"shared with: {', '.join(shared) or 'nobody'}"
        )
    TOKEN_FILE.parent.mkdir(exist_ok=True)
    TOKEN_FILE.write_text(alice.id_token + "\n")
    return 0


def upsert_user(email: str, app: firebase_admin.App) -> DemoUser:
    """Create the user, or reset its password if it exists; always email-verified."""
    password = secrets.token_urlsafe(12)
    try:
        uid = auth.get_user_by_email(email, app=app).uid
        auth.update_user(uid, password=password, email_verified=True, app=app)
    except auth.UserNotFoundError:
        uid = auth.create_user(email=email, password=password, email_verified=True, app=app).uid
    return DemoUser(email, password, uid)


def sign_in(auth_host: str, user: DemoUser) -> str:
    """An ID token from the Auth emulator's REST API (any API key works there)."""
    response = requests.post(
        f"http://{auth_host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword",
        params={"key": "fake"},
        json={"email": user.email, "password": user.password, "returnSecureToken": True},
        timeout=TIMEOUT_SECONDS,
    )
    check(response, "sign in " + user.email)
    token: str = response.json()["idToken"]
    return token


class Api:
    """The backend's HTTP API, called as one signed-in user at a time."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def call(self, method: str, path: str, user: DemoUser, **kwargs: Any) -> Any:
        response = self.session.request(
            method,
            self.base_url + path,
            timeout=TIMEOUT_SECONDS,
            headers={"Authorization": f"Bearer {user.id_token}"},
            **kwargs,
        )
        check(response, f"{method} {path} as {user.email}")
        return response.json() if response.content else None

    def owned_projects(self, user: DemoUser) -> list[dict[str, Any]]:
        owned: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.call("GET", "/projects", user, params={"cursor": cursor} if cursor else {})
            owned += [p for p in page["items"] if p["ownerId"] == user.uid]
            cursor = page.get("nextCursor")
            if not cursor:
                return owned

    def create_project(self, owner: DemoUser, name: str, description: str) -> str:
        body = self.call(
            "POST", "/projects", owner, json={"name": name, "description": description}
        )
        project_id: str = body["id"]
        return project_id

    def create_task(self, user: DemoUser, project_id: str, body: dict[str, Any]) -> None:
        self.call("POST", f"/projects/{project_id}/tasks", user, json=body)

    def share(self, owner: DemoUser, project_id: str, member: DemoUser, role: str) -> None:
        self.call("PUT", f"/projects/{project_id}/members/{member.uid}", owner, json={"role": role})


def check(response: requests.Response, what: str) -> None:
    if not response.ok:
        raise SystemExit(
            f"seed: {what}: expected 2xx, got {response.status_code}: {response.text[:500]}"
        )


if __name__ == "__main__":
    sys.exit(main())
