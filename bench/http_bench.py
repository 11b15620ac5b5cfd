"""Target 2 (and the naive pattern beside it): req/s, p50 and p99 of one server.

The same functions-framework process (gunicorn, 1 worker, 8 threads) serves every
endpoint; runs are interleaved endpoint by endpoint and repeated, and the median run of
each is reported. The server's CPU time over each run gives CPU-ms per request (for the
cost table).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench import env, load

ENDPOINTS = {
    "hello": ("/hello", False, "unauthenticated JSON, same HTTP shell (baseline)"),
    "hello_header": (
        "/hello?with=token",
        True,
        "the same, sent the same ~1 KB Authorization header, which it ignores: what "
        "carrying a token costs the server before anyone verifies it",
    ),
    "me": ("/me", True, "project: GET /me, RS256 fast path + cached revocation check"),
    "naive": ("/naive/me", True, "naive: verify_id_token per request"),
    "naive_revoked": (
        "/naive/me?check_revoked=1",
        True,
        "naive: verify_id_token(check_revoked=True) per request",
    ),
}


@dataclass
class Cell:
    endpoint: str
    connections: int
    runs: list[load.Result]

    def _median(self, attribute: str) -> float:
        return float(statistics.median(getattr(run, attribute) for run in self.runs))

    @property
    def rps(self) -> float:
        return self._median("rps")

    @property
    def p50_ms(self) -> float:
        return self._median("p50_ms")

    @property
    def p99_ms(self) -> float:
        return self._median("p99_ms")

    @property
    def cpu_ms(self) -> float:
        return self._median("cpu_ms_per_request")

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs)


def measure(
    server: env.Server,
    token: str,
    *,
    connections: list[int],
    seconds: float,
    rounds: int,
    endpoints: list[str],
) -> dict[tuple[str, int], Cell]:
    headers = {"Authorization": f"Bearer {token}"}
    for name in endpoints:  # warm: keys fetched, user record cached, code paths hot
        path, auth, _ = ENDPOINTS[name]
        statuses, _ = load.sequential(server.url + path, 200, headers if auth else None)
        if set(statuses) != {200}:
            raise RuntimeError(f"{name}: expected 200 while warming up, got {set(statuses)}")
    cells: dict[tuple[str, int], Cell] = {}
    for _ in range(rounds):
        for count in connections:
            for name in endpoints:
                path, auth, _ = ENDPOINTS[name]
                cpu_before = env.cpu_seconds(server.pid)
                result = load.run(
                    server.url + path,
                    connections=count,
                    seconds=seconds,
                    headers=headers if auth else None,
                )
                cpu = env.cpu_seconds(server.pid) - cpu_before
                result.cpu_ms_per_request = cpu * 1000 / max(1, result.requests)
                cells.setdefault((name, count), Cell(name, count, [])).runs.append(result)
    return cells
