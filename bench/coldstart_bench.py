"""Target 5: fresh process to the first 200, median of N, for each variant in turn.

The clock starts before the process is spawned and stops when the first request that
carries a token gets its 200 (the client retries connection-refused every 5 ms), so it
includes the interpreter, imports, gunicorn's boot, the first key fetch and the first
user-record lookup (Auth emulator).
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench import env

VARIANTS = {
    "hello": ("bench/coldstart/hello.py", "hello", "/", "functions-framework alone"),
    "floor": (
        "bench/coldstart/floor.py",
        "floor",
        "/",
        "functions-framework + firebase_admin.auth + one verify_id_token (the floor)",
    ),
    "me": ("bench/coldstart/me.py", "me", "/me", "project: main.me, first authenticated GET /me"),
    "firestore": (
        "bench/coldstart/floor_firestore.py",
        "floor_firestore",
        "/",
        "the floor + a Firestore client (what a function pays if it builds one)",
    ),
}


@dataclass
class Variant:
    name: str
    description: str
    samples_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)


def _first_200(port: int, path: str, token: str, process: subprocess.Popen[bytes]) -> float:
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            reply = connection.getresponse()
            body = reply.read()
        except ConnectionRefusedError:
            time.sleep(0.005)
            continue
        finally:
            connection.close()
        if reply.status != 200:
            raise RuntimeError(f"expected 200 from {path}, got {reply.status}: {body[:300]!r}")
        return time.perf_counter()
    raise RuntimeError("no 200 within 60 s")


def measure(
    extra_env: dict[str, str],
    token: str,
    logdir: Path,
    *,
    repeats: int,
    variants: list[str] | None = None,
) -> dict[str, Variant]:
    chosen = {name: VARIANTS[name] for name in (variants or list(VARIANTS))}
    results = {
        name: Variant(name, description, []) for name, (_, _, _, description) in chosen.items()
    }
    for _ in range(repeats):
        for name, (source, target, path, _) in chosen.items():
            port = env.free_port()
            with (logdir / f"coldstart-{name}.log").open("ab") as log_file:
                started = time.perf_counter()
                process = subprocess.Popen(  # noqa: S603 - our venv's functions-framework
                    [
                        env.functions_framework(),
                        "--source",
                        str(env.REPO_ROOT / source),
                        "--target",
                        target,
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    cwd=env.REPO_ROOT,
                    env=env.server_env(extra_env),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                try:
                    done = _first_200(port, path, token, process)
                finally:
                    env.stop(process)
            results[name].samples_ms.append((done - started) * 1000)
    return results


def probe(extra_env: dict[str, str], token: str) -> dict[str, object]:
    """Which heavy modules serving ``GET /me`` loads (Firestore must not be one)."""
    output = subprocess.run(  # noqa: S603 - our interpreter and module
        [env.PYTHON, "-m", "bench.coldstart.probe", token],
        cwd=env.REPO_ROOT,
        env=env.server_env(extra_env),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    last_line = output.strip().splitlines()[-1]
    result: dict[str, object] = json.loads(last_line)
    return result
