"""The bench's environment: machine facts, free ports, child processes, the Firebase
emulators on private ports, a local key server, users and tokens."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.unit import tokenforge  # noqa: E402 - after the path set-up above

#: The emulators' project; demo- projects never reach real Firebase.
PROJECT_ID = "demo-bench"
ISSUER = f"https://securetoken.google.com/{PROJECT_ID}"
PYTHON = sys.executable


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"bench [{time.monotonic() - _STARTED:5.1f} s]: {message}", file=sys.stderr, flush=True)


# --- the machine ---------------------------------------------------------------


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    versions = {}
    for package in ("firebase_admin", "functions_framework", "gunicorn", "cryptography", "flask"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[package] = version(package.replace("_", "-"))
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load average at start": load,
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


# --- ports and processes ---------------------------------------------------------


#: Ports this process handed out (a port is never handed out twice, even once freed).
_HANDED_OUT: set[int] = set()


def _port_range() -> range | None:
    """``BENCH_PORTS=LOW-HIGH`` (inclusive) keeps every port a run opens in that range,
    for machines where several runs share a host; unset, the kernel picks free ports."""
    spec = os.environ.get("BENCH_PORTS", "").strip()
    if not spec:
        return None
    low, sep, high = spec.partition("-")
    if not (sep and low.isdigit() and high.isdigit() and 1024 <= int(low) <= int(high) < 65536):
        raise ValueError(f"BENCH_PORTS: expected LOW-HIGH (e.g. 19600-19699), got {spec!r}")
    return range(int(low), int(high) + 1)


def emulator_ports() -> tuple[int, int, int, int, int]:
    """The emulators' auth, firestore, hub, logging and websocket ports.

    ``BENCH_PORT_BASE=N`` puts them on N..N+4 in that order, as ``TEST_PORT_BASE`` does
    for ``scripts/test``, so a run sharing the host with others stays on the ports it was
    given; the bench's own servers still take free ports (``BENCH_PORTS`` or the kernel's,
    which lie in the ephemeral range, away from fixed bases). Unset: five free ports."""
    spec = os.environ.get("BENCH_PORT_BASE", "").strip()
    if not spec:
        return free_port(), free_port(), free_port(), free_port(), free_port()
    if not (spec.isdigit() and 1024 <= int(spec) <= 65531):
        raise ValueError(f"BENCH_PORT_BASE: expected a port from 1024 to 65531, got {spec!r}")
    base = int(spec)
    ports = (base, base + 1, base + 2, base + 3, base + 4)
    busy = [port for port in ports if port_open(port)]
    if busy:
        raise RuntimeError(f"BENCH_PORT_BASE={base}: expected free ports, found {busy} in use")
    _HANDED_OUT.update(ports)
    return ports


def free_port() -> int:
    """A port nothing listens on now and that this process has not handed out before."""
    ports = _port_range()
    if ports is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
            _HANDED_OUT.add(port)
            return port
    for candidate in ports:
        if candidate in _HANDED_OUT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
        _HANDED_OUT.add(candidate)
        return candidate
    raise RuntimeError(f"BENCH_PORTS: no free port left in {ports.start}-{ports.stop - 1}")


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: expected a listener on port {port} within {timeout} s")
        time.sleep(0.1)


def wait_for_http(url: str, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    """Wait until ``url`` answers HTTP (any status): the server behind it is serving."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - local URLs
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            pass
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before serving")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: expected an HTTP answer at {url} within {timeout} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop a child started with ``start_new_session`` and everything in its group."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found += [int(child) for child in text]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children that are still alive."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for each in [pid, *children(pid)]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --- HTTP ------------------------------------------------------------------------


