"""The chaos run's emulators: each in its own process group, so that one can be killed
(SIGKILL) and started again on the same port while the other keeps running.

Neither emulator keeps data across a restart by itself, so each restart carries the
data over explicitly, the way ``firebase emulators:start --import`` does:

- Firestore: the gcloud/firebase-tools emulator JAR, run directly. Its own
  ``--export-on-exit`` flag exports nothing when the process is stopped (checked with
  SIGTERM and SIGINT), so the run exports through the emulator's export endpoint
  (what firebase-tools calls for its ``--export-on-exit``) and restarts the JAR with
  ``--seed_from_export`` (what firebase-tools passes for ``--import``).
- Auth: ``firebase emulators:start --only auth``; exported through the emulator hub's
  ``/_admin/export`` (what firebase-tools runs for ``--export-on-exit``), restarted
  with ``--import``.

The export is taken after the gate in front of the emulator is cut (see
``bench/gate.py``), so nothing the backend could have been told is committed can be
missing from it; ``dump()`` reads the whole state so that the run can check the
restarted emulator holds exactly what the killed one held.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import env


def _kill(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL the whole process group: a crash, no shutdown hook runs."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _spawn(command: list[str], *, cwd: Path, log: Path, extra_env: dict[str, str]) -> Any:
    with log.open("ab") as out:
        out.write(f"\n=== {time.strftime('%H:%M:%S')} {' '.join(command)}\n".encode())
        out.flush()
        return subprocess.Popen(  # noqa: S603 - the emulators, from our own set-up
            command,
            cwd=cwd,
            env={**os.environ, **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for_text(
    log: Path, offset: int, text: str, process: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with log.open("rb") as source:
            source.seek(offset)
            if text.encode() in source.read():
                return
        if process.poll() is not None:
            raise RuntimeError(f"{log.name}: exited with {process.returncode} before {text!r}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{log.name}: expected {text!r} within {timeout} s")
        time.sleep(0.1)


# --- Firestore -------------------------------------------------------------------------


def firestore_command() -> list[str]:
    """How to run the Firestore emulator JAR: the wrapper ``scripts/lib/bootstrap.sh``
    builds around the gcloud JAR, else the JAR firebase-tools downloaded."""
    wrapper = os.environ.get("FIRESTORE_EMULATOR_BINARY_PATH")
    java = shutil.which("java") or "java"
    if wrapper and Path(wrapper).is_file():
        return [java, "-Duser.language=en", "-jar", wrapper]
    cache = Path.home() / ".cache" / "firebase" / "emulators"
    jars = sorted(cache.glob("cloud-firestore-emulator-v*.jar"))
    if not jars:
        firebase = shutil.which("firebase")
        if firebase is None:
            raise RuntimeError("firebase-tools not on PATH: run the chaos run with bench/chaos")
        subprocess.run(  # noqa: S603 - firebase-tools downloads its own JAR
            [firebase, "setup:emulators:firestore"], check=True, capture_output=True
        )
        jars = sorted(cache.glob("cloud-firestore-emulator-v*.jar"))
    if not jars:
        raise RuntimeError(f"no Firestore emulator JAR (looked in {cache})")
    return [java, "-Duser.language=en", "-jar", str(jars[-1])]


class FirestoreEmulator:
    """The Firestore emulator on a fixed port, restartable with its data."""

    def __init__(self, workdir: Path, project: str) -> None:
        self.port = env.free_port()
        self.websocket_port = env.free_port()
        self.project = project
        self.workdir = workdir
        self.log = workdir / "firestore.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._exports = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def _documents(self) -> str:
        return f"http://{self.host}/v1/projects/{self.project}/databases/(default)/documents"

    def start(self, seed: Path | None = None) -> float:
        """Start on ``port`` (with the export ``seed``); returns seconds until it listens."""
        command = [
            *firestore_command(),
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--websocket_port={self.websocket_port}",
            f"--project_id={self.project}",
        ]
        if seed is not None:
            command.append(f"--seed_from_export={seed}")
        started = time.monotonic()
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.process = _spawn(command, cwd=self.workdir, log=self.log, extra_env={})
        _wait_for_text(self.log, offset, "Dev App Server is now running", self.process, 90)
        env.wait_for_port(self.port, self.process, "Firestore emulator", 10)
        return time.monotonic() - started

    def export(self) -> Path:
        """Export everything; returns the ``.overall_export_metadata`` file to seed from."""
        self._exports += 1
        directory = self.workdir / f"firestore-export-{self._exports}"
        directory.mkdir()
        status, body = env.http(
            "POST",
            f"http://{self.host}/emulator/v1/projects/{self.project}:export",
            body={
                "database": f"projects/{self.project}/databases/(default)",
                "export_directory": str(directory),
            },
            timeout=60,
        )
        if status != 200:
            raise RuntimeError(f"Firestore export: expected 200, got {status}: {body}")
        found = sorted(directory.glob("*/*.overall_export_metadata"))
        if len(found) != 1:
            raise RuntimeError(f"Firestore export: expected one metadata file in {directory}")
        return found[0]

    def kill(self) -> None:
        _kill(self.process)

    def dump(self) -> dict[str, dict[str, Any]]:
        """Every document (path -> fields), read with the emulator's admin access."""
        headers = {"Authorization": "Bearer owner"}
        status, body = env.http(
            "POST", f"{self._documents}:listCollectionIds", body={}, headers=headers
        )
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"listCollectionIds: expected 200, got {status}: {body}")
        # Tasks are the one subcollection; a collection-group query per ID reads all.
        collections = sorted({*body.get("collectionIds", []), "tasks"})
        documents: dict[str, dict[str, Any]] = {}
        prefix = f"projects/{self.project}/databases/(default)/documents/"
        for collection in collections:
            source = {"collectionId": collection, "allDescendants": True}
            query = {"structuredQuery": {"from": [source]}}
            status, rows = env.http(
                "POST", f"{self._documents}:runQuery", body=query, headers=headers, timeout=60
            )
            if status != 200 or not isinstance(rows, list):
                raise RuntimeError(f"runQuery {collection}: expected 200, got {status}: {rows}")
            for row in rows:
                document = row.get("document")
                if document:
                    documents[document["name"].removeprefix(prefix)] = document.get("fields", {})
        return documents


