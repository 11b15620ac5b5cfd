"""Target 3: Auth backend calls per 1,000 requests of one user, and how soon a revoked
token is refused, for the project and for ``verify_id_token(check_revoked=True)``.

Calls are counted inside the server, at firebase-admin's HTTP client (every user-record
lookup is one real HTTP call to the Auth emulator). Revocation is what
``revoke_refresh_tokens`` does: the account's ``validSince`` moves to now.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench import env, load

LOOKUP = "accounts:lookup"


@dataclass
class Counts:
    pattern: str
    requests: int
    auth_calls: int
    seconds: float
    statuses: list[int]


@dataclass
class Staleness:
    window_seconds: int
    privileged_refused_after_s: float | None
    privileged_status: int
    plain_refused_after_s: float | None
    naive_refused_after_s: float | None


def _lookups(server: env.Server) -> int:
    calls = server.stats()["auth"].get(LOOKUP, [0, 0.0])
    return int(calls[0])


def count_calls(server: env.Server, emulators: env.Emulators, requests: int) -> list[Counts]:
    server.quiesce()
    rows: list[Counts] = []
    for pattern, path, uid in [
        ("project: GET /me", "/me", "rev-count-project"),
        (
            "naive: verify_id_token(check_revoked=True)",
            "/naive/me?check_revoked=1",
            "rev-count-naive",
        ),
    ]:
        emulators.create_users([uid])
        headers = {"Authorization": f"Bearer {env.token(uid)}"}
        before = _lookups(server)
        started = time.perf_counter()
        statuses, _ = load.sequential(server.url + path, requests, headers)
        elapsed = time.perf_counter() - started
        rows.append(
            Counts(pattern, requests, _lookups(server) - before, elapsed, sorted(set(statuses)))
        )
    return rows


def staleness(emulators: env.Emulators, cert_url: str, logdir: Path, *, window: int) -> Staleness:
    """On a server whose staleness window is ``window`` seconds: revoke, then see how long
    the old token keeps working for plain, privileged and naive requests."""
    uid = "rev-stale-user"
    emulators.create_users([uid])
    # Accounts are valid since their creation second, and revocation is recorded in
    # whole seconds: mint now, revoke in a later second.
    old_token = env.token(uid)
    headers = {"Authorization": f"Bearer {old_token}"}
    extra = {
        "BENCH_CERT_URL": cert_url,
        "BENCH_USER_BACKEND": emulators.auth_host,
        "FIRESTORE_EMULATOR_HOST": emulators.firestore_host,
        "REVOCATION_CHECK_MAX_AGE_SECONDS": str(window),
    }
    with env.serve(extra, logdir=logdir, name="revocation") as server:
        for path in ("/me", "/naive/me?check_revoked=1"):
            status, body = env.http("GET", server.url + path, headers=headers)
            if status != 200:
                raise RuntimeError(f"{path}: expected 200 before revocation, got {status} {body}")
        time.sleep(1.1)
        revoked_at = time.monotonic()
        emulators.revoke(uid)
        privileged_status, _ = env.http(
            "GET", f"{server.url}/admin/users/{uid}/roles", headers=headers
        )
        privileged_after = time.monotonic() - revoked_at if privileged_status == 401 else None
        naive_status, _ = env.http("GET", server.url + "/naive/me?check_revoked=1", headers=headers)
        naive_after = time.monotonic() - revoked_at if naive_status == 401 else None
        plain_after = None
        while time.monotonic() - revoked_at < window + 5:
            status, _ = env.http("GET", server.url + "/me", headers=headers)
            if status == 401:
                plain_after = time.monotonic() - revoked_at
                break
            time.sleep(0.05)
    return Staleness(window, privileged_after, privileged_status, plain_after, naive_after)
