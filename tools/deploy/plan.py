"""The deploy as a list of exact commands (``gcloud`` and the Firebase CLI).

Every step is idempotent: creations are guarded by a ``describe`` that skips them
when the resource exists, bindings and deploys converge on the config. A step
renders as one shell line (``shlex``), which is what ``--dry-run`` prints and what
the unit tests compare.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tools.deploy.config import DeployConfig, DeployConfigError, FunctionConfig
from tools.deploy.iam import FUNCTION_ROLES, SECRET_ACCESSOR, CustomRole, role_name, roles_for

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


@dataclass(frozen=True)
class Step:
    """One command; ``unless`` (if any) is run first and, if it succeeds, the step is skipped."""

    argv: tuple[str, ...]
    unless: tuple[str, ...] | None = None
    #: A heading printed before the step in the dry run.
    section: str | None = None

    def render(self) -> str:
        command = shlex.join(self.argv)
        if self.unless is None:
            return command
        return f"{shlex.join(self.unless)} >/dev/null 2>&1 || {command}"


def build(config: DeployConfig, targets: Iterable[str]) -> list[Step]:
    """The steps that deploy ``targets`` (function names and/or ``firestore``), in order."""
    wanted = set(targets)
    functions = [f for name, f in config.functions.items() if name in wanted]
    project = config.project
    steps: list[Step] = []

    services = [*BASE_SERVICES]
    if any(f.secrets for f in functions):
        services.append(SECRETS_SERVICE)
    if functions:
        steps.append(
            Step(
                ("gcloud", "services", "enable", *services, f"--project={project}"),
                section="APIs the functions need",
            )
        )

    custom_roles: dict[str, CustomRole] = {}
    for function in functions:
        for role in FUNCTION_ROLES[function.name]:
            if isinstance(role, CustomRole):
                custom_roles.setdefault(role.id, role)
    for role in custom_roles.values():
        steps.append(_custom_role(role, project))

    for function in functions:
        steps.extend(_identity(config, function))
    for function in functions:
        steps.append(_deploy(config, function))

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


def render(config: DeployConfig, steps: Iterable[Step]) -> str:
    """The dry run: a shell script, one command per line, with section comments."""
    lines = [
        f"# Deploy to project {config.project}, region {config.region}.",
        "# Run from the repository root; every step is safe to repeat.",
    ]
    for step in steps:
        if step.section:
            lines.append(f"# {step.section}")
        lines.append(step.render())
    return "\n".join(lines) + "\n"


def _custom_role(role: CustomRole, project: str) -> Step:
    return Step(
        (
            "gcloud",
            "iam",
            "roles",
            "create",
            role.id,
            f"--project={project}",
            f"--title={role.title}",
            f"--description={role.description}",
            f"--permissions={','.join(role.permissions)}",
            "--stage=GA",
        ),
        unless=("gcloud", "iam", "roles", "describe", role.id, f"--project={project}"),
        section=f"Custom role {role.id}",
    )


def _identity(config: DeployConfig, function: FunctionConfig) -> list[Step]:
    project, account = config.project, config.service_account(function.name)
    member = f"--member=serviceAccount:{account}"
    steps = [
        Step(
            (
                "gcloud",
                "iam",
                "service-accounts",
                "create",
                config.service_account_id(function.name),
                f"--project={project}",
                f"--display-name=Cloud Function {function.name}",
            ),
            unless=(
                "gcloud",
                "iam",
                "service-accounts",
                "describe",
                account,
                f"--project={project}",
            ),
            section=f"{function.name}: runtime service account and its roles",
        )
    ]
    for role in roles_for(function.name, function.env, function.secrets):
        steps.append(
            Step(
                (
                    "gcloud",
                    "projects",
                    "add-iam-policy-binding",
                    project,
                    member,
                    f"--role={role_name(role, project)}",
                    "--condition=None",
                )
            )
        )
    for secret in sorted({ref.name for ref in function.secrets.values()}):
        steps.append(
            Step(
                (
                    "gcloud",
                    "secrets",
                    "add-iam-policy-binding",
                    secret,
                    f"--project={project}",
                    member,
                    f"--role={SECRET_ACCESSOR}",
                )
            )
        )
    return steps


def _deploy(config: DeployConfig, function: FunctionConfig) -> Step:
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
    return Step(
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
            "--trigger-http",
            "--allow-unauthenticated",
            f"--service-account={config.service_account(function.name)}",
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
