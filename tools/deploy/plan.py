"""The deploy as a list of exact commands (``gcloud`` and the Firebase CLI).

The plan is a pure function of the config and the project's current state
(``tools.deploy.state``): IAM converges on what ``tools/deploy/iam.py`` declares.
Custom roles are created, undeleted or updated to exactly their declared title,
description and permissions; missing service accounts are created; the backend's
accounts get every declared binding and lose every other one, on the project and on
secrets, and only theirs: a binding of any other principal is never in the state, so
never in the plan. Run it twice and the second IAM plan is empty.

Order: roles, accounts and new bindings first, then the functions (so that new code
finds the permissions it needs), then the removals (so that old code keeps its
permissions until it is replaced), then Firestore rules and indexes. A step renders as
one shell line (``shlex``), which is what ``--dry-run`` prints and what the unit tests
compare.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tools.deploy.config import DeployConfig, DeployConfigError, FunctionConfig
from tools.deploy.events import EVENT_FUNCTIONS, EVENTS_SERVICE, EXTRA_TRIGGERS
from tools.deploy.iam import SECRET_ACCESSOR, CustomRole, custom_roles, role_name, roles_for
from tools.deploy.state import PROJECT, Binding, CurrentState, backend_member_pattern

RUNTIME = "python312"
#: What ``gcloud functions deploy`` uploads is decided by this file (relative to --source).
IGNORE_FILE = "deploy/gcloudignore"
#: The ``--only`` target that deploys ``firestore.rules`` and ``firestore.indexes.json``.
FIRESTORE = "firestore"
BASE_SERVICES = (
    "cloudfunctions.googleapis.com",
    "cloudbuild.googleapis.com",
    "run.googleapis.com",
    "artifactregistry.googleapis.com",
    "iam.googleapis.com",
)
SECRETS_SERVICE = "secretmanager.googleapis.com"
#: Delimiters for gcloud's ``^D^`` list escaping, when a value holds a comma.
_DELIMITERS = (";", "@", "|", "#", "~", "!")


# --- what changes ------------------------------------------------------------------


@dataclass(frozen=True)
class CreateRole:
    role: CustomRole


@dataclass(frozen=True)
class UndeleteRole:
    role: CustomRole


@dataclass(frozen=True)
class UpdateRole:
    role: CustomRole


@dataclass(frozen=True)
class CreateAccount:
    account_id: str
    email: str
    display_name: str


@dataclass(frozen=True)
class AddBinding:
    binding: Binding


@dataclass(frozen=True)
class RemoveBinding:
    #: ``binding.condition`` set: a conditional binding, removed with every other
    #: binding of that member and role on that resource (``--all``).
    binding: Binding


Change = CreateRole | UndeleteRole | UpdateRole | CreateAccount | AddBinding | RemoveBinding


@dataclass(frozen=True)
class Declared:
    """The IAM the deploy wants for some functions (see ``declare``)."""

    roles: tuple[CustomRole, ...]
    #: email -> (account id, display name)
    accounts: Mapping[str, tuple[str, str]]
    bindings: frozenset[Binding]
    #: The members whose bindings converge on ``bindings``.
    members: frozenset[str]
    #: Also strip every other backend member (``<prefix>...@``, e.g. the account of a
    #: function that no longer exists); only when every function is deployed.
    orphans: re.Pattern[str] | None


def declare(config: DeployConfig, functions: Iterable[FunctionConfig]) -> Declared:
    """What IAM should be for ``functions`` (all of them: also remove orphans' roles)."""
    project = config.project
    chosen = list(functions)
    bindings: set[Binding] = set()
    accounts: dict[str, tuple[str, str]] = {}
    for function in chosen:
        email = config.service_account(function.name)
        member = f"serviceAccount:{email}"
        accounts[email] = (
            config.service_account_id(function.name),
            f"Cloud Function {function.name}",
        )
        for role in roles_for(function.name):
            bindings.add(Binding(PROJECT, role_name(role, project), member))
        for secret in {ref.name for ref in function.secrets.values()}:
            bindings.add(Binding(f"secrets/{secret}", SECRET_ACCESSOR, member))
    every_function = {f.name for f in chosen} == set(config.functions)
    return Declared(
        roles=custom_roles([f.name for f in chosen]),
        accounts=accounts,
        bindings=frozenset(bindings),
        members=frozenset(f"serviceAccount:{email}" for email in accounts),
        orphans=(
            backend_member_pattern(config.service_account_prefix, project)
            if every_function
            else None
        ),
    )


def diff(declared: Declared, current: CurrentState) -> list[Change]:
    """The IAM changes that take ``current`` to ``declared`` (empty when converged)."""
    changes: list[Change] = []
    for role in declared.roles:
        have = current.roles.get(role.id)
        if have is None:
            changes.append(CreateRole(role))
            continue
        if have.deleted:
            changes.append(UndeleteRole(role))
        if (have.title, have.description, have.permissions, have.stage) != (
            role.title,
            role.description,
            frozenset(role.permissions),
            role.stage,
        ):
            changes.append(UpdateRole(role))
    for email, (account_id, display_name) in declared.accounts.items():
        if email not in current.service_accounts:
            changes.append(CreateAccount(account_id, email, display_name))

    def in_scope(member: str) -> bool:
        return member in declared.members or (
            declared.orphans is not None and declared.orphans.match(member) is not None
        )

    held = {b for b in current.bindings if in_scope(b.member)}
    # ``--all`` removes a conditional binding together with the unconditional one of the
    # same member and role, which is then added back if it is declared.
    conditional = sorted({_unconditional(b) for b in held if b.condition is not None})
    for grant in conditional:
        first = min((b for b in held if _same_grant(b, grant)), key=lambda b: b.condition or "")
        changes.append(RemoveBinding(first))
    kept = {b for b in held if b.condition is None and b not in conditional}
    changes.extend(AddBinding(b) for b in sorted(declared.bindings - kept, key=_by_member))
    changes.extend(RemoveBinding(b) for b in sorted(kept - declared.bindings, key=_by_member))
    return changes


def _by_member(binding: Binding) -> tuple[bool, str, str]:
    """Project bindings first, then secrets; one account's roles together."""
    return (binding.resource != PROJECT, binding.resource, binding.member + " " + binding.role)


def _unconditional(binding: Binding) -> Binding:
    return Binding(binding.resource, binding.role, binding.member)


def _same_grant(binding: Binding, grant: Binding) -> bool:
    return binding.condition is not None and _unconditional(binding) == grant


# --- the steps ---------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One command."""

    argv: tuple[str, ...]
    #: A heading printed before the step in the dry run.
    section: str | None = None

    def render(self) -> str:
        return shlex.join(self.argv)


def build(config: DeployConfig, targets: Iterable[str], current: CurrentState) -> list[Step]:
    """The steps that deploy ``targets`` (function names and/or ``firestore``), in order.

    Raises:
        DeployConfigError: an event function is targeted but the project has no
            Firestore database to trigger on.
    """
    wanted = set(targets)
    functions = [f for name, f in config.functions.items() if name in wanted]
    project = config.project
    steps: list[Step] = []

    services = [*BASE_SERVICES]
    if any(f.secrets for f in functions):
        services.append(SECRETS_SERVICE)
    if any(f.name in EVENT_FUNCTIONS for f in functions):
        services.append(EVENTS_SERVICE)
        if current.firestore_location is None:
            raise DeployConfigError(
                "firestore",
                [
                    "the project has no (default) Firestore database, which the "
                    f"{', '.join(f.name for f in functions if f.name in EVENT_FUNCTIONS)} "
                    "function is triggered by: create it first (gcloud firestore "
                    "databases create --location=...)"
                ],
            )
    if functions:
        steps.append(
            Step(
                ("gcloud", "services", "enable", *services, f"--project={project}"),
                section="APIs the functions need",
            )
        )

    changes = diff(declare(config, functions), current) if functions else []
    removals = [c for c in changes if isinstance(c, RemoveBinding) and c.binding.condition is None]
    first = [c for c in changes if c not in removals]
    sections = _Sections()
    for change in first:
        steps.append(Step(_argv(change, project), section=sections.before(change)))
    for function in functions:
        steps.extend(_deploy(config, function, current))
    for change in removals:
        steps.append(Step(_argv(change, project), section=sections.before(change)))

    if FIRESTORE in wanted:
        steps.append(
            Step(
                (
                    "npx",
                    "firebase",
                    "deploy",
                    "--only",
                    "firestore:rules,firestore:indexes",
                    "--project",
                    project,
                    "--non-interactive",
                ),
                section="Firestore security rules and indexes",
            )
        )
    return steps


def render(config: DeployConfig, steps: Iterable[Step], *, iam_changes: int) -> str:
    """The dry run: a shell script, one command per line, with section comments."""
    lines = [
        f"# Deploy to project {config.project}, region {config.region}.",
        "# Run from the repository root, against the project as it is now: "
        + (f"{iam_changes} IAM change(s)." if iam_changes else "IAM already matches the config."),
    ]
    for step in steps:
        if step.section:
            lines.append(f"# {step.section}")
        lines.append(step.render())
    return "\n".join(lines) + "\n"


def iam_changes(
    config: DeployConfig, targets: Iterable[str], current: CurrentState
) -> list[Change]:
    """The IAM part of the plan for ``targets``: empty once the project has converged."""
    wanted = set(targets)
    functions = [f for name, f in config.functions.items() if name in wanted]
    return diff(declare(config, functions), current) if functions else []


class _Sections:
    """A heading whenever the kind of change differs from the previous step's."""

    _TITLES: Mapping[type, str] = {
        CreateRole: "Custom roles: create",
        UndeleteRole: "Custom roles: undelete (deleted, but still declared)",
        UpdateRole: "Custom roles: set to exactly the declared permissions",
        CreateAccount: "Runtime service accounts: create",
        AddBinding: "Roles the functions need: grant",
        RemoveBinding: "Roles no longer declared: remove (backend accounts only)",
    }

    def __init__(self) -> None:
        self._last: str | None = None

    def before(self, change: Change) -> str | None:
        if isinstance(change, RemoveBinding) and change.binding.condition is not None:
            title = (
                "Conditional bindings of backend accounts: remove (re-granted below if declared)"
            )
        else:
            title = self._TITLES[type(change)]
        if title == self._last:
            return None
        self._last = title
        return title


def _argv(change: Change, project: str) -> tuple[str, ...]:
    match change:
        case CreateRole(role=role):
            return (
                "gcloud",
                "iam",
                "roles",
                "create",
                role.id,
                f"--project={project}",
                *_role(role),
            )
        case UndeleteRole(role=role):
            return ("gcloud", "iam", "roles", "undelete", role.id, f"--project={project}")
        case UpdateRole(role=role):
            return (
                "gcloud",
                "iam",
                "roles",
                "update",
                role.id,
                f"--project={project}",
                *_role(role),
                "--quiet",
            )
        case CreateAccount(account_id=account_id, display_name=display_name):
            return (
                "gcloud",
                "iam",
                "service-accounts",
                "create",
                account_id,
                f"--project={project}",
                f"--display-name={display_name}",
            )
        case AddBinding(binding=binding):
            return (*_policy_command("add", binding, project), "--condition=None")
        case RemoveBinding(binding=binding):
            which = "--all" if binding.condition is not None else "--condition=None"
            return (*_policy_command("remove", binding, project), which)
    raise AssertionError(f"unknown change {change!r}")  # pragma: no cover


def _role(role: CustomRole) -> tuple[str, ...]:
    return (
        f"--title={role.title}",
        f"--description={role.description}",
        f"--permissions={','.join(sorted(role.permissions))}",
        f"--stage={role.stage}",
    )


def _policy_command(verb: str, binding: Binding, project: str) -> tuple[str, ...]:
    command = f"{verb}-iam-policy-binding"
    flags = (f"--member={binding.member}", f"--role={binding.role}")
    if binding.resource == PROJECT:
        return ("gcloud", "projects", command, project, *flags)
    secret = binding.resource.removeprefix("secrets/")
    return ("gcloud", "secrets", command, secret, f"--project={project}", *flags)


def _deploy(config: DeployConfig, function: FunctionConfig, current: CurrentState) -> list[Step]:
    env = {
        "FIREBASE_PROJECT_ID": config.project,
        "THREADS": str(function.concurrency),
        **function.env,
    }
    secrets = (
        f"--set-secrets={_key_values({k: str(v) for k, v in function.secrets.items()})}"
        if function.secrets
        else "--clear-secrets"
    )
    account = config.service_account(function.name)
    trigger = EVENT_FUNCTIONS.get(function.name)
    if trigger is None:
        how: tuple[str, ...] = ("--trigger-http", "--allow-unauthenticated")
    else:
        how = (
            f"--trigger-event-filters=type={trigger.event_type}",
            f"--trigger-event-filters=database={trigger.database}",
            f"--trigger-event-filters-path-pattern=document={trigger.document}",
            f"--trigger-location={current.firestore_location}",
            f"--trigger-service-account={account}",
            "--retry",
        )
    steps = [
        Step(
            (
                "gcloud",
                "functions",
                "deploy",
                function.name,
                "--gen2",
                f"--runtime={RUNTIME}",
                f"--region={config.region}",
                "--source=.",
                f"--entry-point={function.name}",
                *how,
                f"--service-account={account}",
                f"--memory={function.memory}",
                f"--cpu={_cpu(function.cpu)}",
                f"--timeout={function.timeout_seconds}s",
                f"--min-instances={function.min_instances}",
                f"--max-instances={function.max_instances}",
                f"--concurrency={function.concurrency}",
                f"--set-env-vars={_key_values(env)}",
                secrets,
                f"--ignore-file={IGNORE_FILE}",
                f"--project={config.project}",
                "--quiet",
            ),
            section=f"{function.name}: the function",
        )
    ]
    if trigger is not None:
        # Eventarc calls the function as its own account; nobody else may invoke it.
        steps.append(
            Step(
                (
                    "gcloud",
                    "functions",
                    "add-invoker-policy-binding",
                    function.name,
                    f"--region={config.region}",
                    f"--member=serviceAccount:{account}",
                    f"--project={config.project}",
                )
            )
        )
    for extra in EXTRA_TRIGGERS.get(function.name, ()):
        # The function's other triggers, on its Cloud Run service (same name): created
        # once, then updated to the declared filters and account on every deploy.
        verb = "update" if extra.name in current.eventarc_triggers else "create"
        steps.append(
            Step(
                (
                    "gcloud",
                    "eventarc",
                    "triggers",
                    verb,
                    extra.name,
                    f"--location={current.firestore_location}",
                    f"--destination-run-service={function.name}",
                    f"--destination-run-region={config.region}",
                    f"--event-filters=type={extra.trigger.event_type}",
                    f"--event-filters=database={extra.trigger.database}",
                    f"--event-filters-path-pattern=document={extra.trigger.document}",
                    *(
                        ("--event-data-content-type=application/protobuf",)
                        if verb == "create"
                        else ()
                    ),
                    f"--service-account={account}",
                    f"--project={config.project}",
                )
            )
        )
    return steps


def _key_values(values: Mapping[str, str]) -> str:
    """``K=V,K2=V2``, or gcloud's ``^D^K=V1,V2DK2=V`` escaping when a value holds a comma."""
    pairs = [f"{key}={value}" for key, value in sorted(values.items())]
    if not any("," in pair for pair in pairs):
        return ",".join(pairs)
    for delimiter in _DELIMITERS:
        if not any(delimiter in pair for pair in pairs):
            return f"^{delimiter}^" + delimiter.join(pairs)
    raise DeployConfigError(
        "env",
        [
            f"values of {', '.join(sorted(values))} use every list delimiter "
            f"({' '.join(_DELIMITERS)})"
        ],
    )


def _cpu(cpu: float) -> str:
    return str(int(cpu)) if cpu.is_integer() else f"{cpu:g}"
