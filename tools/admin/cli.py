"""``python -m tools.admin``: the operator's command line over the Admin SDK."""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from auth import Role
from core import fields
from core.errors import ApiError, Unavailable
from core.settings import ConfigError, Settings
from tools.admin import ops
from tools.admin.ops import Operator, RoleOutcome
from tools.admin.users import UserInfo

PROG = "python -m tools.admin"
#: Where ``--emulator`` points, unless the variables are already set (firebase.json's ports).
EMULATOR_HOSTS = {
    "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080",
}
#: The project ``--emulator`` uses when none is given (the one scripts/dev and scripts/test use).
EMULATOR_PROJECT = "demo-backend"
MAX_AUDIT_LIMIT = 1000
MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS = 0.5, 60.0
#: Exit statuses.
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130

DESCRIPTION = """\
Administer the users and roles of the backend's Firebase project with the Admin SDK.

It acts with Application Default Credentials of someone allowed to manage Firebase
Auth users and Firestore (gcloud auth application-default login), or on the local
emulators with --emulator. Role changes take the same locked, audited path as
PUT /admin/users/{uid}/roles, with the command as actor (cli:grant, cli:revoke, ...).
"""

EPILOG = """\
USER is an email address or a uid. Options may also follow the command.

examples:
  python -m tools.admin --emulator grant alice@example.com admin
  python -m tools.admin --project my-project roles alice@example.com
  python -m tools.admin --project my-project revoke bob@example.com auditor
  python -m tools.admin --project my-project admins
  python -m tools.admin --project my-project audit --limit 50 --follow

Granting takes effect when the user's ID token refreshes (within the hour, or at once
with getIdToken(true)); revoking takes effect at once (their sessions are revoked).

exit status: 0 done, 1 operational error (printed as "error CODE: message"), 2 usage.
"""

Handler = Callable[[Operator, argparse.Namespace, "Output"], int]


