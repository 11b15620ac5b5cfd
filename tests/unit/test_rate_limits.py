"""Abuse limits: token buckets (pure, with a fake clock) and the 429 over HTTP."""

from __future__ import annotations

import pytest
from flask import Request, Response

from app import build_container
from core.rate_limits import Budget, RateLimits, TokenBuckets
from core.settings import Settings
from handlers.endpoints import NO_POLICY_PUBLIC, PUBLIC
from handlers.http import Function
from handlers.responses import json_response
from tests.entry_points import flask_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_one_token_per_refill_interval() -> None:
    clock = Clock()
    buckets = TokenBuckets(Budget(per_minute=60, burst=3), max_keys=10, clock=clock)
    assert [buckets.take("k") for _ in range(3)] == [None, None, None]
    assert buckets.take("k") == 1  # one token a second: wait a second
    clock.now += 1
    assert buckets.take("k") is None
    assert buckets.take("k") == 1


def test_the_wait_is_whole_seconds_until_a_token_is_back() -> None:
    clock = Clock()
    buckets = TokenBuckets(Budget(per_minute=6, burst=1), max_keys=10, clock=clock)
    assert buckets.take("k") is None
    assert buckets.take("k") == 10  # six a minute: one every ten seconds
    clock.now += 4
    assert buckets.take("k") == 6


def test_keys_have_their_own_buckets() -> None:
    buckets = TokenBuckets(Budget(per_minute=60, burst=1), max_keys=10, clock=Clock())
    assert (buckets.take("a"), buckets.take("b")) == (None, None)
    assert buckets.take("a") == 1


def test_memory_is_bounded_and_an_evicted_key_starts_full() -> None:
    buckets = TokenBuckets(Budget(per_minute=60, burst=1), max_keys=2, clock=Clock())
    for key in ("a", "b", "c"):  # "a" is evicted by "c"
        assert buckets.take(key) is None
    assert len(buckets._buckets) == 2
    assert buckets.take("a") is None  # errs towards letting it through


def test_zero_per_minute_is_unlimited() -> None:
    buckets = TokenBuckets(Budget(per_minute=0, burst=0), max_keys=1, clock=Clock())
    assert all(buckets.take("k") is None for _ in range(1000))


def test_writes_are_budgeted_apart_from_reads() -> None:
    limits = RateLimits(
        ip=Budget(0, 0),
        user_reads=Budget(600, 5),
        user_writes=Budget(60, 1),
        max_keys=10,
        clock=Clock(),
    )
    assert limits.check_user("u", write=True) is None
    assert limits.check_user("u", write=True) == 1
    assert all(limits.check_user("u", write=False) is None for _ in range(5))


def ok(request: Request, needed: object) -> Response:
    return json_response({"ok": True})


@pytest.mark.parametrize(
    ("deployed", "forwarded", "separate"),
    [
        (False, None, False),
        (True, "198.51.100.1", True),
        (True, "203.0.113.66, 198.51.100.1", True),
    ],
    ids=["local_by_remote_address", "deployed_by_forwarded_for", "forged_first_hop_ignored"],
)
def test_over_the_ip_budget_is_429_with_retry_after(
    deployed: bool, forwarded: str | None, separate: bool
) -> None:
    settings = Settings(
        project_id="demo-unit", rate_limit_ip_per_minute=60, k_service="fn" if deployed else None
    )
    function = Function("things", needs=lambda _: None)
    function.endpoint(
        "GET", "/things", operation_id="things", summary="", access=PUBLIC, policy=NO_POLICY_PUBLIC
    )(ok)
    # A frozen clock: no token comes back while the test runs, however slow the machine.
    limits = RateLimits(
        ip=Budget(60, 12),
        user_reads=Budget(0, 0),
        user_writes=Budget(0, 0),
        max_keys=100,
        clock=Clock(),
    )
    container = build_container(settings, rate_limits=limits)
    client = flask_app(function.bind(container)).test_client()
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    statuses = [client.get("/things", headers=headers).status_code for _ in range(13)]
    assert statuses == [200] * 12 + [429]  # a burst of 12
    refused = client.get("/things", headers=headers)
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "1"
    if separate:
        # Another client address (the last X-Forwarded-For entry) has its own budget,
        # whatever a client puts before it.
        other = client.get("/things", headers={"X-Forwarded-For": "203.0.113.66, 192.0.2.7"})
        assert other.status_code == 200
