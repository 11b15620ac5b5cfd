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
    "list": "1 query",
    "patch": "1 read + 1 commit preconditioned on it",
    "add member": "1 read + 1 conditional commit (+ 1 Auth lookup: does the uid exist)",
    "remove member": "1 read + 1 conditional commit",
    "transfer": "1 read + 1 conditional commit (+ 1 Auth lookup: does the new owner exist)",
    "delete": "1 read + 1 conditional commit (the delete)",
    "roles change": "4 commits: take the lease, audit entry, mark it applied, release the lease",
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
    run("delete", "DELETE", path, by=heir)
    run("roles change", "PUT", f"/admin/users/{member}/roles", {"roles": ["auditor"]}, by=admin)
    run("me", "GET", "/me")
    return operations
