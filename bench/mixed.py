"""Target 7: a mixed load by 50 users against the emulators (reads, one-page lists,
edits), with the error rate, p50/p99, and how much of the server's time per request
went to the emulators (Firestore RPCs and Auth calls, timed inside the server)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import env, load


@dataclass
class Mixed:
    users: int
    projects_per_user: int
    connections: int
    result: load.Result
    server_requests: int
    handler_ms: float
    firestore_ms: float
    auth_ms: float
    by_method: dict[str, tuple[int, float]]

    @property
    def emulator_share(self) -> float:
        if not self.handler_ms:
            return 0.0
        return (self.firestore_ms + self.auth_ms) / self.handler_ms


def _seed(server: env.Server, emulators: env.Emulators, users: int, per_user: int) -> list[str]:
    uids = [f"mix-{n:03d}" for n in range(users)]
    emulators.create_users(uids)
    lines = []
    for uid in uids:
        token = env.token(uid)
        ids = []
        for n in range(per_user):
            status, body = env.http(
                "POST",
                server.url + "/projects",
                headers={"Authorization": f"Bearer {token}"},
                body={"name": f"{uid} project {n}"},
            )
            if status != 201 or not isinstance(body, dict):
                raise RuntimeError(f"seeding: expected 201, got {status}: {body}")
            ids.append(body["id"])
        lines.append(" ".join([token, *ids]))
    return lines


def measure(
    server: env.Server,
    emulators: env.Emulators,
    logdir: Path,
    *,
    users: int,
    per_user: int,
    connections: int,
    seconds: float,
) -> Mixed:
    lines = _seed(server, emulators, users, per_user)
    data_file = logdir / "mixed-users.txt"
    data_file.write_text("\n".join(lines) + "\n")
    server.quiesce()
    before = server.stats()
    if load.generator_name() == "wrk":
        result = load.wrk(
            server.url,
            connections=connections,
            seconds=seconds,
            script="mixed.lua",
            script_args=[str(data_file)],
        )
    else:
        result = load.python_load(
            server.url,
            connections=connections,
            seconds=seconds,
            request_for=_python_mix([line.split() for line in lines]),
        )
    server.quiesce()
    after = server.stats()

    def spent(kind: str) -> float:
        return float(sum(after[kind][n][1] - before[kind].get(n, [0, 0.0])[1] for n in after[kind]))

    by_method = {
        name: (
            int(after["firestore"][name][0] - before["firestore"].get(name, [0, 0.0])[0]),
            after["firestore"][name][1] - before["firestore"].get(name, [0, 0.0])[1],
        )
        for name in after["firestore"]
    }
    return Mixed(
        users=users,
        projects_per_user=per_user,
        connections=connections,
        result=result,
        server_requests=after["requests"] - before["requests"],
        handler_ms=(after["handler_seconds"] - before["handler_seconds"]) * 1000,
        firestore_ms=spent("firestore") * 1000,
        auth_ms=spent("auth") * 1000,
        by_method=by_method,
    )


def _python_mix(users: list[list[str]]) -> load.RequestFor:
    def request_for(counter: int) -> tuple[str, str, bytes | None, dict[str, str]]:
        index = counter % len(users)
        user = users[index]
        round_ = counter // len(users)
        project = user[(round_ % (len(user) - 1)) + 1]
        slot = (round_ + index) % 20
        headers = {"Authorization": f"Bearer {user[0]}"}
        if slot < 12:
            return "GET", f"/projects/{project}", None, headers
        if slot < 17:
            return "GET", "/projects?limit=20", None, headers
        body = f'{{"description":"edit {counter}"}}'.encode()
        headers["Content-Type"] = "application/json"
        return "PATCH", f"/projects/{project}", body, headers

    return request_for
