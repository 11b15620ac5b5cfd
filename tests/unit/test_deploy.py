"""tools.deploy: the config is checked before anything runs, and --dry-run prints the
exact commands (compared here line by line) that a real run executes."""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tools._routes import deployable_names, function_names
from tools.deploy import cli, plan
from tools.deploy.config import (
    FORBIDDEN,
    MANAGED,
    PLATFORM,
    SETTINGS,
    DeployConfigError,
    load,
    parse,
)
from tools.deploy.iam import FUNCTION_ROLES, SESSION_REVOKER

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ("me", "projects", "admin", "session", "call")
#: The API's functions, then Identity Platform's blocking function.
DEPLOYED = (*FUNCTIONS, "identity")

SAMPLE_TOML = """\
project = "acme-prod"
region = "us-central1"

[env]
CORS_ALLOWED_ORIGINS = ["https://app.acme.com", "https://admin.acme.com"]
REQUIRE_VERIFIED_EMAIL = false

[secrets]
TOKEN_CLOCK_SKEW_SECONDS = "clock-skew"

[functions.me]
memory = "256Mi"
cpu = 0.5
timeout_seconds = 30
min_instances = 0
max_instances = 5
concurrency = 1

[functions.projects]
memory = "1Gi"
cpu = 2
timeout_seconds = 120
min_instances = 1
max_instances = 50
concurrency = 80

[functions.projects.env]
REVOCATION_CHECK_MAX_AGE_SECONDS = 30

[functions.admin]
memory = "512Mi"
cpu = 1
timeout_seconds = 60
min_instances = 0
max_instances = 2
concurrency = 4

[functions.admin.secrets]
REVOCATION_CACHE_SIZE = "cache-size:3"

[functions.session]
memory = "256Mi"
cpu = 1
timeout_seconds = 30
min_instances = 0
max_instances = 10
concurrency = 40

[functions.call]
memory = "512Mi"
cpu = 1
timeout_seconds = 60
min_instances = 0
max_instances = 20
concurrency = 40
[functions.identity]
memory = "256Mi"
cpu = 1
timeout_seconds = 15
min_instances = 0
max_instances = 10
concurrency = 40

[functions.identity.env]
SIGNUP_ALLOWED_EMAIL_DOMAINS = ["acme.com"]
"""

P = "acme-prod"
SA = "@acme-prod.iam.gserviceaccount.com"
ENV_ALL = (
    "CORS_ALLOWED_ORIGINS=https://app.acme.com,https://admin.acme.com;"
    "FIREBASE_PROJECT_ID=acme-prod;REQUIRE_VERIFIED_EMAIL=false"
)
COMMON_DEPLOY = (
    "--gen2 --runtime=python312 --region=us-central1 --source=. --entry-point={name} "
    "--trigger-http --allow-unauthenticated --service-account=backend-{name}" + SA
)
TAIL = "--ignore-file=deploy/gcloudignore --project=acme-prod --quiet"

