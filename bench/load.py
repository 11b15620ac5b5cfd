"""Load generation: wrk when installed, else a Python generator (labelled as such)."""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"


@dataclass
class Result:
    """One load run against one URL."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    generator: str
    cpu_ms_per_request: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def generator_name() -> str:
    return "wrk" if shutil.which("wrk") else "python"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if match is None:
        raise ValueError(f"expected a wrk latency like 1.23ms, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    script: str | None = None,
    script_args: Sequence[str] = (),
) -> Result:
    """``wrk -t1 -c<connections> -d<seconds>s --latency``; 1 thread (the server has 2 cores
    to share with it)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    command += ["--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(LUA_DIR / script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    output = subprocess.run(  # noqa: S603 - wrk with our arguments
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    return _parse_wrk(output)


def _parse_wrk(output: str) -> Result:
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    if total is None:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    duration = float(total.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[total.group(3)]
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Result(
        requests=int(total.group(1)),
        seconds=duration,
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        errors=errors,
        generator="wrk",
    )


RequestFor = Callable[[int], tuple[str, str, bytes | None, Mapping[str, str]]]


def wrk_until(
    url: str,
    done: Callable[[], bool],
    *,
    connections: int,
    script: str,
    script_args: Sequence[str],
    max_seconds: float = 600,
) -> Result:
    """wrk until ``done()`` (polled every 0.2 s) says stop; wrk is then interrupted and
    reports what it did. wrk has no request-count limit of its own."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{round(max_seconds)}s", "--latency"]
    command += ["--timeout", "10s", "-s", str(LUA_DIR / script), url, "--", *script_args]
    process = subprocess.Popen(  # noqa: S603 - wrk with our arguments
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        while process.poll() is None and not done():
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    return _parse_wrk(output)


def python_load(
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    request_for: RequestFor | None = None,
    limit: int = 0,
) -> Result:
    """A closed-loop generator: ``connections`` threads, keep-alive, for ``seconds``
    (or until ``limit`` requests when it is positive)."""
    parsed = urllib.parse.urlsplit(url)
    latencies: list[float] = []
    errors = [0]
    counter = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection(
            parsed.hostname or "127.0.0.1", parsed.port, timeout=10
        )
        local: list[float] = []
        failed = 0
        while time.perf_counter() < deadline:
            with lock:
                index = counter[0]
                counter[0] += 1
            if limit and index >= limit:
                break
            extra: Mapping[str, str] = {}
            if request_for is None:
                method, path, body = "GET", parsed.path or "/", None
            else:
                method, path, body, extra = request_for(index)
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers={**(headers or {}), **extra})
                reply = connection.getresponse()
                reply.read()
                if reply.status >= 400:
                    failed += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection(
                    parsed.hostname or "127.0.0.1", parsed.port, timeout=10
                )
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        errors=errors[0],
        generator="python",
    )


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def run(
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: Mapping[str, str] | None = None,
) -> Result:
    """GET ``url`` under load with whichever generator is available."""
    if generator_name() == "wrk":
        return wrk(url, connections=connections, seconds=seconds, headers=headers)
    return python_load(url, connections=connections, seconds=seconds, headers=headers)


def sequential(
    url: str, count: int, headers: Mapping[str, str] | None = None
) -> tuple[list[int], list[float]]:
    """``count`` GETs one after the other on one keep-alive connection: statuses, seconds."""
    parsed = urllib.parse.urlsplit(url)
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
    statuses: list[int] = []
    latencies: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", path, headers=dict(headers or {}))
        reply = connection.getresponse()
        reply.read()
        latencies.append(time.perf_counter() - started)
        statuses.append(reply.status)
    connection.close()
    return statuses, latencies
