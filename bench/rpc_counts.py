"""Target 4: Firestore RPCs (and Auth backend calls) per operation, counted, not timed.

Each operation is one request to the instrumented server with nothing else running;
the counters are read before and after it. The counts are deterministic, so
``tests/integration/test_rpc_counts.py`` asserts the same numbers in CI.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import env

#: Billed document operations for each RPC kind, as Firestore bills them.
TARGETS = {
    "create": "1 commit (+ idempotency record if present)",
    "create, Idempotency-Key": "claim the key (1 commit) + project and record in 1 commit",
    "get": "1 read",
    "patch": "one transaction: 1 read + 1 commit",
    "list": "1 query",
    "add member": "one transaction: 1 read + 1 commit (+ 1 Auth lookup: does the uid exist)",
    "delete": "one transaction: 1 read + 1 commit",
    "me": "0 (no Firestore)",
}


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


def _delta(before: dict[str, list[float]], after: dict[str, list[float]]) -> dict[str, int]:
    names = set(before) | set(after)
    counts = {n: int(after.get(n, [0])[0]) - int(before.get(n, [0])[0]) for n in names}
    return {name: count for name, count in sorted(counts.items()) if count}


def measure(server: env.Server, emulators: env.Emulators) -> list[Operation]:
    owner, member = "rpc-owner", "rpc-member"
    server.quiesce()
    emulators.create_users([owner, member])
    headers = {"Authorization": f"Bearer {env.token(owner)}"}
    env.http("GET", server.url + "/me", headers=headers)  # the session check, cached after this
    operations: list[Operation] = []

    def run(name: str, method: str, path: str, body: object = None, **extra: str) -> object:
        before = server.stats()
        status, reply = env.http(method, server.url + path, headers={**headers, **extra}, body=body)
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
    run("get", "GET", f"/projects/{project_id}")
    run("patch", "PATCH", f"/projects/{project_id}", {"description": "edited"})
    run("list", "GET", "/projects?limit=20")
    run("add member", "PUT", f"/projects/{project_id}/members/{member}", {"role": "viewer"})
    run("delete", "DELETE", f"/projects/{project_id}")
    run("me", "GET", "/me")
    return operations