EXPECTED_DRY_RUN = [
    "# Deploy to project acme-prod, region us-central1.",
    "# Run from the repository root; every step is safe to repeat.",
    "# APIs the functions need",
    "gcloud services enable cloudfunctions.googleapis.com cloudbuild.googleapis.com "
    "run.googleapis.com artifactregistry.googleapis.com iam.googleapis.com "
    "secretmanager.googleapis.com --project=acme-prod",
    "# Custom role firebaseAuthSessionRevoker",
    "gcloud iam roles describe firebaseAuthSessionRevoker --project=acme-prod >/dev/null 2>&1 "
    "|| gcloud iam roles create firebaseAuthSessionRevoker --project=acme-prod "
    "'--title=Firebase Auth session revoker' "
    "'--description=Read user records and revoke refresh tokens (POST /me/revoke-sessions).' "
    "--permissions=firebaseauth.users.get,firebaseauth.users.update --stage=GA",
    "# Custom role firebaseAuthSessionIssuer",
    "gcloud iam roles describe firebaseAuthSessionIssuer --project=acme-prod >/dev/null 2>&1 "
    "|| gcloud iam roles create firebaseAuthSessionIssuer --project=acme-prod "
    "'--title=Firebase Auth session issuer' "
    "'--description=Read user records, create session cookies, revoke sessions (/session).' "
    "--permissions=firebaseauth.users.createSession,firebaseauth.users.get,"
    "firebaseauth.users.update --stage=GA",
    "# me: runtime service account and its roles",
    f"gcloud iam service-accounts describe backend-me{SA} --project={P} >/dev/null 2>&1 "
    f"|| gcloud iam service-accounts create backend-me --project={P} "
    "'--display-name=Cloud Function me'",
    f"gcloud projects add-iam-policy-binding {P} --member=serviceAccount:backend-me{SA} "
    f"--role=projects/{P}/roles/firebaseAuthSessionRevoker --condition=None",
    f"gcloud secrets add-iam-policy-binding clock-skew --project={P} "
    f"--member=serviceAccount:backend-me{SA} --role=roles/secretmanager.secretAccessor",
    "# projects: runtime service account and its roles",
    f"gcloud iam service-accounts describe backend-projects{SA} --project={P} >/dev/null 2>&1 "
    f"|| gcloud iam service-accounts create backend-projects --project={P} "
    "'--display-name=Cloud Function projects'",
    f"gcloud projects add-iam-policy-binding {P} --member=serviceAccount:backend-projects{SA} "
    "--role=roles/datastore.user --condition=None",
    f"gcloud projects add-iam-policy-binding {P} --member=serviceAccount:backend-projects{SA} "
    "--role=roles/firebaseauth.viewer --condition=None",
    f"gcloud secrets add-iam-policy-binding clock-skew --project={P} "
    f"--member=serviceAccount:backend-projects{SA} --role=roles/secretmanager.secretAccessor",
    "# admin: runtime service account and its roles",
    f"gcloud iam service-accounts describe backend-admin{SA} --project={P} >/dev/null 2>&1 "
    f"|| gcloud iam service-accounts create backend-admin --project={P} "
    "'--display-name=Cloud Function admin'",
    f"gcloud projects add-iam-policy-binding {P} --member=serviceAccount:backend-admin{SA} "
    "--role=roles/datastore.user --condition=None",
    f"gcloud projects add-iam-policy-binding {P} --member=serviceAccount:backend-admin{SA} "
    "--role=roles/firebaseauth.admin --condition=None",
    f"gcloud secrets add-iam-policy-binding cache-size --project={P} "
    f"--member=serviceAccount:backend-admin{SA} --role=roles/secretmanager.secretAccessor",
    f"gcloud secrets add-iam-policy-binding clock-skew --project={P} "
    f"--member=serviceAccount:backend-admin{SA} --role=roles/secretmanager.secretAccessor",
    "# session: runtime service account and its roles",
    f"gcloud iam service-accounts describe backend-session{SA} --project={P} >/dev/null 2>&1 "
    f"|| gcloud iam service-accounts create backend-session --project={P} "
    "'--display-name=Cloud Function session'",
    f"gcloud projects add-iam-policy-binding {P} --member=serviceAccount:backend-session{SA} "
    f"--role=projects/{P}/roles/firebaseAuthSessionIssuer --condition=None",
    f"gcloud secrets add-iam-policy-binding clock-skew --project={P} "
    f"--member=serviceAccount:backend-session{SA} --role=roles/secretmanager.secretAccessor",
    "# call: runtime service account and its roles",
    f"gcloud iam service-accounts describe backend-call{SA} --project={P} >/dev/null 2>&1 "
    f"|| gcloud iam service-accounts create backend-call --project={P} "
    "'--display-name=Cloud Function call'",
    *(
        f"gcloud projects add-iam-policy-binding {P} --member=serviceAccount:backend-call{SA} "
        f"--role={role} --condition=None"
        for role in (
            f"projects/{P}/roles/firebaseAuthSessionRevoker",
            f"projects/{P}/roles/firebaseAuthSessionIssuer",
            "roles/datastore.user",
            "roles/firebaseauth.viewer",
            "roles/firebaseauth.admin",
        )
    ),
    f"gcloud secrets add-iam-policy-binding clock-skew --project={P} "
    f"--member=serviceAccount:backend-call{SA} --role=roles/secretmanager.secretAccessor",
    "# identity: runtime service account and its roles",
    f"gcloud iam service-accounts describe backend-identity{SA} --project={P} >/dev/null 2>&1 "
    f"|| gcloud iam service-accounts create backend-identity --project={P} "
    "'--display-name=Cloud Function identity'",
    f"gcloud secrets add-iam-policy-binding clock-skew --project={P} "
    f"--member=serviceAccount:backend-identity{SA} --role=roles/secretmanager.secretAccessor",
    "# me: the function",
    "gcloud functions deploy me "
    + COMMON_DEPLOY.format(name="me")
    + " --memory=256Mi --cpu=0.5 --timeout=30s --min-instances=0 --max-instances=5"
    " --concurrency=1"
    f" '--set-env-vars=^;^{ENV_ALL};THREADS=1'"
    " --set-secrets=TOKEN_CLOCK_SKEW_SECONDS=clock-skew:latest " + TAIL,
    "# projects: the function",
    "gcloud functions deploy projects "
    + COMMON_DEPLOY.format(name="projects")
    + " --memory=1Gi --cpu=2 --timeout=120s --min-instances=1 --max-instances=50"
    " --concurrency=80"
    f" '--set-env-vars=^;^{ENV_ALL};REVOCATION_CHECK_MAX_AGE_SECONDS=30;THREADS=80'"
    " --set-secrets=TOKEN_CLOCK_SKEW_SECONDS=clock-skew:latest " + TAIL,
    "# admin: the function",
    "gcloud functions deploy admin "
    + COMMON_DEPLOY.format(name="admin")
    + " --memory=512Mi --cpu=1 --timeout=60s --min-instances=0 --max-instances=2"
    " --concurrency=4"
    f" '--set-env-vars=^;^{ENV_ALL};THREADS=4'"
    " --set-secrets=REVOCATION_CACHE_SIZE=cache-size:3,TOKEN_CLOCK_SKEW_SECONDS=clock-skew:latest "
    + TAIL,
    "# session: the function",
    "gcloud functions deploy session "
    + COMMON_DEPLOY.format(name="session")
    + " --memory=256Mi --cpu=1 --timeout=30s --min-instances=0 --max-instances=10"
    " --concurrency=40"
    f" '--set-env-vars=^;^{ENV_ALL};THREADS=40'"
    " --set-secrets=TOKEN_CLOCK_SKEW_SECONDS=clock-skew:latest " + TAIL,
    "# call: the function",
    "gcloud functions deploy call "
    + COMMON_DEPLOY.format(name="call")
    + " --memory=512Mi --cpu=1 --timeout=60s --min-instances=0 --max-instances=20"
    " --concurrency=40"
    f" '--set-env-vars=^;^{ENV_ALL};THREADS=40'"
    " --set-secrets=TOKEN_CLOCK_SKEW_SECONDS=clock-skew:latest " + TAIL,
    "# identity: the function",
    "gcloud functions deploy identity "
    + COMMON_DEPLOY.format(name="identity")
    + " --memory=256Mi --cpu=1 --timeout=15s --min-instances=0 --max-instances=10"
    " --concurrency=40"
    " '--set-env-vars=^;^CORS_ALLOWED_ORIGINS=https://app.acme.com,https://admin.acme.com;"
    "FIREBASE_PROJECT_ID=acme-prod;"
    "IDENTITY_FUNCTION_URLS=https://us-central1-acme-prod.cloudfunctions.net/identity;"
    "REQUIRE_VERIFIED_EMAIL=false;SIGNUP_ALLOWED_EMAIL_DOMAINS=acme.com;THREADS=40'"
    " --set-secrets=TOKEN_CLOCK_SKEW_SECONDS=clock-skew:latest " + TAIL,
    "# Firestore security rules and indexes",
    "npx firebase deploy --only firestore:rules,firestore:indexes --project acme-prod "
    "--non-interactive",
]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(SAMPLE_TOML)
    return path


