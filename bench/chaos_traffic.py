"""The chaos run's users and their traffic: six people (two owners, two editors, a
viewer, an admin) each on a thread, driving the backend over HTTP as a client would,
and a record of every request for ``bench/chaos_check.py`` to judge.

Every request is recorded with its interval, status, error code, ``Retry-After``,
the state of each project or task its body showed, and for writes whether the
outcome is known. Creates carry a tag (a project's description, a task's notes:
``chaos:<key>``; projects also send it as ``Idempotency-Key``) so that a document
whose creation was never acknowledged can still be traced to the request that made
it. The traffic's own knowledge (``World``) only steers what people try next; the
checks never trust it.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Wall-clock times everywhere (``time.time``): token ``iat`` and revocations are in it.
now = time.time
#: A kept-alive connection idle this long is replaced before use: gunicorn closes idle
#: ones after 2 s (its ``keepalive``), and a request sent as it closes is lost in transit.
IDLE_REUSE_SECONDS = 1.0
#: The longest ``Retry-After`` a person waits (clients honour it; the backend says 1-5 s).
MAX_RETRY_AFTER = 5.0

PASSWORD = "chaos-password-1"  # noqa: S105 - emulator accounts of a throwaway project

#: name -> (kind, roles at start)
PEOPLE: dict[str, tuple[str, list[str]]] = {
    "alice": ("owner", []),
    "bob": ("owner", []),
    "carol": ("editor", []),
    "dave": ("editor", []),  # the admin toggles his auditor role now and then
    "erin": ("viewer", []),
    "root": ("admin", ["admin"]),
}
#: Whose role the admin changes.
ROLE_TARGET = "dave"
#: Tokens issued up to this many seconds after a role removal's request ended may be
#: refused: validSince is a whole second, and the instance that revoked refuses tokens
#: of that second for 3 s more (``auth.sessions.SAME_SECOND_REFUSAL_SECONDS``).
ROLE_REMOVAL_SLACK = 3.0

PROJECT_FIELDS = ("name", "description", "ownerId", "editors", "viewers", "updatedAt", "version")
TASK_FIELDS = (
    "projectId",
    "title",
    "notes",
    "done",
    "assigneeId",
    "createdBy",
    "updatedAt",
    "version",
)


def project_state(body: dict[str, Any]) -> dict[str, Any]:
    return {name: body.get(name) for name in PROJECT_FIELDS}


def task_state(body: dict[str, Any]) -> dict[str, Any]:
    return {name: body.get(name) for name in TASK_FIELDS}


def project_path(project_id: str) -> str:
    return f"projects/{project_id}"


def task_path(project_id: str, task_id: str) -> str:
    return f"projects/{project_id}/tasks/{task_id}"


@dataclass
class Call:
    """One request and what it showed."""

    actor: str
    action: str
    method: str
    path: str
    start: float
    end: float = 0.0
    status: int | None = None  # None: no HTTP answer (transport error, timeout)
    code: str | None = None  # the error body's code
    retry_after: str | None = None
    error: str | None = None
    request_id: str | None = None
    token_iat: int = 0
    #: "create" | "update" | "delete" | "roles" for writes, None for reads.
    write: str | None = None
    #: The written resource (a Firestore path, or "roles/<uid>"), when known.
    resource: str | None = None
    #: The creation tag (``chaos:<key>``) of a create.
    tag: str | None = None
    #: (resource path, state) for every project or task the response body showed;
    #: state None = the admin was told it does not exist.
    seen: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    roles: list[str] | None = None  # the roles a role change answered with / asked for

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def add(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)


# --- tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    value: str
    iat: int


def _iat(id_token: str) -> int:
    payload = id_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(claims["iat"])


def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    from bench import env

    return env.http("POST", url, body=body, headers=headers, timeout=10)


class Users:
    """The accounts on the Auth emulator and each person's current ID token."""

    def __init__(self, project: str) -> None:
        self.project = project
        self.uids: dict[str, str] = {}
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()

    @staticmethod
    def email(name: str) -> str:
        return f"{name}@example.com"

    def seed(self, auth_host: str) -> None:
        """Create every account with a verified email (and the admin's role claim)."""
        base = f"http://{auth_host}/identitytoolkit.googleapis.com/v1"
        for name, (_kind, roles) in PEOPLE.items():
            status, body = _post(
                f"{base}/accounts:signUp?key=chaos",
                {"email": self.email(name), "password": PASSWORD, "displayName": name},
            )
            if status != 200:
                raise RuntimeError(f"signUp {name}: expected 200, got {status}: {body}")
            uid = body["localId"]
            self.uids[name] = uid
            update: dict[str, Any] = {"localId": uid, "emailVerified": True}
            if roles:
                update["customAttributes"] = json.dumps({"roles": roles})
            status, body = _post(
                f"{base}/projects/{self.project}/accounts:update",
                update,
                {"Authorization": "Bearer owner"},
            )
            if status != 200:
                raise RuntimeError(f"accounts:update {name}: expected 200, got {status}: {body}")

    def sign_in(self, name: str, auth_host: str) -> bool:
        """A fresh ID token (with the account's current claims); False if Auth is down."""
        try:
            status, body = _post(
                f"http://{auth_host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword"
                "?key=chaos",
                {"email": self.email(name), "password": PASSWORD, "returnSecureToken": True},
            )
        except OSError:
            return False
        if status != 200 or not isinstance(body, dict):
            return False
        token = Token(body["idToken"], _iat(body["idToken"]))
        with self._lock:
            self._tokens[name] = token
        return True

    def token(self, name: str) -> Token:
        with self._lock:
            return self._tokens[name]

    def name_of(self, uid: str) -> str:
        return next(name for name, known in self.uids.items() if known == uid)


