"""``python -m tools.deploy``: deploy the functions and the Firestore rules from one config."""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from tools._routes import deployable_names
from tools.deploy import config as config_file
from tools.deploy import plan, state
from tools.deploy.config import DeployConfig
from tools.deploy.iam import FUNCTION_ROLES, custom_roles

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "deploy" / "config.toml"
#: Runs one command in the repository root and returns its exit status.
Runner = Callable[[Sequence[str]], int]
#: Reads the project's current IAM (``state.read`` with gcloud; tests pass fixtures).
StateReader = Callable[[DeployConfig], state.CurrentState]

EPILOG = """\
examples:
  python -m tools.deploy --dry-run                 print every command, run nothing
  python -m tools.deploy                           deploy everything
  python -m tools.deploy --only me,projects        two functions (and their accounts)
  python -m tools.deploy --only firestore          firestore.rules and indexes only
  python -m tools.deploy --print-state > s.json     what the plan sees now (read-only)
  python -m tools.deploy --dry-run --state s.json  plan against a saved state, offline

The plan is computed from the project's current IAM (read with gcloud, read-only):
custom roles are set to exactly their declared permissions, and the backend's service
accounts (<prefix>*@) get exactly their declared roles (missing ones granted, others
removed); nobody else's bindings are touched.

Needs gcloud (logged in as someone who may manage IAM and deploy functions in the
project) and, for the firestore target, the Firebase CLI from package.json (npx).

exit status: 0 deployed (or printed), 1 invalid config or a command failed, 2 usage.
"""


def main(
    argv: list[str] | None = None,
    *,
    run: Runner | None = None,
    read_state: StateReader | None = None,
) -> int:
    """Entry point. ``run`` replaces process execution and ``read_state`` the gcloud
    reads of the current state (tests)."""
    names = deployable_names()
    targets_known = (*names, plan.FIRESTORE)
    parser = _parser(targets_known)
    args = parser.parse_args(argv)
    targets = _targets(parser, args.only, targets_known)
    if args.state is not None and not args.dry_run:
        parser.error("--state: only with --dry-run (a deploy reads the project as it is now)")

    missing_roles = [name for name in names if name not in FUNCTION_ROLES]
    if missing_roles:
        return _fail(
            "config",
            f"no IAM roles are defined for {', '.join(missing_roles)}; "
            "add them to tools/deploy/iam.py (FUNCTION_ROLES)",
        )
    try:
        config = config_file.load(args.config, names)
        if args.state is not None:
            current = _state_file(args.state)
        elif read_state is not None:
            current = read_state(config)
        else:
            current = _read_with_gcloud(config)
        steps = plan.build(config, targets, current)
        changes = len(plan.iam_changes(config, targets, current))
    except config_file.DeployConfigError as error:
        return _fail("config", str(error))
    except state.StateReadError as error:
        return _fail("state", f"cannot read the project's current IAM: {error}")

    if args.print_state:
        sys.stdout.write(state.dump(current))
        return 0
    if args.dry_run:
        sys.stdout.write(plan.render(config, steps, iam_changes=changes))
        return 0
    print(f"deploy: {changes} IAM change(s) against the current state", file=sys.stderr)
    return _execute(steps, run or _run, sys.stderr)


def _read_with_gcloud(config: DeployConfig) -> state.CurrentState:
    role_ids = [role.id for role in custom_roles(tuple(config.functions))]
    return state.read(config.project, config.service_account_prefix, role_ids, state.run_gcloud)


def _state_file(path: Path) -> state.CurrentState:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise state.StateReadError(f"{path}: {error.strerror}") from None
    return state.load_file(text)


def _parser(targets: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.deploy",
        description=(
            "Deploy the Cloud Functions (gen2, python312), one runtime service account per\n"
            "function with exactly the roles it needs (IAM converges: what is no longer\n"
            "declared is removed), and firestore.rules and firestore.indexes.json, all\n"
            "from one config file. Every step is safe to repeat."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help="the deploy config (default: deploy/config.toml)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the exact commands instead of running them"
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="with --dry-run: plan against this JSON state (as --print-state writes it) "
        "instead of reading the project with gcloud",
    )
    parser.add_argument(
        "--print-state",
        action="store_true",
        help="print the project's current IAM, as the plan sees it, as JSON; change nothing",
    )
    parser.add_argument(
        "--only",
        metavar="TARGETS",
        help=f"comma-separated subset of: {', '.join(targets)} (default: all)",
    )
    return parser


def _targets(
    parser: argparse.ArgumentParser, only: str | None, known: Sequence[str]
) -> tuple[str, ...]:
    if only is None:
        return tuple(known)
    chosen = [t.strip() for t in only.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in known]
    if not chosen or unknown:
        parser.error(
            f"--only: expected a comma-separated subset of {', '.join(known)}, got {only!r}"
        )
    return tuple(t for t in known if t in chosen)


def _execute(steps: Sequence[plan.Step], run: Runner, log: TextIO) -> int:
    for tool in sorted({step.argv[0] for step in steps}):
        if run is _run and shutil.which(tool) is None:
            return _fail("missing_tool", f"{tool} is not on PATH")
    for step in steps:
        print(f"+ {shlex.join(step.argv)}", file=log, flush=True)
        status = run(step.argv)
        if status != 0:
            return _fail("command_failed", f"exit status {status}: {shlex.join(step.argv)}")
    print("deploy: done", file=log)
    return 0


def _run(argv: Sequence[str]) -> int:
    completed = subprocess.run(  # noqa: S603 - argv built from a validated config, no shell
        list(argv), cwd=REPO_ROOT, check=False
    )
    return completed.returncode


def _fail(code: str, message: str) -> int:
    print(f"error {code}: {message}", file=sys.stderr)
    return 1