def main(argv: Sequence[str] | None = None, *, actor: str | None = None) -> int:
    """Run one command.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        actor: the audit actor of changes, instead of ``cli:<command>`` (aliases use it).

    Returns:
        The exit status: 0 done, 1 operational error, 2 usage (130 on Ctrl-C).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    args.actor = actor or ops.actor(args.command)
    return run(args, COMMANDS[args.command])


def run(args: argparse.Namespace, handler: Handler) -> int:
    """Point the process at the project (or the emulators), run ``handler``, map errors.

    ``args`` needs ``project``, ``emulator``, ``json`` and ``debug``.
    """
    _configure_logging(debug=args.debug)
    _configure_target(args.project, emulator=args.emulator)
    out = Output(json_lines=args.json)
    unreachable = _unreachable_emulators()
    if unreachable:
        # Fail now: the SDKs would retry a refused connection for minutes.
        return fail(
            "unavailable",
            f"nothing answers at {', '.join(unreachable)}; start the emulators "
            "(scripts/dev, or firebase emulators:start) or point the variables elsewhere",
        )
    try:
        settings = Settings.from_env()
        operator = Operator.connect(settings, tenant=getattr(args, "tenant", None))
        print(f"admin: {_describe_target(settings)}", file=sys.stderr)
        return handler(operator, args, out)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return INTERRUPTED
    except ApiError as error:
        return fail(error.code, error.message + _hint(error))
    except ConfigError as error:
        return fail("config", str(error))
    except Exception as error:
        from google.auth import exceptions as google_auth_errors

        if args.debug:
            raise
        if isinstance(error, google_auth_errors.GoogleAuthError):
            return fail(
                "credentials",
                f"{str(error).rstrip('.')}. Sign in with `gcloud auth application-default "
                "login` (as someone who may manage the project's users), or use --emulator.",
            )
        return fail("internal", f"{type(error).__name__}: {error} (run with --debug for details)")


def fail(code: str, message: str) -> int:
    """Print ``error CODE: message`` on stderr; returns the operational-error status."""
    print(f"error {code}: {message}", file=sys.stderr)
    return FAILED


# --- the commands ---------------------------------------------------------------


def cmd_grant(op: Operator, args: argparse.Namespace, out: Output) -> int:
    role = Role(args.role)
    outcome = op.grant(args.user, role, by=args.actor)
    if outcome.changed:
        text = (
            f"{_label(outcome.user)} now has roles: {_roles(outcome.after)}\n"
            "The user must refresh their ID token (or sign in again) to use it."
        )
    else:
        text = f"{_label(outcome.user)} already has {role}; nothing changed."
    out.emit(_outcome_json(outcome), text)
    return OK


def cmd_revoke(op: Operator, args: argparse.Namespace, out: Output) -> int:
    role = Role(args.role)
    outcome = op.revoke(args.user, role, by=args.actor)
    if outcome.changed:
        text = f"{_label(outcome.user)} now has roles: {_roles(outcome.after)}"
        if outcome.sessions_revoked:
            text += "\nTheir sessions were revoked: the role stopped working at once."
    else:
        text = f"{_label(outcome.user)} does not have {role}; nothing changed."
    out.emit(_outcome_json(outcome), text)
    return OK


def cmd_roles(op: Operator, args: argparse.Namespace, out: Output) -> int:
    user = op.find(args.user)
    out.emit(
        {"uid": user.uid, "email": user.email, "roles": _role_list(user.roles)},
        f"{_label(user)}: {_roles(user.roles)}",
    )
    return OK


def cmd_admins(op: Operator, args: argparse.Namespace, out: Output) -> int:
    role = Role(args.role)
    found = op.users_with_role(role)
    if out.json_lines:
        out.emit([_user_json(user) for user in found], "")
        return OK
    if not found:
        out.emit(None, f"No user has the {role} role.")
        return OK
    rows = [
        (user.uid, user.email or "-", _roles(user.roles), "disabled" if user.disabled else "")
        for user in found
    ]
    out.emit(None, _table(("uid", "email", "roles", ""), rows))
    return OK


def cmd_lookup(op: Operator, args: argparse.Namespace, out: Output) -> int:
    user = op.find(args.user)
    other = sorted(key for key in user.custom_claims if key != "roles")
    text = _table(
        None,
        [
            ("uid", user.uid),
            ("email", user.email or "-"),
            ("email verified", _yes_no(user.email_verified)),
            ("disabled", _yes_no(user.disabled)),
            ("roles", _roles(user.roles)),
            ("other claims", ", ".join(other) or "(none)"),
            ("providers", ", ".join(user.providers) or "(none)"),
            ("created", _when(user.created_at)),
            ("last sign-in", _when(user.last_sign_in_at)),
            ("tokens valid after", _when(user.tokens_valid_after)),
        ],
    )
    out.emit(_user_json(user), text)
    return OK


def cmd_audit(op: Operator, args: argparse.Namespace, out: Output) -> int:
    if not args.follow:
        for entry in reversed(list(ops.newest_entries(args.limit, op.audit_pages))):
            out.entry(entry)
        return OK
    tail = ops.AuditTail(op.audit_pages)
    for entry in tail.start(args.limit):
        out.entry(entry)
    print(f"admin: following the audit log every {args.interval:g}s; Ctrl-C stops", file=sys.stderr)
    try:
        while True:
            _sleep(args.interval)
            try:
                fresh = tail.poll()
            except Unavailable as error:
                print(f"warning {error.code}: {error.message} (retrying)", file=sys.stderr)
                continue
            for entry in fresh:
                out.entry(entry)
    except KeyboardInterrupt:
        return OK


def cmd_revoke_sessions(op: Operator, args: argparse.Namespace, out: Output) -> int:
    user, revoked_at = op.revoke_sessions(args.user, by=args.actor)
    when = datetime.fromtimestamp(revoked_at, UTC)
    out.emit(
        {"uid": user.uid, "email": user.email, "revokedAt": when.isoformat()},
        f"Revoked the sessions of {_label(user)}: its refresh tokens no longer work and "
        f"ID tokens issued up to {_when(when)} are refused.",
    )
    return OK


COMMANDS: dict[str, Handler] = {
    "grant": cmd_grant,
    "revoke": cmd_revoke,
    "roles": cmd_roles,
    "admins": cmd_admins,
    "lookup": cmd_lookup,
    "audit": cmd_audit,
    "revoke-sessions": cmd_revoke_sessions,
}
#: Seconds between audit polls; replaced in tests.
_sleep: Callable[[float], None] = time.sleep


# --- the parser -------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=formatter
    )
    add_target_options(parser)
    # The same options after the command; SUPPRESS keeps the values given before it.
    common = argparse.ArgumentParser(add_help=False)
    add_target_options(common, suppress=True)
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, title="commands"
    )

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            parents=[common],
            help=summary,
            description=description,
            formatter_class=formatter,
        )

    roles = ", ".join(role.value for role in Role)
    grant = command(
        "grant",
        "give a user a role",
        "Add ROLE to the user's roles, keeping their other roles and custom claims.\n"
        "The user gets it when their ID token refreshes.",
    )
    _user_argument(grant)
    grant.add_argument("role", metavar="ROLE", choices=[r.value for r in Role], help=roles)

    revoke = command(
        "revoke",
        "take a role away (at once: sessions are revoked)",
        "Remove ROLE from the user's roles and revoke their sessions, so that tokens\n"
        "that still carry the role stop working at once.",
    )
    _user_argument(revoke)
    revoke.add_argument("role", metavar="ROLE", choices=[r.value for r in Role], help=roles)

    _user_argument(command("roles", "show a user's roles", "Print the user's roles."))

    admins = command(
        "admins",
        "list the users who have a role (admin by default)",
        "List every user holding the role, paging through all users of the project.",
    )
    admins.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default=Role.ADMIN.value,
        help=f"the role to list ({roles}; default: admin)",
    )

    _user_argument(
        command(
            "lookup",
            "show a user's account",
            "Print a user's account: email, verification, status, roles, custom claims,\n"
            "sign-in providers, creation and last sign-in, and when sessions were revoked.",
        )
    )

    audit = command(
        "audit",
        "print (and follow) the audit log",
        "Print the newest entries of the audit log, oldest first; with --follow, keep\n"
        "printing new entries (and outcome changes) until Ctrl-C.",
    )
    audit.add_argument(
        "--limit",
        type=_bounded(int, 1, MAX_AUDIT_LIMIT),
        default=20,
        metavar="N",
        help=f"how many of the newest entries to print (1-{MAX_AUDIT_LIMIT}; default 20)",
    )
    audit.add_argument("--follow", "-f", action="store_true", help="keep printing new entries")
    audit.add_argument(
        "--interval",
        type=_bounded(float, MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS),
        default=2.0,
        metavar="SECONDS",
        help=f"seconds between polls with --follow "
        f"({MIN_INTERVAL_SECONDS:g}-{MAX_INTERVAL_SECONDS:g}; default 2)",
    )

    _user_argument(
        command(
            "revoke-sessions",
            "sign a user out everywhere",
            "Revoke the user's refresh tokens: they must sign in again, and ID tokens\n"
            "issued until now are refused. Audited as sessions.revoked.",
        )
    )
    return parser


def add_target_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """``--project``, ``--emulator``, ``--json``, ``--debug`` (shared with tools.make_admin)."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("target and output")
    group.add_argument(
        "--project",
        default=default(None),
        help="Firebase project id (default: FIREBASE_PROJECT_ID or GOOGLE_CLOUD_PROJECT; "
        f"with --emulator, {EMULATOR_PROJECT})",
    )
    group.add_argument(
        "--emulator",
        action="store_true",
        default=default(False),
        help="use the local emulators: FIREBASE_AUTH_EMULATOR_HOST="
        f"{EMULATOR_HOSTS['FIREBASE_AUTH_EMULATOR_HOST']} and FIRESTORE_EMULATOR_HOST="
        f"{EMULATOR_HOSTS['FIRESTORE_EMULATOR_HOST']}, unless already set",
    )
    group.add_argument(
        "--tenant",
        type=_tenant_id,
        default=default(None),
        help="act on the users, audit log and data of this Identity Platform tenant "
        "(default: the project-level users)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print JSON (the audit log as one object per line)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="show SDK logs and tracebacks",
    )


