"""tools.admin without the emulators: help, argument parsing, where it points, how
errors read, and the audit tail's bookkeeping. (Each command against the emulators:
tests/integration/test_admin_cli.py.)"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.auth.exceptions import DefaultCredentialsError

from core.errors import AuthUnavailable, Busy, UserNotFound
from core.settings import ConfigError
from store.models import Page
from tools.admin import cli
from tools.admin.ops import AuditTail, Operator

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("grant", "revoke", "roles", "admins", "lookup", "audit", "revoke-sessions")


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(argv))
    assert exit_info.value.code == 2
    return capsys.readouterr().err


# --- help and parsing -------------------------------------------------------------


def test_help_lists_every_command_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m tools.admin ")
    for command in COMMANDS:
        assert f"\n    {command} " in out, command
    for text in ("--project", "--emulator", "examples:", "exit status: 0 done, 1", "cli:grant"):
        assert text in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_its_own_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m tools.admin {command} ")
    assert "--emulator" in out


def test_arguments_of_each_command() -> None:
    expected = {
        "command": "grant",
        "user": "alice@example.com",
        "role": "admin",
        "project": None,
        "emulator": False,
    }
    assert expected.items() <= vars(parse("grant", "alice@example.com", "admin")).items()
    assert parse("revoke", "uid123", "auditor").role == "auditor"
    assert parse("admins").role == "admin"
    assert parse("admins", "--role", "auditor").role == "auditor"
    audit = parse("audit")
    assert (audit.limit, audit.follow, audit.interval) == (20, False, 2.0)
    audit = parse("audit", "--limit", "500", "-f", "--interval", "0.5")
    assert (audit.limit, audit.follow, audit.interval) == (500, True, 0.5)
    assert parse("revoke-sessions", "  bob@example.com ").user == "bob@example.com"


def test_target_options_go_before_or_after_the_command() -> None:
    before = parse("--project", "p1", "--emulator", "--json", "roles", "u1")
    after = parse("roles", "u1", "--project", "p1", "--emulator", "--json")
    for args in (before, after):
        assert (args.project, args.emulator, args.json, args.debug) == ("p1", True, True, False)
    assert parse("--project", "p1", "roles", "u1").project == "p1"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["promote", "a@example.com"], "invalid choice: 'promote'"),
        (["grant", "a@example.com"], "the following arguments are required: ROLE"),
        (
            ["grant", "a@example.com", "owner"],
            "invalid choice: 'owner' (choose from admin, auditor)",
        ),
        (["roles", "has space"], "expected an email address or a uid"),
        (["roles", "u" * 129], "expected an email address or a uid (1-128 characters"),
        (["roles", "a@" + "b" * 260], "at most 254 characters"),
        (["audit", "--limit", "0"], "argument --limit: expected 1 to 1000, got 0"),
        (["audit", "--limit", "many"], "expected a number from 1 to 1000, got 'many'"),
        (["audit", "--interval", "0.1"], "argument --interval: expected 0.5 to 60, got 0.1"),
        (["audit", "--interval", "3600"], "expected 0.5 to 60, got 3600"),
    ],
    ids=[
        "no_command",
        "unknown_command",
        "missing_role",
        "unknown_role",
        "uid_with_space",
        "uid_too_long",
        "email_too_long",
        "limit_zero",
        "limit_not_a_number",
        "interval_too_short",
        "interval_too_long",
    ],
)
def test_usage_errors_exit_2_and_say_what_was_expected(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(capsys, *argv)
    assert message.replace("(choose from admin, auditor)", "") in err
    assert err.startswith("usage: python -m tools.admin")


# --- where it points ----------------------------------------------------------------


def test_emulator_sets_the_emulator_hosts_and_a_demo_project(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "FIREBASE_AUTH_EMULATOR_HOST",
        "FIRESTORE_EMULATOR_HOST",
        "FIREBASE_PROJECT_ID",
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
    ):
        monkeypatch.delenv(name, raising=False)
    cli._configure_target(None, emulator=True)
    assert os.environ["FIREBASE_AUTH_EMULATOR_HOST"] == "127.0.0.1:9099"
    assert os.environ["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:8080"
    assert os.environ["FIREBASE_PROJECT_ID"] == "demo-backend"


def test_emulator_keeps_hosts_and_project_already_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:49099")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:48080")
    monkeypatch.delenv("FIREBASE_PROJECT_ID", raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-other")
    cli._configure_target(None, emulator=True)
    assert os.environ["FIREBASE_AUTH_EMULATOR_HOST"] == "127.0.0.1:49099"
    assert os.environ["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:48080"
    assert "FIREBASE_PROJECT_ID" not in os.environ
    cli._configure_target("demo-third", emulator=True)
    assert os.environ["FIREBASE_PROJECT_ID"] == "demo-third"


def test_without_emulator_nothing_points_at_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    cli._configure_target("my-project", emulator=False)
    assert "FIREBASE_AUTH_EMULATOR_HOST" not in os.environ
    assert "FIRESTORE_EMULATOR_HOST" not in os.environ
    assert os.environ["FIREBASE_PROJECT_ID"] == "my-project"


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_absent_emulators_fail_fast_and_say_where(
    monkeypatch: pytest.MonkeyPatch, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", f"127.0.0.1:{closed_port}")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{closed_port}")
    monkeypatch.setattr(Operator, "connect", _must_not_connect)
    assert cli.main(["--emulator", "roles", "alice@example.com"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"error unavailable: nothing answers at FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:"
        f"{closed_port}, FIRESTORE_EMULATOR_HOST=127.0.0.1:{closed_port}; start the emulators "
        "(scripts/dev, or firebase emulators:start) or point the variables elsewhere\n"
    )


def _must_not_connect() -> None:
    raise AssertionError("expected no SDK call")


# --- how errors read ----------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No emulator to check and no SDK: ``Operator.connect`` returns a stand-in."""
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(
        Operator, "connect", classmethod(lambda cls, settings, tenant=None: object())
    )


