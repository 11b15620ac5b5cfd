"""Target 6: the server's resident memory after 10k and after 50k requests.

Requests cycle over more distinct users than the revocation cache may hold
(``REVOCATION_CACHE_SIZE`` is lowered for this run so that the bound is reached and
exercised within the run): if any per-user state were unbounded, RSS would keep
growing between the two readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import env, load


@dataclass
class Memory:
    users: int
    cache_size: int
    readings: list[tuple[int, int]]  # (requests so far, RSS KiB of the worker)
    errors: int
    auth_lookups: int
    generator: str

    @property
    def growth_pct(self) -> float:
        (_, first), (_, last) = self.readings[-2], self.readings[-1]
        return (last - first) / first * 100 if first else 0.0


def _drive(server: env.Server, tokens_file: Path, tokens: list[str], count: int) -> load.Result:
    url = server.url
    if load.generator_name() == "wrk":
        target = server.stats()["requests"] + count
        return load.wrk_until(
            url,
            lambda: server.stats()["requests"] >= target,
            connections=8,
            script="tokens.lua",
            script_args=[str(tokens_file), "0", "/me"],
        )

    def request_for(index: int) -> tuple[str, str, bytes | None, dict[str, str]]:
        return "GET", "/me", None, {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}

    return load.python_load(url, connections=8, seconds=600, request_for=request_for, limit=count)


def measure(
    emulators: env.Emulators,
    cert_url: str,
    logdir: Path,
    *,
    users: int,
    cache_size: int,
    checkpoints: list[int],
) -> Memory:
    uids = [f"mem-{n:05d}" for n in range(users)]
    emulators.create_users(uids)
    tokens = [env.token(uid) for uid in uids]
    tokens_file = logdir / "memory-tokens.txt"
    tokens_file.write_text("\n".join(tokens) + "\n")
    extra = {
        "BENCH_CERT_URL": cert_url,
        "BENCH_USER_BACKEND": emulators.auth_host,
        "FIRESTORE_EMULATOR_HOST": emulators.firestore_host,
        "BENCH_INSTRUMENT": "1",
        "REVOCATION_CACHE_SIZE": str(cache_size),
    }
    readings: list[tuple[int, int]] = []
    errors = 0
    done = 0
    generator = load.generator_name()
    with env.serve(extra, logdir=logdir, name="memory") as server:
        for checkpoint in checkpoints:
            result = _drive(server, tokens_file, tokens, checkpoint - done)
            errors += result.errors
            done = int(server.stats()["requests"])
            readings.append((done, env.rss_kib(server.worker_pid())))
        lookups = int(server.stats()["auth"].get("accounts:lookup", [0])[0])
    return Memory(users, cache_size, readings, errors, lookups, generator)
