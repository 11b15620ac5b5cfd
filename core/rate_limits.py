"""Abuse limits: token buckets per client IP and per user, in process, bounded memory.

Each key (``ip:203.0.113.9``, ``user:<uid>``) has a bucket of ``burst`` tokens refilled
at ``per_minute / 60`` a second; a request takes one token or is refused with the
seconds until one is back. Buckets live in an LRU of at most ``max_keys`` entries, so
memory is bounded whatever the traffic; an evicted key starts again with a full bucket,
which only errs towards letting a request through.

Hand-written because it is twenty lines over ``cachetools.LRUCache``; the token-bucket
libraries on PyPI are either asynchronous or keep state in Redis. These limits are per
instance: a global limit belongs at the edge (API Gateway quotas, Cloud Armor; README).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import LRUCache


@dataclass(frozen=True)
class Budget:
    """``per_minute`` requests on average, ``burst`` at once; 0 per minute: unlimited."""

    per_minute: int
    burst: int

    @property
    def unlimited(self) -> bool:
        return self.per_minute <= 0


class TokenBuckets:
    """One bucket per key; thread-safe."""

    def __init__(
        self,
        budget: Budget,
        *,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._budget = budget
        self._rate = budget.per_minute / 60.0
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(maxsize=max_keys)
        self._clock = clock
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """Take a token for ``key``: ``None`` if granted, else whole seconds to wait."""
        if self._budget.unlimited:
            return None
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self._budget.burst), now))
            tokens = min(float(self._budget.burst), tokens + (now - at) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self._rate))


class RateLimits:
    """The budgets of one instance: per client IP, and per user for reads and writes."""

    def __init__(
        self,
        *,
        ip: Budget,
        user_reads: Budget,
        user_writes: Budget,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ip = TokenBuckets(ip, max_keys=max_keys, clock=clock)
        self._reads = TokenBuckets(user_reads, max_keys=max_keys, clock=clock)
        self._writes = TokenBuckets(user_writes, max_keys=max_keys, clock=clock)

    def check_ip(self, ip: str) -> int | None:
        """Seconds to wait, or ``None``: checked before anything else is done."""
        return self._ip.take(f"ip:{ip}")

    def check_user(self, uid: str, *, write: bool) -> int | None:
        """Seconds to wait, or ``None``: checked before any Auth or Firestore call."""
        return (self._writes if write else self._reads).take(f"user:{uid}")