def _tenant_id(value: str) -> str:
    if not fields.TENANT_ID.matches(value):
        raise argparse.ArgumentTypeError(
            f"expected a tenant ID (letters, digits, '-'), got {value!r}"
        )
    return value


def _user_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", metavar="USER", type=_user_ref, help="email address or uid")


def _user_ref(value: str) -> str:
    value = value.strip()
    if ops.is_email(value):
        if len(value) > fields.MAX_EMAIL_LENGTH:
            raise argparse.ArgumentTypeError(
                f"expected an email address of at most {fields.MAX_EMAIL_LENGTH} characters"
            )
    elif not value or len(value) > fields.MAX_UID_LENGTH or any(c.isspace() for c in value):
        raise argparse.ArgumentTypeError(
            "expected an email address or a uid "
            f"(1-{fields.MAX_UID_LENGTH} characters, no spaces), got {value!r}"
        )
    return value


def _bounded(kind: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number from {low:g} to {high:g}, got {raw!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low:g} to {high:g}, got {raw}")
        return value

    parse.__name__ = kind.__name__
    return parse


# --- environment ------------------------------------------------------------------


def _configure_target(project: str | None, *, emulator: bool) -> None:
    """Set the variables ``core.settings`` reads; before anything reads them."""
    if emulator:
        for name, host in EMULATOR_HOSTS.items():
            os.environ.setdefault(name, host)
        if not project and not any(
            os.environ.get(name)
            for name in ("FIREBASE_PROJECT_ID", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT")
        ):
            project = EMULATOR_PROJECT
    if project:
        os.environ["FIREBASE_PROJECT_ID"] = project


def _describe_target(settings: Settings) -> str:
    hosts = [
        f"{name} {host}"
        for name, host in (
            ("auth", settings.auth_emulator_host),
            ("firestore", settings.firestore_emulator_host),
        )
        if host
    ]
    where = f"emulators: {', '.join(hosts)}" if hosts else "live"
    return f"project {settings.project_id} ({where})"


def _unreachable_emulators() -> list[str]:
    """``NAME=host:port`` of each emulator variable whose address refuses connections."""
    unreachable = []
    for name in EMULATOR_HOSTS:
        address = os.environ.get(name)
        if not address:
            continue
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
                pass
        except (OSError, ValueError):
            unreachable.append(f"{name}={address}")
    return unreachable


def _hint(error: ApiError) -> str:
    if not isinstance(error, Unavailable):
        return ""
    hosts = [f"{name}={os.environ[name]}" for name in EMULATOR_HOSTS if os.environ.get(name)]
    if hosts:
        return f" Are the emulators running ({', '.join(hosts)})?"
    return ""


def _configure_logging(*, debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# --- output -----------------------------------------------------------------------


class Output:
    """Plain text for people, or JSON for scripts (``--json``), on stdout."""

    def __init__(self, *, json_lines: bool) -> None:
        self.json_lines = json_lines

    def emit(self, data: Any, text: str) -> None:
        if self.json_lines:
            print(json.dumps(data, sort_keys=True))
        elif text:
            print(text)

    def entry(self, entry: dict[str, Any]) -> None:
        from handlers.wire import audit_json

        wire = audit_json(entry)
        text = "  ".join(
            [
                _when(entry.get("time")),
                str(wire["action"]),
                f"{wire['actor']} -> {wire['target']}",
                f"{_compact(wire['before'])} -> {_compact(wire['after'])}",
                f"[{wire['outcome']}]",
            ]
        )
        self.emit(wire, text)
        sys.stdout.flush()


def _outcome_json(outcome: RoleOutcome) -> dict[str, Any]:
    return {
        "uid": outcome.user.uid,
        "email": outcome.user.email,
        "before": _role_list(outcome.before),
        "roles": _role_list(outcome.after),
        "changed": outcome.changed,
        "sessionsRevoked": outcome.sessions_revoked,
    }


def _user_json(user: UserInfo) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "uid": user.uid,
        "email": user.email,
        "emailVerified": user.email_verified,
        "disabled": user.disabled,
        "roles": _role_list(user.roles),
        "customClaims": user.custom_claims,
        "providers": list(user.providers),
        "createdAt": iso(user.created_at),
        "lastSignInAt": iso(user.last_sign_in_at),
        "tokensValidAfter": iso(user.tokens_valid_after),
    }


def _label(user: UserInfo) -> str:
    return f"{user.email} (uid {user.uid})" if user.email else f"uid {user.uid}"


def _role_list(roles: Iterable[Role]) -> list[str]:
    return sorted(role.value for role in roles)


def _roles(roles: Iterable[Role]) -> str:
    return ", ".join(_role_list(roles)) or "(none)"


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _when(value: Any) -> str:
    if not isinstance(value, datetime):
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _table(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns; without a header, ``key:  value`` lines."""
    if header is None:
        width = max(len(key) for key, _ in rows) + 1
        return "\n".join(f"{key + ':':<{width}}  {value}" for key, value in rows)
    lines = [list(header), *(list(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
