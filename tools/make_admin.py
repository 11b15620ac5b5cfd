"""Make a user an admin with the Admin SDK: how the first admin comes to exist.

Usage::

    python -m tools.make_admin --email admin@example.com [--project my-project]

Against the emulators, set FIREBASE_AUTH_EMULATOR_HOST and FIRESTORE_EMULATOR_HOST
(``scripts/dev`` does). Against a real project, run it with Application Default
Credentials of someone allowed to manage Firebase Auth users
(``gcloud auth application-default login``). The change is audited with actor
``cli:make_admin`` and takes effect when the user's ID token next refreshes.
"""

from __future__ import annotations

import argparse
import os
import sys

from core.errors import ApiError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.make_admin",
        description="Grant the admin role to an existing Firebase Auth user.",
    )
    parser.add_argument("--email", required=True, help="email address of the user to promote")
    parser.add_argument(
        "--project",
        help="Firebase project id (default: FIREBASE_PROJECT_ID or GOOGLE_CLOUD_PROJECT)",
    )
    args = parser.parse_args(argv)
    if args.project:
        os.environ["FIREBASE_PROJECT_ID"] = args.project

    # Imported after --project is applied: settings are read once, on first use.
    from services import context
    from services.roles import RoleService

    try:
        directory = context.directory()
        user = directory.find_by_email(args.email)
        change = RoleService(directory, context.authenticator().sessions).bootstrap_admin(user.uid)
    except ApiError as error:
        print(f"make_admin: {error.code}: {error.message}", file=sys.stderr)
        return 1
    roles = ", ".join(sorted(role.value for role in change.after))
    print(f"{args.email} (uid {change.uid}) now has roles: {roles}")
    print("The user must refresh their ID token (or sign in again) to use them.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