# --- Auth ------------------------------------------------------------------------------


class AuthEmulator:
    """The Auth emulator (firebase-tools) on fixed ports, restartable with its data."""

    def __init__(self, workdir: Path, project: str) -> None:
        self.port, self.hub_port, self.logging_port = (env.free_port() for _ in range(3))
        self.project = project
        self.workdir = workdir / "auth"
        self.workdir.mkdir()
        self.log = workdir / "auth.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._exports = 0
        config = {
            "emulators": {
                "auth": {"host": "127.0.0.1", "port": self.port},
                "hub": {"host": "127.0.0.1", "port": self.hub_port},
                "logging": {"host": "127.0.0.1", "port": self.logging_port},
                "ui": {"enabled": False},
                "singleProjectMode": True,
            }
        }
        (self.workdir / "firebase.json").write_text(json.dumps(config))

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, seed: Path | None = None) -> float:
        """Start on the same ports (importing ``seed``); returns seconds until it listens."""
        firebase = shutil.which("firebase")
        if firebase is None:
            raise RuntimeError("firebase-tools not on PATH: run the chaos run with bench/chaos")
        command = [firebase, "emulators:start", "--only", "auth", "--project", self.project]
        if seed is not None:
            command += ["--import", str(seed)]
        started = time.monotonic()
        offset = self.log.stat().st_size if self.log.exists() else 0
        # TMPDIR: firebase-tools keeps its hub locator file there; a private one keeps
        # this run apart from any other emulators of the same project on the machine.
        self.process = _spawn(
            command, cwd=self.workdir, log=self.log, extra_env={"TMPDIR": str(self.workdir)}
        )
        # The Auth emulator listens before it has imported the accounts: wait for
        # firebase-tools to say that everything is ready.
        _wait_for_text(self.log, offset, "All emulators ready", self.process, 120)
        env.wait_for_port(self.port, self.process, "Auth emulator", 10)
        return time.monotonic() - started

    def export(self) -> Path:
        """Export the accounts and config through the hub; returns the directory."""
        self._exports += 1
        directory = self.workdir / f"export-{self._exports}"
        status, body = env.http(
            "POST",
            f"http://127.0.0.1:{self.hub_port}/_admin/export",
            body={"path": str(directory), "initiatedBy": "bench.chaos", "targets": ["auth"]},
            timeout=60,
        )
        if status != 200 or not (directory / "firebase-export-metadata.json").is_file():
            raise RuntimeError(f"Auth export: expected 200 and an export, got {status}: {body}")
        return directory

    def kill(self) -> None:
        _kill(self.process)

    def dump(self) -> dict[str, dict[str, Any]]:
        """Every account (uid -> the fields that decide access), read as admin."""
        status, body = env.http(
            "POST",
            f"http://{self.host}/identitytoolkit.googleapis.com/v1/projects/{self.project}"
            "/accounts:query",
            body={"returnUserInfo": True},
            headers={"Authorization": "Bearer owner"},
        )
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"accounts:query: expected 200, got {status}: {body}")
        keep = ("email", "emailVerified", "disabled", "customAttributes", "validSince")
        return {
            user["localId"]: {key: user.get(key) for key in keep}
            for user in body.get("userInfo", [])
        }
