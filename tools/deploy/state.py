"""What the project holds now: the part of its IAM the deploy converges, read with gcloud.

The plan (``tools.deploy.plan``) is a pure function of the config and a ``CurrentState``;
this module is the only one that asks gcloud what exists, so tests hand the plan
fixtures instead (and ``--state FILE`` does the same from the command line: the JSON
that ``to_json`` writes).

Only the backend's own principals are read (``serviceAccount:<prefix>...@<project>``,
and the ``deleted:`` form of a deleted one): bindings of anyone else are never part of
the state, so the plan cannot touch them.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The resource of a project-level binding; secrets are ``secrets/<name>``.
PROJECT = "project"
SECRETS_SERVICE = "secretmanager.googleapis.com"
IAM_SERVICE = "iam.googleapis.com"
FIRESTORE_SERVICE = "firestore.googleapis.com"
EVENTARC_SERVICE = "eventarc.googleapis.com"

#: Runs ``gcloud`` with these arguments and returns its stdout; raises ``StateReadError``.
Gcloud = Callable[[Sequence[str]], str]


class StateReadError(RuntimeError):
    """gcloud could not tell what the project holds (the deploy stops: it never acts on
    a state it does not know)."""


@dataclass(frozen=True, order=True)
class Binding:
    """One member holding one role on one resource (the project, or ``secrets/<name>``)."""

    resource: str
    role: str
    member: str
    #: The title of the binding's IAM condition; ``None`` for an unconditional binding.
    condition: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "role": self.role,
            "member": self.member,
            "condition": self.condition,
        }


@dataclass(frozen=True)
class RoleState:
    """A project-level custom role as IAM has it."""

    title: str
    description: str
    permissions: frozenset[str]
    stage: str = "GA"
    #: Deleted roles keep their id for 37 days (it cannot be created again meanwhile).
    deleted: bool = False


@dataclass(frozen=True)
class CurrentState:
    """The IAM facts the deploy converges on the config, and nothing else."""

    #: Custom roles of the project, by id (the ones the deploy declares, if they exist).
    roles: Mapping[str, RoleState] = field(default_factory=dict)
    #: Emails of the backend's service accounts that exist.
    service_accounts: frozenset[str] = frozenset()
    #: Every binding of a backend principal on the project and on its secrets.
    bindings: frozenset[Binding] = frozenset()
    #: Where the ``(default)`` Firestore database is (e.g. ``eur3``), if it exists.
    firestore_location: str | None = None
    #: Ids of the Eventarc triggers in that location (``tools.deploy.events.EXTRA_TRIGGERS``
    #: are created when missing, updated otherwise).
    eventarc_triggers: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """The ``--state FILE`` format (also what ``from_json`` reads)."""
        return {
            "roles": {
                role_id: {
                    "title": role.title,
                    "description": role.description,
                    "permissions": sorted(role.permissions),
                    "stage": role.stage,
                    "deleted": role.deleted,
                }
                for role_id, role in sorted(self.roles.items())
            },
            "serviceAccounts": sorted(self.service_accounts),
            "bindings": [binding.to_json() for binding in sorted(self.bindings)],
            "firestoreLocation": self.firestore_location,
            "eventarcTriggers": sorted(self.eventarc_triggers),
        }


def from_json(data: Any) -> CurrentState:
    """Read the ``--state FILE`` format. Raises: StateReadError (with what is wrong)."""
    try:
        roles = {
            str(role_id): RoleState(
                title=str(role["title"]),
                description=str(role.get("description", "")),
                permissions=frozenset(str(p) for p in role["permissions"]),
                stage=str(role.get("stage", "GA")),
                deleted=bool(role.get("deleted", False)),
            )
            for role_id, role in data.get("roles", {}).items()
        }
        bindings = frozenset(
            Binding(
                resource=str(item["resource"]),
                role=str(item["role"]),
                member=str(item["member"]),
                condition=None if item.get("condition") is None else str(item["condition"]),
            )
            for item in data.get("bindings", [])
        )
        location = data.get("firestoreLocation")
        return CurrentState(
            roles=roles,
            service_accounts=frozenset(str(email) for email in data.get("serviceAccounts", [])),
            bindings=bindings,
            firestore_location=None if location is None else str(location),
            eventarc_triggers=frozenset(str(name) for name in data.get("eventarcTriggers", [])),
        )
    except (AttributeError, KeyError, TypeError) as error:
        raise StateReadError(f"state file: expected the format of --state, got {error!r}") from None


def backend_member_pattern(prefix: str, project: str) -> re.Pattern[str]:
    """Members that are the backend's own service accounts (live or deleted)."""
    return re.compile(
        rf"^(?:deleted:)?serviceAccount:{re.escape(prefix)}[a-z0-9-]+"
        rf"@{re.escape(project)}\.iam\.gserviceaccount\.com(?:\?uid=[0-9]+)?$"
    )


