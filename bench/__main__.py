"""``python -m bench [--quick] [--out PATH]``: run every bench, print the tables, write
BENCHMARKS.md and its plots. Use ``bench/run``, which prepares the environment."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import (
    coldstart_bench,
    env,
    http_bench,
    load,
    memory,
    mixed,
    report,
    revocation,
    rpc_counts,
    tokens,
)
from tests.unit import tokenforge


@dataclass(frozen=True)
class Sizes:
    token_batch: int
    token_rounds: int
    http_connections: list[int]
    http_seconds: float
    http_rounds: int
    revocation_requests: int
    staleness_window: int
    coldstart_repeats: int
    coldstart_variants: list[str]
    memory_users: int
    memory_cache: int
    memory_checkpoints: list[int]
    mixed_users: int
    mixed_projects: int
    mixed_connections: int
    mixed_seconds: float


FULL = Sizes(
    token_batch=400,
    token_rounds=15,
    http_connections=[1, 8, 32],
    http_seconds=3,
    http_rounds=4,
    revocation_requests=1000,
    staleness_window=2,
    coldstart_repeats=10,
    coldstart_variants=["hello", "floor", "me", "firestore"],
    memory_users=3000,
    memory_cache=1000,
    memory_checkpoints=[10_000, 50_000],
    mixed_users=50,
    mixed_projects=4,
    mixed_connections=25,
    mixed_seconds=20,
)
QUICK = Sizes(
    token_batch=100,
    token_rounds=3,
    http_connections=[8],
    http_seconds=1,
    http_rounds=1,
    revocation_requests=200,
    staleness_window=1,
    coldstart_repeats=1,
    coldstart_variants=["floor", "me"],
    memory_users=300,
    memory_cache=100,
    memory_checkpoints=[1000, 2000],
    mixed_users=10,
    mixed_projects=2,
    mixed_connections=5,
    mixed_seconds=2,
)


def main() -> int:
    # A TERM (CI timeout, Ctrl-C from a wrapper) unwinds the context managers, which stop
    # the emulators and servers this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: every bench, tiny sizes")
    parser.add_argument("--out", type=Path, help="where to write the report (default below)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    out = args.out or (
        env.REPO_ROOT / ".cache" / "bench-quick" / "BENCHMARKS.md"
        if args.quick
        else env.REPO_ROOT / "BENCHMARKS.md"
    )
    command = "bench/run" + (" --quick" if args.quick else "")
    logdir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    env.log(f"{'quick' if args.quick else 'full'} run; logs in {logdir}")
    started = time.monotonic()
    results: dict[str, Any] = {
        "command": command,
        "quick": args.quick,
        "machine": env.machine(),
        "generator": load.generator_name(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "sizes": asdict(sizes),
    }
    results["differential"] = (
        {"command": "(skipped in --quick: CI runs it)", "ok": True, "summary": "skipped"}
        if args.quick
        else _differential_table()
    )

    with env.key_server() as keys:

        def token_bench() -> None:
            env.log("target 1: token verification (while the emulators start)")
            results["tokens"] = tokens.measure(
                keys.url, batch=sizes.token_batch, rounds=sizes.token_rounds
            )

        with env.emulators(while_starting=token_bench) as emulators:
            _with_emulators(results, sizes, keys, emulators, logdir)
    results["seconds"] = time.monotonic() - started
    text = report.render(results, out)
    print(text)
    raw = env.REPO_ROOT / ".cache" / "bench-results.json"
    raw.parent.mkdir(exist_ok=True)
    raw.write_text(json.dumps(results, default=_plain, indent=1))
    env.log(f"wrote {out} in {results['seconds']:.0f} s")
    return 0


def _with_emulators(
    results: dict[str, Any],
    sizes: Sizes,
    keys: tokenforge.CertServer,
    emulators: env.Emulators,
    logdir: Path,
) -> None:
    extra = {
        "BENCH_CERT_URL": keys.url,
        "BENCH_USER_BACKEND": emulators.auth_host,
        "FIRESTORE_EMULATOR_HOST": emulators.firestore_host,
        "BENCH_INSTRUMENT": "1",
    }
    with env.serve(extra, logdir=logdir, name="main") as server:
        emulators.create_users(["http-user"])
        env.log("target 2: HTTP throughput (hello, /me, naive), side by side")
        cells = http_bench.measure(
            server,
            env.token("http-user"),
            connections=sizes.http_connections,
            seconds=sizes.http_seconds,
            rounds=sizes.http_rounds,
            endpoints=list(http_bench.ENDPOINTS),
        )
        results["http"] = list(cells.values())
        env.log("target 3: Auth calls per 1,000 requests")
        results["revocation_counts"] = revocation.count_calls(
            server, emulators, sizes.revocation_requests
        )
        env.log("target 4: Firestore RPCs per operation")
        results["rpc"] = rpc_counts.measure(server, emulators)
        env.log("target 7: mixed load against the emulators")
        results["mixed"] = mixed.measure(
            server,
            emulators,
            logdir,
            users=sizes.mixed_users,
            per_user=sizes.mixed_projects,
            connections=sizes.mixed_connections,
            seconds=sizes.mixed_seconds,
        )
    env.log("target 3: staleness of a revoked token")
    results["staleness"] = revocation.staleness(
        emulators, keys.url, logdir, window=sizes.staleness_window
    )
    env.log("target 5: cold start")
    emulators.create_users(["cold-user"])
    cold_env = {k: v for k, v in extra.items() if k != "BENCH_INSTRUMENT"}
    cold_token = env.token("cold-user")
    results["coldstart"] = coldstart_bench.measure(
        cold_env,
        cold_token,
        logdir,
        repeats=sizes.coldstart_repeats,
        variants=sizes.coldstart_variants,
    )
    results["coldstart_probe"] = coldstart_bench.probe(cold_env, cold_token)
    env.log("target 6: memory")
    results["memory"] = memory.measure(
        emulators,
        keys.url,
        logdir,
        users=sizes.memory_users,
        cache_size=sizes.memory_cache,
        checkpoints=sizes.memory_checkpoints,
    )


def _differential_table() -> dict[str, Any]:
    """Run the production-path token tables (both implementations) and count outcomes."""
    command = [
        env.PYTHON,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/unit/test_tokens_production.py",
        "tests/unit/test_keys.py",
        "tests/unit/test_keys_verified_tokens.py",
    ]
    completed = subprocess.run(  # noqa: S603 - our interpreter and tests
        command, cwd=env.REPO_ROOT, capture_output=True, text=True, check=False, timeout=600
    )
    summary = (completed.stdout.strip().splitlines() or ["(no output)"])[-1]
    return {
        "command": shlex.join(["python", *command[1:]]),
        "ok": completed.returncode == 0,
        "summary": summary,
    }


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