def run_raising(error: BaseException, *, debug: bool = False) -> int:
    def handler(op: Any, args: argparse.Namespace, out: cli.Output) -> int:
        raise error

    args = argparse.Namespace(project="p", emulator=False, json=False, debug=debug)
    return cli.run(args, handler)


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (
            UserNotFound("No user has the uid 'x'."),
            1,
            "error user_not_found: No user has the uid 'x'.",
        ),
        (Busy(), 1, "error busy: Another change to this resource is in progress; retry shortly."),
        (AuthUnavailable(), 1, "error auth_unavailable: Authentication is temporarily"),
        (ConfigError("FIREBASE_PROJECT_ID: bad"), 1, "error config: FIREBASE_PROJECT_ID: bad"),
        (
            DefaultCredentialsError("Your default credentials were not found."),  # type: ignore[no-untyped-call]
            1,
            "error credentials: Your default credentials were not found. Sign in with "
            "`gcloud auth application-default login`",
        ),
        (RuntimeError("boom"), 1, "error internal: RuntimeError: boom (run with --debug"),
        (KeyboardInterrupt(), 130, ""),
    ],
    ids=["api_error", "busy", "auth_unavailable", "config", "credentials", "unexpected", "ctrl_c"],
)
def test_operational_errors_exit_1_with_code_and_message(
    error: BaseException, status: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_raising(error) == status
    err = capsys.readouterr().err
    assert err.startswith("admin: project p (live)\n")
    assert message in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("offline")
def test_debug_shows_the_traceback() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        run_raising(RuntimeError("boom"), debug=True)


def test_no_credentials_for_a_real_project_is_a_clear_error(tmp_path: Path) -> None:
    """The real SDK path, in a fresh process, with credentials that do not exist."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("_EMULATOR_HOST") and not key.startswith(("GOOGLE_", "GCLOUD_"))
    }
    env["GOOGLE_APPLICATION_CREDENTIALS"] = str(tmp_path / "absent.json")
    env["CLOUDSDK_CONFIG"] = str(tmp_path / "gcloud")  # no gcloud user credentials either
    completed = subprocess.run(
        [sys.executable, "-m", "tools.admin", "--project", "acme-prod", "lookup", "a@example.com"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout == ""
    assert completed.stderr.startswith("admin: project acme-prod (live)\nerror credentials: ")
    assert "gcloud auth application-default login" in completed.stderr


# --- the audit tail -----------------------------------------------------------------

T0 = datetime(2030, 1, 1, tzinfo=UTC)


class FakeLog:
    """An audit log served newest first in pages, as ``store.audit.list_entries`` does."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.fetches = 0

    def add(self, seconds: float, outcome: str = "applied") -> dict[str, Any]:
        entry = {
            "id": f"e{len(self.entries):03d}",
            "time": T0 + timedelta(seconds=seconds),
            "outcome": outcome,
        }
        self.entries.append(entry)
        return entry

    def __call__(self, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
        self.fetches += 1
        newest = sorted(self.entries, key=lambda e: (e["time"], e["id"]), reverse=True)
        start = int(cursor) if cursor else 0
        items = [dict(e) for e in newest[start : start + limit]]
        more = start + limit < len(newest)
        return Page(items=items, next_cursor=str(start + limit) if more else None)


def ids(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["id"] for entry in entries]


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


def test_tail_starts_with_the_newest_entries_oldest_first(log: FakeLog) -> None:
    for second in range(5):
        log.add(second)
    tail = AuditTail(log)
    assert ids(tail.start(3)) == ["e002", "e003", "e004"]
    assert tail.poll() == [], "older entries in the window were noted, not printed later"


def test_tail_polls_new_entries_and_outcome_changes_once(log: FakeLog) -> None:
    log.add(0)
    tail = AuditTail(log)
    assert ids(tail.start(20)) == ["e000"]
    pending = log.add(1, "pending")
    log.add(2)
    assert ids(tail.poll()) == ["e001", "e002"]
    assert tail.poll() == []
    pending["outcome"] = "applied"
    assert [(e["id"], e["outcome"]) for e in tail.poll()] == [("e001", "applied")]


def test_tail_catches_an_entry_written_late_with_an_earlier_time(log: FakeLog) -> None:
    log.add(10)
    tail = AuditTail(log)
    tail.start(5)
    log.add(8)  # a writer whose clock is 2 s behind
    assert ids(tail.poll()) == ["e001"]


def test_tail_pages_through_a_burst_and_forgets_what_left_the_window(log: FakeLog) -> None:
    tail = AuditTail(log, window=timedelta(seconds=30))
    tail.start(10)
    for second in range(250):
        log.add(second)
    assert ids(tail.poll()) == [f"e{i:03d}" for i in range(250)]
    assert len(tail._seen) <= 31, "memory is bounded by the window"
    assert tail.poll() == []


def test_tail_reads_at_most_max_per_poll(log: FakeLog) -> None:
    tail = AuditTail(log, max_per_poll=200)
    tail.start(1)
    for second in range(500):
        log.add(second / 100)
    log.fetches = 0
    assert len(tail.poll()) == 200
    assert log.fetches == 2