def read(project: str, prefix: str, role_ids: Iterable[str], gcloud: Gcloud) -> CurrentState:
    """Ask gcloud what the project holds now (read-only calls).

    Args:
        project: the project id.
        prefix: the backend's service account prefix; only members
            ``serviceAccount:<prefix>...@<project>.iam.gserviceaccount.com`` are read.
        role_ids: the custom roles the deploy declares (the only ones described).
        gcloud: runs gcloud (``run_gcloud``; tests pass a fake).

    Raises:
        StateReadError: a call failed or answered something unexpected.
    """
    ours = backend_member_pattern(prefix, project)
    enabled = {
        str(item.get("config", {}).get("name", ""))
        for item in _json(gcloud, ["services", "list", "--enabled", *_project(project)])
    }
    bindings = set(
        _policy_bindings(_json(gcloud, ["projects", "get-iam-policy", project]), PROJECT)
    )

    roles: dict[str, RoleState] = {}
    accounts: set[str] = set()
    if IAM_SERVICE in enabled:
        existing = {
            str(item.get("name", "")).rsplit("/", 1)[-1]
            for item in _json(
                gcloud, ["iam", "roles", "list", "--show-deleted", *_project(project)]
            )
        }
        for role_id in sorted(set(role_ids) & existing):
            roles[role_id] = _role(
                _json(gcloud, ["iam", "roles", "describe", role_id, *_project(project)])
            )
        accounts = {
            str(item.get("email", ""))
            for item in _json(gcloud, ["iam", "service-accounts", "list", *_project(project)])
            if ours.match(f"serviceAccount:{item.get('email', '')}")
        }
    if SECRETS_SERVICE in enabled:
        for item in _json(gcloud, ["secrets", "list", *_project(project)]):
            secret = str(item.get("name", "")).rsplit("/", 1)[-1]
            policy = _json(gcloud, ["secrets", "get-iam-policy", secret, *_project(project)])
            bindings.update(_policy_bindings(policy, f"secrets/{secret}"))
    location = None
    if FIRESTORE_SERVICE in enabled:
        location = _firestore_location(gcloud, project)
    triggers: set[str] = set()
    if EVENTARC_SERVICE in enabled and location is not None:
        triggers = {
            str(item.get("name", "")).rsplit("/", 1)[-1]
            for item in _json(
                gcloud,
                ["eventarc", "triggers", "list", f"--location={location}", *_project(project)],
            )
        }
    return CurrentState(
        roles=roles,
        service_accounts=frozenset(accounts),
        bindings=frozenset(b for b in bindings if ours.match(b.member)),
        firestore_location=location,
        eventarc_triggers=frozenset(triggers),
    )


def run_gcloud(args: Sequence[str]) -> str:
    """Run ``gcloud ARGS`` (read-only calls) and return its stdout.

    Raises: StateReadError, with gcloud's own message.
    """
    try:
        completed = subprocess.run(  # noqa: S603 - gcloud from PATH, as the deploy runs it
            ["gcloud", *args],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        raise StateReadError(f"cannot run gcloud: {error.strerror}") from None
    if completed.returncode != 0:
        message = completed.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise StateReadError(f"gcloud {' '.join(args)}: {message[0]}")
    return completed.stdout


def _project(project: str) -> list[str]:
    return [f"--project={project}"]


def _json(gcloud: Gcloud, args: list[str]) -> Any:
    args = [*args, "--format=json"]
    output = gcloud(args)
    try:
        return json.loads(output) if output.strip() else []
    except json.JSONDecodeError:
        raise StateReadError(
            f"gcloud {' '.join(args)}: expected JSON, got {output[:80]!r}"
        ) from None


def _policy_bindings(policy: Any, resource: str) -> Iterable[Binding]:
    if not isinstance(policy, Mapping):
        raise StateReadError(
            f"{resource}: expected an IAM policy object, got {type(policy).__name__}"
        )
    for binding in policy.get("bindings", []):
        condition = binding.get("condition")
        title = (
            None if not condition else str(condition.get("title") or condition.get("expression"))
        )
        for member in binding.get("members", []):
            yield Binding(resource, str(binding["role"]), str(member), title)


def _role(data: Any) -> RoleState:
    if not isinstance(data, Mapping):
        raise StateReadError(f"custom role: expected an object, got {type(data).__name__}")
    return RoleState(
        title=str(data.get("title", "")),
        description=str(data.get("description", "")),
        permissions=frozenset(str(p) for p in data.get("includedPermissions", [])),
        stage=str(data.get("stage", "GA")),
        deleted=bool(data.get("deleted", False)),
    )


def _firestore_location(gcloud: Gcloud, project: str) -> str | None:
    try:
        data = _json(
            gcloud,
            ["firestore", "databases", "describe", "--database=(default)", *_project(project)],
        )
    except StateReadError:
        return None  # no (default) database yet; the plan says what to do if one is needed
    location = data.get("locationId") if isinstance(data, Mapping) else None
    return str(location) if location else None


def load_file(text: str) -> CurrentState:
    """``--state FILE``. Raises: StateReadError."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise StateReadError(f"state file: not valid JSON: {error}") from None
    if not isinstance(data, Mapping):
        raise StateReadError("state file: expected a JSON object")
    return from_json(data)


def dump(state: CurrentState) -> str:
    return json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n"