def http(
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    """One request; returns (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - local URLs
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            status, raw = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


# --- emulators ---------------------------------------------------------------------


@dataclass
class Emulators:
    auth_host: str
    firestore_host: str
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def auth_url(self) -> str:
        return f"http://{self.auth_host}"

    def wipe(self) -> None:
        http("DELETE", f"{self.auth_url}/emulator/v1/projects/{PROJECT_ID}/accounts")
        http(
            "DELETE",
            f"http://{self.firestore_host}/emulator/v1/projects/{PROJECT_ID}"
            "/databases/(default)/documents",
        )

    def create_users(self, uids: list[str], *, verified: bool = True) -> None:
        """Create accounts with these uids (1000 per call, as the Admin API allows)."""
        for start in range(0, len(uids), 1000):
            users = [
                {"localId": uid, "email": f"{uid}@example.com", "emailVerified": verified}
                for uid in uids[start : start + 1000]
            ]
            status, reply = http(
                "POST",
                f"{self.auth_url}/identitytoolkit.googleapis.com/v1/projects/{PROJECT_ID}"
                "/accounts:batchCreate",
                body={"users": users},
                headers={"Authorization": "Bearer owner"},
            )
            if status != 200 or (isinstance(reply, dict) and reply.get("error")):
                raise RuntimeError(f"batchCreate: expected 200, got {status}: {reply}")

    def set_claims(self, uid: str, claims: dict[str, Any]) -> None:
        """Replace the user's custom claims (e.g. ``{"roles": ["admin"]}``)."""
        status, reply = http(
            "POST",
            f"{self.auth_url}/identitytoolkit.googleapis.com/v1/projects/{PROJECT_ID}"
            "/accounts:update",
            body={"localId": uid, "customAttributes": json.dumps(claims)},
            headers={"Authorization": "Bearer owner"},
        )
        if status != 200:
            raise RuntimeError(f"accounts:update: expected 200, got {status}: {reply}")

    def revoke(self, uid: str) -> int:
        """Revoke the user's sessions as ``revoke_refresh_tokens`` does (validSince = now)."""
        valid_since = int(time.time())
        status, reply = http(
            "POST",
            f"{self.auth_url}/identitytoolkit.googleapis.com/v1/projects/{PROJECT_ID}"
            "/accounts:update",
            body={"localId": uid, "validSince": str(valid_since)},
            headers={"Authorization": "Bearer owner"},
        )
        if status != 200:
            raise RuntimeError(f"accounts:update: expected 200, got {status}: {reply}")
        return valid_since


@contextlib.contextmanager
def emulators(while_starting: Callable[[], None] | None = None) -> Iterator[Emulators]:
    """The Auth and Firestore emulators on free ports, in a private directory.

    ``while_starting`` runs while they boot (~15 s), to use that time."""
    firebase = shutil.which("firebase")
    if firebase is None:
        raise RuntimeError("firebase-tools not on PATH: run the bench with bench/run")
    workdir = Path(tempfile.mkdtemp(prefix="bench-emulators-"))
    auth, firestore, hub, logging_, websocket = emulator_ports()
    shutil.copy(REPO_ROOT / "firestore.rules", workdir / "firestore.rules")
    config = {
        "firestore": {"rules": "firestore.rules"},
        "emulators": {
            "auth": {"host": "127.0.0.1", "port": auth},
            "firestore": {"host": "127.0.0.1", "port": firestore, "websocketPort": websocket},
            "hub": {"host": "127.0.0.1", "port": hub},
            "logging": {"host": "127.0.0.1", "port": logging_},
            "ui": {"enabled": False},
            "singleProjectMode": True,
        },
    }
    (workdir / "firebase.json").write_text(json.dumps(config))
    log_file = (workdir / "emulators.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - firebase-tools from node_modules
        [firebase, "emulators:start", "--only", "auth,firestore", "--project", PROJECT_ID],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        log(f"starting the emulators (auth :{auth}, firestore :{firestore}; log {workdir})")
        started = time.monotonic()
        if while_starting is not None:
            while_starting()
        # An open port is not enough: firebase-tools first listens on each port for a
        # moment to check that it is free, and a connection then is refused right after.
        wait_for_http(f"http://127.0.0.1:{auth}/", process, "Auth emulator", 90)
        wait_for_http(f"http://127.0.0.1:{firestore}/", process, "Firestore emulator", 90)
        log(f"emulators ready in {time.monotonic() - started:.1f} s")
        yield Emulators(f"127.0.0.1:{auth}", f"127.0.0.1:{firestore}", process, workdir)
    finally:
        stop(process, grace=15)
        log_file.close()


# --- keys and tokens -----------------------------------------------------------------


@contextlib.contextmanager
def key_server() -> Iterator[tokenforge.CertServer]:
    """Google's x509 endpoint, served locally with the bench's signing key."""
    key = tokenforge.signing_key()
    with tokenforge.CertServer({key.kid: key.certificate_pem}, max_age_seconds=21600) as server:
        yield server


def token(uid: str, *, now: float | None = None, **claims: Any) -> str:
    """A real RS256 ID token for ``uid`` in the bench project, signed by the served key."""
    return tokenforge.mint(
        {"aud": PROJECT_ID, "iss": ISSUER, "email": f"{uid}@example.com", **claims},
        uid=uid,
        now=now,
    )


# --- the server under test ---------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def worker_pid(self) -> int:
        """The gunicorn worker (functions-framework runs the arbiter in its own process)."""
        workers = children(self.process.pid)
        return workers[0] if workers else self.process.pid

    def quiesce(self, quiet_seconds: float = 0.5, timeout: float = 30) -> None:
        """Wait until requests a load generator left in flight have been served."""
        deadline = time.monotonic() + timeout
        last = self.stats()["requests"]
        while time.monotonic() < deadline:
            time.sleep(quiet_seconds)
            now = self.stats()["requests"]
            if now == last:
                return
            last = now

    def stats(self) -> dict[str, Any]:
        status, body = http("GET", f"{self.url}/__bench/stats")
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"stats: expected 200 and JSON, got {status}")
        return body


def server_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "K_SERVICE"}
    }
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "FIREBASE_PROJECT_ID": PROJECT_ID,
            "GOOGLE_CLOUD_PROJECT": PROJECT_ID,
            "WORKERS": "1",
            "THREADS": "8",
            # Load from a few users and one address is the point here: no abuse limits.
            "RATE_LIMIT_IP_PER_MINUTE": "0",
            "RATE_LIMIT_USER_READS_PER_MINUTE": "0",
            "RATE_LIMIT_USER_WRITES_PER_MINUTE": "0",
        }
    )
    env.update(extra)
    return env


def functions_framework() -> str:
    return str(Path(PYTHON).parent / "functions-framework")


@contextlib.contextmanager
def serve(
    extra_env: Mapping[str, str],
    *,
    source: str = "bench/server.py",
    target: str = "bench",
    logdir: Path,
    name: str = "server",
) -> Iterator[Server]:
    """functions-framework (gunicorn, 1 worker, ``THREADS`` threads) on a free port."""
    port = free_port()
    log_path = logdir / f"{name}-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our venv's functions-framework
            [
                functions_framework(),
                "--source",
                str(REPO_ROOT / source),
                "--target",
                target,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=REPO_ROOT,
            env=server_env(extra_env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(port, process, f"functions-framework ({name})", 60)
            yield Server(f"http://127.0.0.1:{port}", process, log_path)
        finally:
            stop(process)
