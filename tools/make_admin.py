"""Make a user an admin with the Admin SDK: how the first admin comes to exist.

Usage::

    python -m tools.make_admin --email admin@example.com [--project my-project] [--emulator]

An alias of ``python -m tools.admin grant EMAIL admin`` that keeps its own audit
actor, ``cli:make_admin``. Against the emulators pass ``--emulator`` (or set
FIREBASE_AUTH_EMULATOR_HOST and FIRESTORE_EMULATOR_HOST, as ``scripts/dev`` does).
Against a real project, run it with Application Default Credentials of someone
allowed to manage Firebase Auth users (``gcloud auth application-default login``).
The change takes effect when the user's ID token next refreshes.
"""

from __future__ import annotations

import argparse
import sys

from auth import Role
from services.roles import BOOTSTRAP_ACTOR
from tools.admin import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.make_admin",
        description="Grant the admin role to an existing Firebase Auth user "
        "(an alias of `python -m tools.admin grant EMAIL admin`).",
    )
    parser.add_argument("--email", required=True, help="email address of the user to promote")
    cli.add_target_options(parser)
    args = parser.parse_args(argv)
    args.user, args.role, args.actor = args.email, Role.ADMIN.value, BOOTSTRAP_ACTOR
    return cli.run(args, cli.cmd_grant)


if __name__ == "__main__":
    sys.exit(main())