# --- the backend client ----------------------------------------------------------------------


class Client:
    """One person's HTTP/1.1 keep-alive connection to the backend, recording each call."""

    def __init__(self, base_url: str, actor: str, users: Users, recorder: Recorder) -> None:
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.actor = actor
        self.users = users
        self.recorder = recorder
        self._connection: http.client.HTTPConnection | None = None
        self._last_used = 0.0

    def call(
        self,
        action: str,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        write: str | None = None,
        resource: str | None = None,
        tag: str | None = None,
    ) -> tuple[Call, Any, dict[str, str]]:
        token = self.users.token(self.actor)
        call = Call(
            self.actor,
            action,
            method,
            path,
            start=now(),
            token_iat=token.iat,
            write=write,
            resource=resource,
            tag=tag,
        )
        sent = {"Authorization": f"Bearer {token.value}", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        parsed: Any = None
        raw = b""
        reply_headers: dict[str, str] = {}
        if self._connection is not None and call.start - self._last_used > IDLE_REUSE_SECONDS:
            self._close()
        try:
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self._connection.request(method, path, body=data, headers=sent)
            response = self._connection.getresponse()
            raw = response.read()
            call.status = response.status
            reply_headers = {k.lower(): v for k, v in response.getheaders()}
            if response.getheader("Connection", "").lower() == "close":
                self._close()
        except (OSError, http.client.HTTPException) as error:
            call.error = f"{type(error).__name__}: {error}"
            self._close()
        call.end = self._last_used = now()
        if call.status is not None:
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            call.retry_after = reply_headers.get("retry-after")
            call.request_id = reply_headers.get("x-request-id")
            if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
                call.code = parsed["error"].get("code")
        self.recorder.add(call)
        return call, parsed, reply_headers

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# --- what the traffic knows -------------------------------------------------------------------


class World:
    """The last state each project and task was seen in, to pick plausible requests."""

    def __init__(self) -> None:
        self.projects: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, dict[str, Any]]] = {}
        self.gone: set[str] = set()
        self.lock = threading.Lock()

    def saw_project(self, body: dict[str, Any]) -> None:
        with self.lock:
            known = self.projects.get(body["id"])
            if body["id"] not in self.gone and (
                known is None or known["version"] <= body["version"]
            ):
                self.projects[body["id"]] = body

    def saw_task(self, body: dict[str, Any]) -> None:
        with self.lock:
            tasks = self.tasks.setdefault(body["projectId"], {})
            known = tasks.get(body["id"])
            if body["id"] not in self.gone and (
                known is None or known["version"] <= body["version"]
            ):
                tasks[body["id"]] = body

    def forget(self, project_id: str, task_id: str | None = None) -> None:
        with self.lock:
            if task_id is None:
                self.gone.add(project_id)
                self.projects.pop(project_id, None)
                self.tasks.pop(project_id, None)
            else:
                self.gone.add(task_id)
                self.tasks.get(project_id, {}).pop(task_id, None)

    def projects_where(self, test: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self.lock:
            return [p for p in self.projects.values() if test(p)]

    def tasks_of(self, project_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.tasks.get(project_id, {}).values())


# --- people ------------------------------------------------------------------------------------


@dataclass
class Shared:
    """What the actors share: the run's clock, knowledge, and the admin's role changes."""

    base_url: str
    users: Users
    recorder: Recorder
    world: World
    auth_host: str  # the Auth emulator as clients reach it (through its gate)
    stop: threading.Event
    #: (uid or None for everyone, start, end, slack): sessions revoked within that
    #: interval, so tokens issued up to ``end + slack`` may be refused (a role removal:
    #: whole-second validSince plus the backend's 3 s same-second refusal; the Auth
    #: emulator's import, which sets validSince to the import's second: ``slack=-1``).
    revocations: list[tuple[str | None, float, float, float]] = field(default_factory=list)
    role_change_every: float = 8.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def revoked(self, uid: str | None, start: float, end: float, slack: float) -> None:
        with self.lock:
            self.revocations.append((uid, start, end, slack))

    def last_revocation(self, uid: str) -> float:
        with self.lock:
            times = [end for who, _, end, _ in self.revocations if who in (None, uid)]
        return max(times, default=0.0)


class Actor(threading.Thread):
    """One person: picks an action by weight, sends it, learns from the answer."""

    def __init__(self, name: str, shared: Shared, seed: int) -> None:
        super().__init__(name=f"actor-{name}", daemon=True)
        self.person = name
        self.kind = PEOPLE[name][0]
        self.shared = shared
        self.random = random.Random(seed)  # noqa: S311 - traffic choices, not secrets
        self.client = Client(shared.base_url, name, shared.users, shared.recorder)
        self.uid = shared.users.uids[name]
        self.pending_creates: list[tuple[str, str]] = []  # (key, name) of unknown outcome
        self.next_role_change = now() + shared.role_change_every / 2
        self.target_roles: list[str] = []
        self.failure: BaseException | None = None

    # --- the loop ---

    def run(self) -> None:
        try:
            while not self.shared.stop.is_set():
                self.step()
                time.sleep(self.random.uniform(0, 0.04))
        except BaseException as error:  # noqa: BLE001 - reported by the run, never swallowed
            self.failure = error

    def step(self) -> None:
        if self.kind == "admin" and now() >= self.next_role_change:
            self.next_role_change = now() + self.shared.role_change_every
            self.change_roles()
            return
        actions = WEIGHTS[self.kind]
        names = list(actions)
        action = self.random.choices(names, weights=[actions[n] for n in names])[0]
        getattr(self, action)()

    def send(
        self, action: str, method: str, path: str, body: Any = None, **kw: Any
    ) -> tuple[Call, Any, dict[str, str]]:
        headers = kw.pop("headers", None)
        call, parsed, headers_back = self.client.call(action, method, path, body, headers, **kw)
        if call.status == 401 and call.code == "token_revoked":
            self.renew_token()
        if call.retry_after is not None and call.retry_after.isdigit():
            self.shared.stop.wait(min(float(call.retry_after), MAX_RETRY_AFTER))
        if call.acknowledged and isinstance(parsed, dict):
            self.learn(call, parsed)
        return call, parsed, headers_back

    def renew_token(self) -> None:
        """Sign in again once the revocation's second (and the backend's 3 s same-second
        refusal) is over, as a client SDK does after ``token_revoked``."""
        wait = self.shared.last_revocation(self.uid) + ROLE_REMOVAL_SLACK + 1 - now()
        if wait > 0:
            self.shared.stop.wait(wait)
        self.shared.users.sign_in(self.person, self.shared.auth_host)

    def learn(self, call: Call, body: dict[str, Any]) -> None:
        world = self.shared.world
        listed = body.get("items")
        items: list[Any] = listed if isinstance(listed, list) else [body]
        for item in items:
            if not isinstance(item, dict) or "id" not in item or "version" not in item:
                continue
            if "ownerId" in item:
                world.saw_project(item)
                call.seen.append((project_path(item["id"]), project_state(item)))
            elif "projectId" in item:
                world.saw_task(item)
                call.seen.append((task_path(item["projectId"], item["id"]), task_state(item)))

    # --- choosing ---

    def mine(self, relation: str) -> list[dict[str, Any]]:
        uid = self.uid
        tests: dict[str, Callable[[dict[str, Any]], bool]] = {
            "owner": lambda p: p["ownerId"] == uid,
            "editor": lambda p: uid in p["editors"],
            "viewer": lambda p: uid in p["viewers"],
            "reader": lambda p: uid == p["ownerId"] or uid in p["editors"] or uid in p["viewers"],
            "writer": lambda p: uid == p["ownerId"] or uid in p["editors"],
            "any": lambda p: True,
        }
        return self.shared.world.projects_where(tests[relation])

    def pick(self, relation: str) -> dict[str, Any] | None:
        found = self.mine(relation)
        return self.random.choice(found) if found else None

    @property
    def writes_as(self) -> str:
        return "any" if self.kind == "admin" else "writer"

    # --- projects ---

    def create_project(self) -> None:
        if len(self.mine("owner")) >= 8:
            self.delete_project()
            return
        if self.pending_creates and self.random.random() < 0.5:
            key, name = self.pending_creates[0]  # retry a create of unknown outcome
        else:
            key, name = uuid.uuid4().hex, f"{self.person} {self.random.randrange(10**6)}"
        tag = f"chaos:{key}"
        call, _, _ = self.send(
            "create_project",
            "POST",
            "/projects",
            {"name": name, "description": tag},
            headers={"Idempotency-Key": key},
            write="create",
            tag=tag,
        )
        if call.acknowledged and call.seen:
            call.resource = call.seen[0][0]
        done = call.acknowledged or call.status in (400, 403, 422)
        if (key, name) in self.pending_creates and done:
            self.pending_creates.remove((key, name))
        elif not done and (key, name) not in self.pending_creates:
            self.pending_creates.append((key, name))  # 409 in progress included: ask again

    def rename_project(self) -> None:
        project = self.pick(self.writes_as)
        if project is None:
            return
        self.send(
            "rename_project",
            "PATCH",
            f"/projects/{project['id']}",
            {"name": f"{self.person} renamed {self.random.randrange(10**6)}"},
            headers={"If-Match": f'"{project["version"]}"'},
            write="update",
            resource=project_path(project["id"]),
        )

    def share(self) -> None:
        project = self.pick("owner" if self.kind != "admin" else "any")
        if project is None:
            return
        name = self.random.choice([n for n in PEOPLE if n not in (self.person, "root")])
        uid = self.shared.users.uids[name]
        if uid == project["ownerId"]:
            return
        role = "viewer" if PEOPLE[name][0] == "viewer" or self.random.random() < 0.3 else "editor"
        resource = project_path(project["id"])
        headers = {"If-Match": f'"{project["version"]}"'}
        if self.random.random() < 0.3:
            self.send(
                "share_by_email",
                "POST",
                f"/projects/{project['id']}/members",
                {"email": Users.email(name), "role": role},
                headers=headers,
                write="update",
                resource=resource,
            )
        else:
            self.send(
                "share",
                "PUT",
                f"/projects/{project['id']}/members/{uid}",
                {"role": role},
                headers=headers,
                write="update",
                resource=resource,
            )

    def unshare(self) -> None:
        project = self.pick("owner")
        if project is None or not (project["editors"] or project["viewers"]):
            return
        uid = self.random.choice([*project["editors"], *project["viewers"]])
        self.send(
            "unshare",
            "DELETE",
            f"/projects/{project['id']}/members/{uid}",
            headers={"If-Match": f'"{project["version"]}"'},
            write="update",
            resource=project_path(project["id"]),
        )

    def leave(self) -> None:
        project = self.pick("editor")
        if project is None:
            return
        self.send(
            "leave",
            "DELETE",
            f"/projects/{project['id']}/members/{self.uid}",
            write="update",
            resource=project_path(project["id"]),
        )

    def delete_project(self) -> None:
        project = self.pick("owner" if self.kind != "admin" else "any")
        if project is None:
            return
        call, _, _ = self.send(
            "delete_project",
            "DELETE",
            f"/projects/{project['id']}",
            headers={"If-Match": f'"{project["version"]}"'},
            write="delete",
            resource=project_path(project["id"]),
        )
        if call.acknowledged or call.status == 404:
            self.shared.world.forget(project["id"])

    def get_project(self) -> None:
        project = self.pick("reader" if self.kind != "admin" else "any")
        if project is None:
            self.list_projects()
            return
        call, _, _ = self.send("get_project", "GET", f"/projects/{project['id']}")
        if call.status == 404 and self.kind == "admin":
            call.seen.append((project_path(project["id"]), None))
            self.shared.world.forget(project["id"])

    def list_projects(self) -> None:
        call, body, _ = self.send("list_projects", "GET", "/projects?limit=10")
        cursor = body.get("nextCursor") if call.acknowledged and isinstance(body, dict) else None
        if cursor and self.random.random() < 0.5:
            self.send("list_projects", "GET", f"/projects?limit=10&cursor={cursor}")

    def list_by_owner(self) -> None:
        owner = self.shared.users.uids[self.random.choice(["alice", "bob"])]
        self.send("list_projects", "GET", f"/projects?limit=20&ownerId={owner}")

    def me(self) -> None:
        self.send("me", "GET", "/me")

    # --- tasks ---

    def create_task(self) -> None:
        project = self.pick(self.writes_as)
        if project is None:
            return
        if len(self.shared.world.tasks_of(project["id"])) >= 12:
            self.delete_task()
            return
        members = [*project["editors"], *project["viewers"], project["ownerId"]]
        assignee = self.random.choice([*members, None, None])
        tag = f"chaos:{uuid.uuid4().hex}"
        call, _, _ = self.send(
            "create_task",
            "POST",
            f"/projects/{project['id']}/tasks",
            {"title": f"task by {self.person}", "notes": tag, "assigneeId": assignee},
            write="create",
            tag=tag,
        )
        if call.acknowledged and call.seen:
            call.resource = call.seen[0][0]

    def _some_task(self, relation: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        project = self.pick(relation)
        if project is None:
            return None
        tasks = self.shared.world.tasks_of(project["id"])
        if relation == "viewer":
            tasks = [t for t in tasks if t["assigneeId"] == self.uid]
        return (project, self.random.choice(tasks)) if tasks else None

    def tick_task(self) -> None:
        found = self._some_task("viewer" if self.kind == "viewer" else self.writes_as)
        if found is None:
            self.list_tasks()
            return
        project, task = found
        self.send(
            "tick_task",
            "PATCH",
            f"/projects/{project['id']}/tasks/{task['id']}",
            {"done": not task["done"]},
            headers={"If-Match": f'"{task["version"]}"'},
            write="update",
            resource=task_path(project["id"], task["id"]),
        )

    def delete_task(self) -> None:
        found = self._some_task(self.writes_as)
        if found is None:
            return
        project, task = found
        call, _, _ = self.send(
            "delete_task",
            "DELETE",
            f"/projects/{project['id']}/tasks/{task['id']}",
            headers={"If-Match": f'"{task["version"]}"'},
            write="delete",
            resource=task_path(project["id"], task["id"]),
        )
        if call.acknowledged or call.status == 404:
            self.shared.world.forget(project["id"], task["id"])

    def list_tasks(self) -> None:
        project = self.pick("reader" if self.kind != "admin" else "any")
        if project is None:
            return
        done = self.random.choice(["", "&done=false", "&done=true"])
        self.send("list_tasks", "GET", f"/projects/{project['id']}/tasks?limit=10{done}")

    # --- the admin ---

    def change_roles(self) -> None:
        target = self.shared.users.uids[ROLE_TARGET]
        roles = [] if self.target_roles else ["auditor"]
        call, _, _ = self.send(
            "set_roles",
            "PUT",
            f"/admin/users/{target}/roles",
            {"roles": roles},
            write="roles",
            resource=f"roles/{target}",
        )
        call.roles = roles
        if call.acknowledged:
            self.target_roles = roles
        if not roles:
            # Removal revokes the target's sessions, maybe even when the answer was lost.
            self.shared.revoked(target, call.start, call.end, ROLE_REMOVAL_SLACK)
        elif call.acknowledged:
            self.shared.users.sign_in(ROLE_TARGET, self.shared.auth_host)  # token carries it

    def get_roles(self) -> None:
        target = self.shared.users.uids[ROLE_TARGET]
        self.send("get_roles", "GET", f"/admin/users/{target}/roles")

    def audit(self) -> None:
        self.send("audit", "GET", "/admin/audit?limit=5")


#: Each kind of person's actions and their weights.
WEIGHTS: dict[str, dict[str, float]] = {
    "owner": {
        "create_project": 6,
        "rename_project": 8,
        "share": 7,
        "unshare": 4,
        "delete_project": 2,
        "create_task": 10,
        "tick_task": 8,
        "delete_task": 4,
        "list_projects": 6,
        "get_project": 6,
        "list_tasks": 5,
        "me": 2,
    },
    "editor": {
        "rename_project": 4,
        "create_task": 8,
        "tick_task": 8,
        "delete_task": 3,
        "leave": 0.5,
        "list_projects": 6,
        "get_project": 6,
        "list_tasks": 6,
        "me": 2,
    },
    "viewer": {"list_projects": 6, "get_project": 6, "list_tasks": 6, "tick_task": 6, "me": 2},
    "admin": {
        "get_project": 4,
        "list_by_owner": 3,
        "audit": 2,
        "get_roles": 2,
        "rename_project": 2,
        "share": 1,
        "delete_project": 0.5,
        "me": 1,
    },
}


def probe(
    kind: str, base_url: str, users: Users, recorder: Recorder, stop: threading.Event
) -> Call | None:
    """Ask until a request that needs the restarted emulator succeeds; returns that call.

    Firestore: the first owner's project list (one query). Auth: the admin reading a
    user's roles (a fresh user record for the admin, then the target's record)."""
    actor = "alice" if kind == "firestore" else "root"
    client = Client(base_url, actor, users, recorder)
    path = (
        "/projects?limit=1"
        if kind == "firestore"
        else f"/admin/users/{users.uids[ROLE_TARGET]}/roles"
    )
    while not stop.is_set():
        call, _, _ = client.call(f"probe_{kind}", "GET", path)
        if call.acknowledged:
            return call
        stop.wait(0.05)
    return None
