"""``scripts/lib/chromium.sh``: ``scripts/test`` installs Debian's Chromium when a run
selects the browser tier and it is missing (audit finding: on a fresh machine
``scripts/test`` alone failed, as only ``.ci/run`` installed it).

The functions run in a real bash, with ``id``, ``sudo`` and ``apt-get`` replaced by
stubs on ``PATH`` that log their calls; ``chromium_path`` is pointed at the stubs'
directory, so the machine's own Chromium (if any) plays no part.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LIBRARY = REPO_ROOT / "scripts" / "lib" / "chromium.sh"

STUBS = {
    "id": 'echo "$FAKE_UID"\n',
    "sudo": (
        'echo "sudo $*" >>"$CALLS"\n'
        '[ "$FAKE_SUDO" = ok ] || exit 1\n'
        '[ "$1" = -n ] && shift\n'
        'exec "$@"\n'
    ),
    "apt-get": (
        'echo "apt-get $*" >>"$CALLS"\n'
        '[ "$FAKE_APT" = ok ] || { echo "E: Unable to fetch" >&2; exit 100; }\n'
        'case " $* " in *" install "*)\n'
        '  printf "#!/bin/sh\\n" >"$STUB_BIN/chromium"; chmod +x "$STUB_BIN/chromium";;\n'
        "esac\n"
    ),
}


@dataclass
class Run:
    status: int
    stderr: str
    calls: list[str]
    installed: bool


Runner = Callable[..., Run]


@pytest.fixture
def run(tmp_path: Path) -> Runner:
    stub_bin = tmp_path / "bin"
    stub_bin.mkdir()
    for name, body in STUBS.items():
        stub = stub_bin / name
        stub.write_text("#!/bin/sh\n" + body)
        stub.chmod(0o755)
    calls = tmp_path / "calls"
    calls.touch()

    def execute(
        *pytest_args: str,
        uid: str = "0",
        sudo: str = "no",
        apt: str = "ok",
        chromium: bool = False,
        chromium_path: str | None = None,
    ) -> Run:
        if chromium:
            (stub_bin / "chromium").write_text("#!/bin/sh\n")
            (stub_bin / "chromium").chmod(0o755)
        script = (
            f'source "{LIBRARY}"\n'
            # The machine's /usr/bin/chromium must not count: only the stubs' directory.
            'chromium_path() { if [[ -n "${CHROMIUM_PATH:-}" ]]; then '
            '[[ -x "$CHROMIUM_PATH" ]] && echo "$CHROMIUM_PATH"; return; fi; '
            '[[ -x "$STUB_BIN/chromium" ]] && echo "$STUB_BIN/chromium"; }\n'
            'ensure_chromium "$@"\n'
        )
        env = {
            "PATH": f"{stub_bin}:/usr/bin:/bin",
            "STUB_BIN": str(stub_bin),
            "CALLS": str(calls),
            "FAKE_UID": uid,
            "FAKE_SUDO": sudo,
            "FAKE_APT": apt,
            "TMPDIR": str(tmp_path),
            "HOME": os.environ.get("HOME", str(tmp_path)),
        }
        if chromium_path is not None:
            env["CHROMIUM_PATH"] = chromium_path
        done = subprocess.run(
            ["bash", "-c", script, "ensure", *pytest_args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return Run(
            status=done.returncode,
            stderr=done.stderr,
            calls=calls.read_text().splitlines(),
            installed=(stub_bin / "chromium").exists(),
        )

    return execute


def test_root_without_chromium_installs_it(run: Runner) -> None:
    result = run()
    assert result.status == 0, result.stderr
    assert result.calls == [
        "apt-get update",
        "apt-get install -y --no-install-recommends chromium",
    ]
    assert result.installed


def test_password_less_sudo_installs_it(run: Runner) -> None:
    result = run(uid="1000", sudo="ok")
    assert result.status == 0, result.stderr
    assert "sudo -n apt-get install -y --no-install-recommends chromium" in result.calls
    assert result.installed


def test_without_root_or_sudo_it_fails_with_the_hint(run: Runner) -> None:
    result = run(uid="1000", sudo="no")
    assert result.status == 1
    assert "sudo apt-get update && sudo apt-get install -y chromium" in result.stderr
    assert not [call for call in result.calls if call.startswith("apt-get")]
    assert not result.installed


def test_a_failed_install_fails_with_the_hint(run: Runner) -> None:
    result = run(apt="fail")
    assert result.status == 1
    assert "Unable to fetch" in result.stderr  # the tail of apt's log
    assert "sudo apt-get install -y chromium" in result.stderr


def test_nothing_is_installed_when_chromium_is_there(run: Runner) -> None:
    result = run(chromium=True)
    assert (result.status, result.calls) == (0, [])


def test_a_wrong_chromium_path_is_not_papered_over(run: Runner, tmp_path: Path) -> None:
    result = run(chromium_path=str(tmp_path / "nowhere"))
    assert result.status == 1
    assert "CHROMIUM_PATH" in result.stderr
    assert result.calls == []


@pytest.mark.parametrize(
    ("args", "selects"),
    [
        ((), True),
        (("-q", "-p", "no:cacheprovider"), True),
        (("-k", "roles", "-x"), True),
        (("tests",), True),
        ((".",), True),
        (("tests/e2e",), True),
        (("tests/e2e/test_web_app.py::test_error_messages", "-q"), True),
        (("tests/unit",), False),
        (("tests/integration/test_identity.py", "-q"), False),
        (("tests/unit", "tests/integration"), False),
        (("tests/unit", "tests/e2e/test_cookie_session.py"), True),
    ],
    ids=[
        "no_arguments_run_everything",
        "options_only",
        "keyword_filter_only",
        "tests_directory",
        "repository_root",
        "browser_tier",
        "one_browser_test",
        "unit_tier",
        "one_integration_file",
        "two_other_tiers",
        "a_browser_file_among_others",
    ],
)
def test_only_runs_that_select_the_browser_tier_need_chromium(
    run: Runner, args: tuple[str, ...], selects: bool
) -> None:
    result = run(*args, uid="1000", sudo="no")
    assert result.status == (1 if selects else 0), result.stderr


def test_scripts_test_ensures_chromium_before_starting_the_emulators() -> None:
    script = (REPO_ROOT / "scripts" / "test").read_text()
    assert 'ensure_chromium "$@" || exit 1' in script
    assert script.index("ensure_chromium") < script.index("exec firebase emulators:exec")
