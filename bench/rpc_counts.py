"""Target 4: Firestore RPCs (and Auth backend calls) per operation, counted, not timed.

Each operation is one request to the instrumented server with nothing else running;
the counters are read before and after it. The counts are deterministic, so
``tests/integration/test_rpc_counts.py`` asserts the same numbers in CI.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import env

#: What each operation should cost, in words (the report's "target" column). The exact
#: counts are ``EXPECTED`` below.
TARGETS = {
    "create": "1 commit",
    "create, Idempotency-Key": "claim the key (1 commit) + project and record in 1 commit",
    "get": "1 read",
    "list": "1 query",
    "patch": "1 read + 1 commit preconditioned on it",
    "add member": (
        "1 read + 1 preconditioned commit with the audit entry "
        "(+ 1 Auth lookup: does the uid exist)"
    ),
    "remove member": "1 read + 1 preconditioned commit with the audit entry",
    "transfer": (
        "1 read + 1 preconditioned commit with the audit entry "
        "(+ 1 Auth lookup: does the new owner exist)"
    ),
    "create task": "1 transaction: begin, 1 batchGet (project + task), commit",
    "get task": "1 batchGet (project + task)",
    "list tasks": "1 batchGet (the project) + 1 query per page",
    "patch task": "1 transaction: begin, 1 batchGet (project + task), commit",
    "set task done": "1 transaction: begin, 1 batchGet (project + task), commit",
    "delete task": "1 transaction: begin, 1 batchGet (project + task), commit",
    "delete": (
        "1 read + 1 preconditioned commit with the audit entry + 1 query for the project's tasks"
    ),
    "roles change": (
        "3 commits + 1 read: take the lease, audit entry, lease still held?, "
        "applied + release in one fenced commit"
    ),
    "me": "0 (no Firestore)",
}

_READ_AND_COMMIT = {"batch_get_documents": 1, "commit": 1}
_TRANSACTION = {"begin_transaction": 1, "batch_get_documents": 1, "commit": 1}

#: The deterministic Firestore RPCs of each operation, as
#: ``tests/integration/test_rpc_counts.py`` asserts them.
EXPECTED: dict[str, dict[str, int]] = {
    "create": {"commit": 1},
    "create, Idempotency-Key": {"commit": 2},
    "get": {"batch_get_documents": 1},
    "list": {"run_query": 1},
    "patch": _READ_AND_COMMIT,
    "add member": _READ_AND_COMMIT,
    "remove member": _READ_AND_COMMIT,
    "transfer": _READ_AND_COMMIT,
    "create task": _TRANSACTION,
    "get task": {"batch_get_documents": 1},
    "list tasks": {"batch_get_documents": 1, "run_query": 1},
    "patch task": _TRANSACTION,
    "set task done": _TRANSACTION,
    "delete task": _TRANSACTION,
    "delete": {**_READ_AND_COMMIT, "run_query": 1},
    "roles change": {"commit": 3, "batch_get_documents": 1},
    "me": {},
}

#: The Auth calls each operation needs whatever the caches hold. A response with a
#: project may add one ``accounts:lookup`` of member profiles (email, display name) not
#: in the profile cache (5 minutes): ``PROFILE_LOOKUP_MAY_ADD`` names those operations.
EXPECTED_AUTH: dict[str, dict[str, int]] = {
    "add member": {"accounts:lookup": 1},
    "transfer": {"accounts:lookup": 1},
    "roles change": {"accounts:lookup": 2, "accounts:update": 1},
}
PROFILE_LOOKUP_MAY_ADD = frozenset(
    {"create", "create, Idempotency-Key", "get", "patch", "add member", "remove member", "transfer"}
)


@dataclass
class Operation:
    name: str
    method: str
    path: str
    status: int
    firestore: dict[str, int]
    auth: dict[str, int]

    @property
    def firestore_total(self) -> int:
        return sum(self.firestore.values())

    @property
    def ok(self) -> bool:
        """Succeeded, with exactly the expected Firestore RPCs and the expected Auth calls
        (plus at most one profile lookup where a project is answered)."""
        if self.status >= 300 or self.firestore != EXPECTED[self.name]:
            return False
        auth = dict(EXPECTED_AUTH.get(self.name, {}))
        if self.auth == auth:
            return True
        auth["accounts:lookup"] = auth.get("accounts:lookup", 0) + 1
        return self.name in PROFILE_LOOKUP_MAY_ADD and self.auth == auth


def _delta(before: dict[str, list[float]], after: dict[str, list[float]]) -> dict[str, int]:
    names = set(before) | set(after)
    counts = {n: int(after.get(n, [0])[0]) - int(before.get(n, [0])[0]) for n in names}
    return {name: count for name, count in sorted(counts.items()) if count}


def measure(server: env.Server, emulators: env.Emulators) -> list[Operation]:
    owner, member, heir, admin = "rpc-owner", "rpc-member", "rpc-heir", "rpc-admin"
    server.quiesce()
    emulators.create_users([owner, member, heir, admin])
    emulators.set_claims(admin, {"roles": ["admin"]})
    headers = {uid: {"Authorization": f"Bearer {env.token(uid)}"} for uid in (owner, member, heir)}
    headers[admin] = {"Authorization": f"Bearer {env.token(admin, roles=['admin'])}"}
    for uid in (owner, heir):  # the session check, cached after this
        env.http("GET", server.url + "/me", headers=headers[uid])
    operations: list[Operation] = []

    def run(
        name: str, method: str, path: str, body: object = None, *, by: str = owner, **extra: str
    ) -> object:
        before = server.stats()
        status, reply = env.http(
            method, server.url + path, headers={**headers[by], **extra}, body=body
        )
        after = server.stats()
        operations.append(
            Operation(
                name,
                method,
                path,
                status,
                _delta(before["firestore"], after["firestore"]),
                _delta(before["auth"], after["auth"]),
            )
        )
        return reply

    created = run("create", "POST", "/projects", {"name": "counted"})
    run(
        "create, Idempotency-Key",
        "POST",
        "/projects",
        {"name": "once"},
        **{"Idempotency-Key": "bench-1"},
    )
    project_id = created["id"] if isinstance(created, dict) else "missing"
    path = f"/projects/{project_id}"
    run("get", "GET", path)
    run("list", "GET", "/projects?limit=20")
    run("patch", "PATCH", path, {"description": "edited"})
    run("add member", "PUT", f"{path}/members/{member}", {"role": "viewer"})
    run("remove member", "DELETE", f"{path}/members/{member}")
    run("transfer", "POST", f"{path}/transfer", {"ownerId": heir})
    tasks = f"{path}/tasks"
    task = run("create task", "POST", tasks, {"title": "counted"}, by=heir)
    task_path = f"{tasks}/{task['id'] if isinstance(task, dict) else 'missing'}"
    run("get task", "GET", task_path, by=heir)
    run("list tasks", "GET", f"{tasks}?limit=20&done=false", by=heir)
    run("patch task", "PATCH", task_path, {"title": "renamed", "assigneeId": heir}, by=heir)
    run("set task done", "PATCH", task_path, {"done": True}, by=heir)
    run("delete task", "DELETE", task_path, by=heir)
    run("delete", "DELETE", path, by=heir)
    run("roles change", "PUT", f"/admin/users/{member}/roles", {"roles": ["auditor"]}, by=admin)
    run("me", "GET", "/me")
    return operations
