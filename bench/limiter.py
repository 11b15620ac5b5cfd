"""The abuse limiter's cost per request, side by side with doing nothing, in one run.

    .venv/bin/python -m bench.limiter [--requests N]

A request takes one IP token and one user token (``core.rate_limits``); measured for
one hot key and for keys spread over the whole bounded table (10 000 users), single
threaded and with 8 threads contending for the lock. Prints microseconds per request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.rate_limits import Budget, RateLimits

KEYS = 10_000


def limits() -> RateLimits:
    big = Budget(per_minute=10**9, burst=10**9)  # never refuses: we time the bookkeeping
    return RateLimits(ip=big, user_reads=big, user_writes=big, max_keys=KEYS)


def per_request_us(run: Callable[[int], None], requests: int, threads: int) -> float:
    """Median over 5 rounds of wall time per request, in microseconds."""
    rounds = []
    for _ in range(5):
        workers = [
            threading.Thread(target=run, args=(requests // threads,)) for _ in range(threads)
        ]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        rounds.append((time.perf_counter() - started) / requests * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200_000)
    n = parser.parse_args().requests

    def nothing(count: int) -> None:
        for i in range(count):
            (lambda ip, uid: None)("203.0.113.9", f"u{i % KEYS}")

    def hot(count: int) -> None:
        table = shared
        for _ in range(count):
            table.check_ip("203.0.113.9")
            table.check_user("u1", write=False)

    def spread(count: int) -> None:
        table = shared
        for i in range(count):
            table.check_ip(f"198.51.{i % 100}.{i % 250}")
            table.check_user(f"u{i % KEYS}", write=i % 5 == 0)

    print(f"{'case':<34} {'threads':>7} {'us/request':>11}")
    for threads in (1, 8):
        for name, run in (
            ("no limiter (baseline)", nothing),
            ("one hot user", hot),
            ("10 000 users", spread),
        ):
            shared = limits()
            print(f"{name:<34} {threads:>7} {per_request_us(run, n, threads):>11.2f}")


if __name__ == "__main__":
    main()