def valid() -> dict[str, Any]:
    """A minimal valid config as parsed TOML, to break one thing at a time."""
    function = {
        "memory": "512Mi",
        "cpu": 1,
        "timeout_seconds": 60,
        "min_instances": 0,
        "max_instances": 3,
        "concurrency": 10,
    }
    return {
        "project": "acme-prod",
        "region": "europe-west1",
        "functions": {name: dict(function) for name in FUNCTIONS},
    }


# --- the dry run ------------------------------------------------------------------


def test_the_functions_are_the_entry_points_of_main() -> None:
    assert function_names() == FUNCTIONS
    assert deployable_names() == DEPLOYED


def test_the_blocking_function_is_an_entry_point_outside_the_route_table() -> None:
    """identity is deployed like the others, but is no API function (no gateway route)."""
    import handlers

    assert "identity" in handlers.ENTRY_POINTS
    assert "identity" in handlers.BLOCKING_ENTRY_POINTS
    assert "identity" not in function_names()


def test_dry_run_prints_the_exact_commands(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--config", str(sample), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == EXPECTED_DRY_RUN


def test_dry_run_of_one_function_deploys_only_its_account_and_role(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--config", str(sample), "--dry-run", "--only", "projects"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    assert [
        line
        for line in lines
        if "backend-me" in line or "backend-admin" in line or "backend-session" in line
    ] == []
    assert not any("firebaseAuthSessionRevoker" in line for line in lines)
    assert not any(line.startswith("npx firebase") for line in lines)
    assert sum(line.startswith("gcloud functions deploy projects ") for line in lines) == 1


def test_dry_run_of_firestore_only_runs_the_firebase_cli(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--config", str(sample), "--dry-run", "--only", "firestore"]) == 0
    out = capsys.readouterr().out
    commands = [line for line in out.splitlines() if not line.startswith("#")]
    assert commands == [EXPECTED_DRY_RUN[-1]]


def test_without_secrets_the_deploy_clears_old_ones(tmp_path: Path) -> None:
    config = parse(valid(), FUNCTIONS)
    deploy = plan.build(config, ["admin"])[-1]
    assert "--clear-secrets" in deploy.argv
    assert not any(arg.startswith("--set-secrets") for arg in deploy.argv)
    assert "--set-env-vars=FIREBASE_PROJECT_ID=acme-prod,THREADS=10" in deploy.argv


def test_the_shipped_config_is_valid_and_deploys_every_function(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = load(REPO_ROOT / "deploy" / "config.toml", deployable_names())
    assert tuple(config.functions) == DEPLOYED
    assert cli.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    for name in DEPLOYED:
        assert f"gcloud functions deploy {name} --gen2 --runtime=python312 " in out
    assert "EMULATOR" not in out


@pytest.mark.parametrize("only", ["bogus", "me,bogus", ",", ""], ids=repr)
def test_unknown_only_target_is_a_usage_error(
    only: str, sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--config", str(sample), "--dry-run", "--only", only])
    assert exit_info.value.code == 2
    expected = (
        "--only: expected a comma-separated subset of me, projects, admin, session, call, "
        "identity, firestore"
    )
    assert expected in capsys.readouterr().err


# --- running ----------------------------------------------------------------------


class FakeRunner:
    """Records commands; ``exists`` lists the resources that a ``describe`` finds."""

    def __init__(self, *, exists: Sequence[str] = (), fail_on: str | None = None) -> None:
        self.exists = exists
        self.fail_on = fail_on
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, argv: Sequence[str], quiet: bool) -> int:
        command = " ".join(argv)
        self.calls.append((command, quiet))
        if quiet:
            return 0 if any(name in command for name in self.exists) else 1
        return 7 if self.fail_on and self.fail_on in command else 0


def test_run_executes_the_dry_run_commands_and_skips_existing_resources(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = FakeRunner(exists=["backend-me@"])
    assert cli.main(["--config", str(sample), "--only", "me"], run=runner) == 0
    executed = [command for command, quiet in runner.calls if not quiet]
    checked = [command for command, quiet in runner.calls if quiet]
    assert checked == [
        f"gcloud iam roles describe firebaseAuthSessionRevoker --project={P}",
        f"gcloud iam service-accounts describe backend-me{SA} --project={P}",
    ]
    assert not any("service-accounts create" in command for command in executed)
    assert executed[1].startswith("gcloud iam roles create firebaseAuthSessionRevoker ")
    assert executed[-1].startswith("gcloud functions deploy me --gen2 ")
    err = capsys.readouterr().err
    assert f"exists, skipped: gcloud iam service-accounts create backend-me --project={P}" in err
    assert err.rstrip().endswith("deploy: done")


def test_run_stops_at_the_first_failing_command(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = FakeRunner(fail_on="add-iam-policy-binding")
    assert cli.main(["--config", str(sample)], run=runner) == 1
    executed = [command for command, quiet in runner.calls if not quiet]
    assert "add-iam-policy-binding" in executed[-1]
    assert not any("functions deploy" in command for command in executed)
    assert "error command_failed: exit status 7: gcloud projects add-iam-policy-binding" in (
        capsys.readouterr().err
    )


def test_an_invalid_config_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(SAMPLE_TOML.replace('memory = "1Gi"', 'memory = "1GB"'))
    runner = FakeRunner()
    assert cli.main(["--config", str(path)], run=runner) == 1
    assert runner.calls == []
    err = capsys.readouterr().err
    assert err.startswith(f"error config: {path}: 1 problem(s):")
    assert "functions.projects.memory: expected a size like 256Mi or 1Gi" in err


# --- validation -------------------------------------------------------------------


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    if value is _DELETE:
        del data[last]
    else:
        data[last] = value


_DELETE = object()

INVALID = [
    ("missing_function", "functions.admin", _DELETE, "functions.admin: missing"),
    (
        "unknown_function",
        "functions.billing",
        {},
        "functions.billing: no such function (expected one of: me, projects, admin, session, call)",
    ),
    ("unknown_top_key", "regoin", "x", "regoin: unknown key"),
    ("unknown_function_key", "functions.me.memroy", "1Gi", "functions.me.memroy: unknown key"),
    ("missing_key", "functions.me.cpu", _DELETE, "functions.me.cpu: missing (expected a number)"),
    ("memory_format", "functions.me.memory", "512MB", "functions.me.memory: expected a size"),
    ("memory_number", "functions.me.memory", 512, "functions.me.memory: expected a string"),
    ("memory_too_small", "functions.me.memory", "64Mi", "expected 128Mi to 32Gi, got 64Mi"),
    ("memory_above_cpu", "functions.me.memory", "8Gi", "cpu 1 allows memory 128Mi to 4Gi"),
    (
        "concurrency_needs_whole_cpu",
        "functions.me.cpu",
        0.5,
        "functions.me: concurrency > 1 requires cpu >= 1, got concurrency 10 with cpu 0.5",
    ),
    ("cpu_not_allowed", "functions.me.cpu", 3, "functions.me.cpu: expected a fraction below 1"),
    ("cpu_too_small", "functions.me.cpu", 0.01, "functions.me.cpu: expected at least 0.08"),
    ("cpu_boolean", "functions.me.cpu", True, "functions.me.cpu: expected a number"),
    ("timeout_too_long", "functions.me.timeout_seconds", 3601, "expected 1..3600, got 3601"),
    (
        "timeout_below_sdk_timeouts",
        "functions.me.timeout_seconds",
        10,
        "functions.me: expected timeout_seconds above AUTH_TIMEOUT_SECONDS (10), got 10",
    ),
    ("concurrency_zero", "functions.me.concurrency", 0, "expected 1..1000, got 0"),
    (
        "min_above_max",
        "functions.me.min_instances",
        5,
        "functions.me: expected min_instances <= max_instances, got 5 > 3",
    ),
    ("integer_as_string", "functions.me.max_instances", "3", "expected an integer"),
    ("demo_project", "project", "demo-backend", "is a demo- project"),
    ("bad_project", "project", "Acme_Prod", "project: expected a Google Cloud project id"),
    ("bad_region", "region", "Europe West", "region: expected a region like europe-west1"),
    (
        "auth_emulator_in_env",
        "env.FIREBASE_AUTH_EMULATOR_HOST",
        "127.0.0.1:9099",
        "env.FIREBASE_AUTH_EMULATOR_HOST: refusing to deploy FIREBASE_AUTH_EMULATOR_HOST",
    ),
    (
        "firestore_emulator_in_function_env",
        "functions.admin.env.FIRESTORE_EMULATOR_HOST",
        "127.0.0.1:8080",
        "refusing to deploy FIRESTORE_EMULATOR_HOST",
    ),
    (
        "emulator_as_secret",
        "secrets.FIREBASE_AUTH_EMULATOR_HOST",
        "host",
        "refusing to deploy FIREBASE_AUTH_EMULATOR_HOST",
    ),
    ("any_emulator_host", "env.PUBSUB_EMULATOR_HOST", "x:1", "refusing to deploy"),
    (
        "emulator_acknowledgement",
        "env.ALLOW_EMULATOR_WITH_REAL_PROJECT",
        "i-accept-unsigned-tokens",
        "refusing to deploy ALLOW_EMULATOR_WITH_REAL_PROJECT",
    ),
    ("project_in_env", "env.FIREBASE_PROJECT_ID", "x", "is set by the deploy"),
    ("threads_in_env", "env.THREADS", 8, "env.THREADS: THREADS is set by the deploy"),
    ("platform_var", "env.K_SERVICE", "me", "K_SERVICE is reserved by Cloud Functions"),
    ("unknown_setting", "env.CORS_ORIGINS", "x", "env.CORS_ORIGINS: unknown setting"),
    (
        "setting_the_backend_refuses",
        "env.TOKEN_CLOCK_SKEW_SECONDS",
        600,
        "the function would refuse to start: TOKEN_CLOCK_SKEW_SECONDS: expected 0..60, got 600",
    ),
    ("wildcard_cors", "env.CORS_ALLOWED_ORIGINS", "*", "CORS_ALLOWED_ORIGINS: expected exact"),
    (
        "pattern_cors",
        "env.CORS_ALLOWED_ORIGINS",
        ["https://app.acme.com", "https://*.acme.com"],
        "the function would refuse to start: CORS_ALLOWED_ORIGINS: expected exact origins",
    ),
    (
        "cors_with_path",
        "env.CORS_ALLOWED_ORIGINS",
        "https://app.acme.com/",
        "got 'https://app.acme.com/' (write it as 'https://app.acme.com')",
    ),
    ("env_table_value", "env.REQUIRE_VERIFIED_EMAIL", {"a": 1}, "expected a string, number"),
    ("bad_secret_ref", "secrets.CORS_ALLOWED_ORIGINS", "cors:v1", 'expected "secret-name"'),
    (
        "env_and_secret",
        "secrets.REQUIRE_VERIFIED_EMAIL",
        "flag",
        "REQUIRE_VERIFIED_EMAIL is set both as an env var and as a secret",
    ),
    ("short_account_id", "service_account_prefix", "", "the service account id 'me' is invalid"),
    (
        "app_check_without_project_number",
        "env.APP_CHECK",
        "enforce",
        "the function would refuse to start: FIREBASE_PROJECT_NUMBER: required",
    ),
    ("app_check_mode", "env.APP_CHECK", "strict", "APP_CHECK: expected off, monitor or enforce"),
    ("project_number_letters", "env.FIREBASE_PROJECT_NUMBER", "acme", "digits only"),
    (
        "app_check_key_set",
        "env.APP_CHECK_JWKS_URL",
        "https://keys.example/jwks",
        "refusing to deploy APP_CHECK_JWKS_URL: App Check would trust keys other than Google's",
    ),
]


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_configs_are_refused_with_the_reason(key: str, value: Any, problem: str) -> None:
    data = valid()
    if key == "secrets.REQUIRE_VERIFIED_EMAIL":
        data["env"] = {"REQUIRE_VERIFIED_EMAIL": True}
    _set(data, key, value if value is _DELETE else copy.deepcopy(value))
    with pytest.raises(DeployConfigError) as error:
        parse(data, FUNCTIONS)
    assert any(problem in line for line in error.value.problems), error.value.problems


def test_every_problem_is_reported_at_once() -> None:
    data = valid()
    data["functions"]["me"]["memory"] = "lots"
    data["functions"]["projects"]["concurrency"] = 0
    data["env"] = {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080"}
    with pytest.raises(DeployConfigError) as error:
        parse(data, FUNCTIONS)
    text = str(error.value)
    assert "functions.me.memory" in text
    assert "functions.projects.concurrency" in text
    assert "FIRESTORE_EMULATOR_HOST" in text


def test_fractional_cpu_limits_memory() -> None:
    data = valid()
    data["functions"]["me"].update(cpu=0.25, concurrency=1, memory="768Mi")
    with pytest.raises(DeployConfigError, match=r"memory above 512Mi requires cpu >= 0\.5"):
        parse(data, FUNCTIONS)
    data["functions"]["me"].update(cpu=0.5, memory="2Gi")
    with pytest.raises(DeployConfigError, match="memory above 1Gi requires cpu >= 1"):
        parse(data, FUNCTIONS)
    data["functions"]["me"].update(cpu=0.5, memory="1Gi")
    assert parse(data, FUNCTIONS).functions["me"].cpu == 0.5


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(DeployConfigError, match="cannot read it"):
        load(tmp_path / "absent.toml", FUNCTIONS)
    broken = tmp_path / "broken.toml"
    broken.write_text("project = \n")
    with pytest.raises(DeployConfigError, match="not valid TOML"):
        load(broken, FUNCTIONS)


def test_a_value_with_a_comma_uses_gcloud_list_escaping() -> None:
    assert plan._key_values({"A": "1", "B": "2"}) == "A=1,B=2"
    assert plan._key_values({"A": "x,y", "B": "2"}) == "^;^A=x,y;B=2"
    assert plan._key_values({"A": "x,y;z", "B": "2"}) == "^@^A=x,y;z@B=2"


# --- least privilege and what is uploaded -------------------------------------------


def test_every_function_has_its_own_roles_and_only_admin_administers_auth() -> None:
    assert set(FUNCTION_ROLES) == set(deployable_names())
    assert FUNCTION_ROLES["identity"] == (), "identity touches no Firestore and no Auth admin API"
    assert FUNCTION_ROLES["me"] == (SESSION_REVOKER,), "me touches no Firestore"
    assert SESSION_REVOKER.permissions == ("firebaseauth.users.get", "firebaseauth.users.update")
    holders = [
        name for name, roles in FUNCTION_ROLES.items() if "roles/firebaseauth.admin" in roles
    ]
    # call serves admin's operations too (as callables): the union of every function's roles.
    assert holders == ["admin", "call"]
    others = [role for name in FUNCTIONS if name != "call" for role in FUNCTION_ROLES[name]]
    assert set(FUNCTION_ROLES["call"]) == set(others)
    for roles in FUNCTION_ROLES.values():
        assert not any(
            role in {"roles/owner", "roles/editor", "roles/firebase.admin"} for role in roles
        )


@pytest.mark.parametrize(
    ("env", "ledger"),
    [
        ({"APP_CHECK": "enforce", "FIREBASE_PROJECT_NUMBER": 123456789012}, True),
        ({"APP_CHECK": "monitor", "FIREBASE_PROJECT_NUMBER": "123456789012"}, True),
        ({"APP_CHECK": "off", "FIREBASE_PROJECT_NUMBER": "123456789012"}, False),
        ({}, False),
    ],
    ids=["enforce", "monitor", "off", "unset"],
)
def test_app_check_gives_the_single_use_functions_the_ledger(
    env: dict[str, Any], ledger: bool
) -> None:
    """With App Check on, me and session spend tokens in Firestore (admin already may)."""
    data = valid()
    data["env"] = env
    steps = [step.render() for step in plan.build(parse(data, FUNCTIONS), FUNCTIONS)]
    for name in FUNCTIONS:
        bindings = [
            line
            for line in steps
            if "add-iam-policy-binding" in line and f"backend-{name}@" in line
        ]
        has_datastore = [line for line in bindings if "--role=roles/datastore.user" in line]
        expected = (
            1
            if name in {"projects", "admin", "call"} or (ledger and name in {"me", "session"})
            else 0
        )
        assert len(has_datastore) == expected, (name, bindings)
    deploys = [line for line in steps if line.startswith("gcloud functions deploy ")]
    for line in deploys:
        assert ("APP_CHECK=enforce" in line) == (env.get("APP_CHECK") == "enforce")


def test_a_function_without_roles_stops_the_deploy(
    monkeypatch: pytest.MonkeyPatch, sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(FUNCTION_ROLES, "admin")
    assert cli.main(["--config", str(sample), "--dry-run"]) == 1
    assert "no IAM roles are defined for admin" in capsys.readouterr().err


def test_every_environment_variable_of_core_settings_is_classified() -> None:
    """A new setting must be deployable (SETTINGS) or refused (FORBIDDEN, ...) on purpose."""
    source = (REPO_ROOT / "core" / "settings.py").read_text()
    names = {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", node.value)
    }
    classified = {*SETTINGS, *MANAGED, *FORBIDDEN, *PLATFORM}
    assert names - classified == set(), "classify them in tools/deploy/config.py"


def _local_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if (REPO_ROOT / n).is_dir() or (REPO_ROOT / f"{n}.py").is_file()}


def test_the_upload_holds_every_package_main_imports() -> None:
    """deploy/gcloudignore ignores everything at the top, then lets in the runtime's files."""
    rules = [
        line.strip()
        for line in (REPO_ROOT / plan.IGNORE_FILE).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "/*"
    # A top-level module (app.py) is uploaded by its file name; imported by its module name.
    uploaded = {rule.strip("!/").removesuffix(".py") for rule in rules if rule.startswith("!/")}
    needed: set[str] = set()
    todo = [REPO_ROOT / "main.py"]
    while todo:
        path = todo.pop()
        for name in _local_imports(path) - needed:
            needed.add(name)
            package = REPO_ROOT / name
            todo += (
                sorted(package.rglob("*.py")) if package.is_dir() else [REPO_ROOT / f"{name}.py"]
            )
    assert "tools" not in needed
    assert "tests" not in needed
    assert needed | {"main", "requirements.txt"} <= uploaded
    assert uploaded <= needed | {"main", "requirements.txt"}, "upload nothing else"


# --- the identity function (Identity Platform's blocking events) ------------------------


def _with_identity(env: dict[str, Any] | None = None) -> dict[str, Any]:
    data = valid()
    data["functions"]["identity"] = {**data["functions"]["me"], "env": env or {}}
    return data


def test_identity_is_told_the_url_it_is_registered_under() -> None:
    config = parse(_with_identity(), DEPLOYED)
    assert config.functions["identity"].env["IDENTITY_FUNCTION_URLS"] == (
        "https://europe-west1-acme-prod.cloudfunctions.net/identity"
    )
    assert "IDENTITY_FUNCTION_URLS" not in config.functions["me"].env


def test_identity_urls_given_in_the_config_are_kept() -> None:
    urls = [
        "https://europe-west1-acme-prod.cloudfunctions.net/identity",
        "https://identity-abc123-ew.a.run.app",
    ]
    config = parse(_with_identity({"IDENTITY_FUNCTION_URLS": urls}), DEPLOYED)
    assert config.functions["identity"].env["IDENTITY_FUNCTION_URLS"] == ",".join(urls)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IDENTITY_FUNCTION_URLS": "http://x.example/identity"}, "expected https URLs"),
        ({"SIGNUP_DEFAULT_CLAIMS": '{"roles": ["admin"]}'}, "never granted by default"),
        ({"SIGNUP_ALLOWED_EMAIL_DOMAINS": "*.acme.com"}, "plain domains"),
    ],
    ids=["plain_http_url", "admin_by_default", "wildcard_domain"],
)
def test_a_sign_up_policy_the_function_would_refuse_stops_the_deploy(
    env: dict[str, Any], message: str
) -> None:
    with pytest.raises(DeployConfigError, match=message):
        parse(_with_identity(env), DEPLOYED)


def test_identity_gets_an_account_with_no_role_and_a_public_invoker() -> None:
    """Identity Platform calls it without IAM credentials (firebase-tools makes auth
    blocking functions public too); the token it sends is what is checked."""
    steps = plan.build(parse(_with_identity(), DEPLOYED), ["identity"])
    rendered = [step.render() for step in steps]
    assert not any("add-iam-policy-binding" in line for line in rendered)
    assert any("service-accounts create backend-identity" in line for line in rendered)
    deploy = steps[-1].argv
    assert deploy[:4] == ("gcloud", "functions", "deploy", "identity")
    assert "--entry-point=identity" in deploy
    assert "--allow-unauthenticated" in deploy
