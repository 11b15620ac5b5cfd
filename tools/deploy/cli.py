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
from tools.deploy import plan
from tools.deploy.iam import FUNCTION_ROLES

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "deploy" / "config.toml"
#: Runs one command in the repository root and returns its exit status.
Runner = Callable[[Sequence[str], bool], int]

EPILOG = """\
examples:
  python -m tools.deploy --dry-run                 print every command, run nothing
  python -m tools.deploy                           deploy everything
  python -m tools.deploy --only me,projects        two functions (and their accounts)
  python -m tools.deploy --only firestore          firestore.rules and indexes only

Needs gcloud (logged in as someone who may manage IAM and deploy functions in the
project) and, for the firestore target, the Firebase CLI from package.json (npx).

exit status: 0 deployed (or printed), 1 invalid config or a command failed, 2 usage.
"""


def main(argv: list[str] | None = None, *, run: Runner | None = None) -> int:
    """Entry point. ``run`` replaces process execution (tests)."""
    targets_known = (*deployable_names(), plan.FIRESTORE)
    parser = _parser(targets_known)
    args = parser.parse_args(argv)
    targets = _targets(parser, args.only, targets_known)

    missing_roles = [name for name in deployable_names() if name not in FUNCTION_ROLES]
    if missing_roles:
        return _fail(
            "config",
            f"no IAM roles are defined for {', '.join(missing_roles)}; "
            "add them to tools/deploy/iam.py (FUNCTION_ROLES)",
        )
    try:
        config = config_file.load(args.config, deployable_names())
        steps = plan.build(config, targets)
    except config_file.DeployConfigError as error:
        return _fail("config", str(error))

    if args.dry_run:
        sys.stdout.write(plan.render(config, steps))
        return 0
    return _execute(steps, run or _run, sys.stderr)


def _parser(targets: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.deploy",
        description=(
            "Deploy the Cloud Functions (gen2, python312), one runtime service account per\n"
            "function with only the roles it needs, and firestore.rules and\n"
            "firestore.indexes.json, all from one config file. Every step is safe to repeat."
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
        if step.unless is not None and run(step.unless, True) == 0:
            print(f"exists, skipped: {shlex.join(step.argv)}", file=log)
            continue
        print(f"+ {shlex.join(step.argv)}", file=log, flush=True)
        status = run(step.argv, False)
        if status != 0:
            return _fail("command_failed", f"exit status {status}: {shlex.join(step.argv)}")
    print("deploy: done", file=log)
    return 0


def _run(argv: Sequence[str], quiet: bool) -> int:
    output = subprocess.DEVNULL if quiet else None
    completed = subprocess.run(  # noqa: S603 - argv built from a validated config, no shell
        list(argv), cwd=REPO_ROOT, stdout=output, stderr=output, check=False
    )
    return completed.returncode


def _fail(code: str, message: str) -> int:
    print(f"error {code}: {message}", file=sys.stderr)
    return 1
