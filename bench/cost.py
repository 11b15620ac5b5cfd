"""Target 8: what a million authenticated requests cost, project vs naive.

List prices (USD), as published on the providers' pricing pages (late 2025); they vary
by region and change over time, so they are named here, once, and printed beside the
table. Billing model: Cloud Functions gen2 runs on Cloud Run, which bills an instance's
vCPU and memory while it serves at least one request (request-based billing), in
100 ms steps, shared by concurrent requests. A saturated 1-vCPU instance therefore
costs ``1 / throughput`` instance-seconds per request, which is what we measure.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Cloud Run / Cloud Functions gen2, Tier 1 region, request-based billing.
VCPU_SECOND = 0.000024
GIB_SECOND = 0.0000025
PER_MILLION_REQUESTS = 0.40
#: Firestore, multi-region (nam5 / eur3) list prices per 100,000 document operations.
FIRESTORE_READ_100K = 0.06
FIRESTORE_WRITE_100K = 0.18
FIRESTORE_DELETE_100K = 0.02
#: Firebase Auth user lookups (Admin API) are not billed per call; they are rate-limited.
AUTH_LOOKUP = 0.0

#: The deployment the figures assume (see BENCHMARKS.md, "Production settings").
INSTANCE_VCPU = 1.0
INSTANCE_GIB = 0.5
CONCURRENCY = 8
#: A production round trip to the Auth backend, assumed (loopback is ~1 ms).
ASSUMED_AUTH_RTT_MS = 20.0

PRICES = {
    "vCPU-second (Cloud Run functions, Tier 1, request-based)": f"${VCPU_SECOND}",
    "GiB-second": f"${GIB_SECOND}",
    "requests": f"${PER_MILLION_REQUESTS} per million",
    "Firestore document reads (multi-region)": f"${FIRESTORE_READ_100K} per 100,000",
    "Firestore document writes (multi-region)": f"${FIRESTORE_WRITE_100K} per 100,000",
    "Firestore document deletes (multi-region)": f"${FIRESTORE_DELETE_100K} per 100,000",
    "Firebase Auth user lookups (Admin API)": "not billed per call (rate-limited)",
}


@dataclass
class CostRow:
    pattern: str
    rps: float
    cpu_ms: float
    auth_calls_per_request: float
    firestore_reads: float = 0.0
    firestore_writes: float = 0.0
    firestore_deletes: float = 0.0
    auth_wait_ms: float = 0.0

    def instance_seconds_per_request(self, auth_rtt_ms: float | None = None) -> float:
        cpu_bound = 1 / self.rps if self.rps else 0.0
        if auth_rtt_ms is None:
            return cpu_bound
        # Each request holds one of CONCURRENCY slots while it waits for the Auth backend.
        waiting = self.auth_calls_per_request * auth_rtt_ms / 1000 / CONCURRENCY
        return cpu_bound + waiting

    def per_million(self, auth_rtt_ms: float | None = None) -> float:
        instance = self.instance_seconds_per_request(auth_rtt_ms) * 1e6
        compute = instance * (INSTANCE_VCPU * VCPU_SECOND + INSTANCE_GIB * GIB_SECOND)
        firestore = 10 * (
            self.firestore_reads * FIRESTORE_READ_100K
            + self.firestore_writes * FIRESTORE_WRITE_100K
            + self.firestore_deletes * FIRESTORE_DELETE_100K
        )
        auth = self.auth_calls_per_request * AUTH_LOOKUP
        return compute + PER_MILLION_REQUESTS + firestore + auth
