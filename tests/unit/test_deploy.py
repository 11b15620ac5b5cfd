"""tools.deploy: the config is checked before anything runs, and --dry-run prints the
exact commands (compared here line by line) that a real run executes. The plan's IAM
diff against the project's current state is tested in test_deploy_converge.py."""

from __future__ import annotations

import ast
import copy
import re
import shlex
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
    DeployConfig,
    DeployConfigError,
    load,
    parse,
)
from tools.deploy.events import EVENT_FUNCTIONS
from tools.deploy.iam import (
    APP_CHECK_LEDGER_FUNCTIONS,
    FUNCTION_ROLES,
    NEEDS,
    SIGN_OUT_RECORDER,
    USER_READER,
    permissions_of,
    roles_for,
)
from tools.deploy.state import CurrentState

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The API's functions (handlers.FUNCTIONS, then the callable ones), Identity Platform's
#: blocking function and the event function, as the config has them.
HTTP_FUNCTIONS = ("me", "projects", "admin", "session", "call", "admincall")
FUNCTIONS = (*HTTP_FUNCTIONS, "identity", "signouts")
#: A project that has none of the backend's IAM yet, and a Firestore database in nam5.
NEW_PROJECT = CurrentState(firestore_location="nam5")


def new_project(config: DeployConfig) -> CurrentState:
    return NEW_PROJECT


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

[functions.admincall]
memory = "512Mi"
cpu = 1
timeout_seconds = 45
min_instances = 0
max_instances = 2
concurrency = 4

[functions.identity]
memory = "256Mi"
cpu = 1
timeout_seconds = 15
min_instances = 0
max_instances = 10
concurrency = 40

[functions.identity.env]
SIGNUP_ALLOWED_EMAIL_DOMAINS = ["acme.com"]

[functions.signouts]
memory = "256Mi"
cpu = 1
timeout_seconds = 60
min_instances = 0
max_instances = 5
concurrency = 10
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

ROLE = f"--role=projects/{P}/roles/"


def grant(account: str, role: str) -> str:
    return (
        f"gcloud projects add-iam-policy-binding {P} --member=serviceAccount:backend-{account}{SA} "
        f"--role={role} --condition=None"
    )


def grant_secret(secret: str, account: str) -> str:
    return (
        f"gcloud secrets add-iam-policy-binding {secret} --project={P} "
        f"--member=serviceAccount:backend-{account}{SA} "
        "--role=roles/secretmanager.secretAccessor --condition=None"
    )


def custom(role_id: str) -> str:
    return f"projects/{P}/roles/{role_id}"


EXPECTED_DRY_RUN = [
    "# Deploy to project acme-prod, region us-central1.",
    "# Run from the repository root, against the project as it is now: 38 IAM change(s).",
    "# APIs the functions need",
    "gcloud services enable cloudfunctions.googleapis.com cloudbuild.googleapis.com "
    "run.googleapis.com artifactregistry.googleapis.com iam.googleapis.com "
    "secretmanager.googleapis.com eventarc.googleapis.com --project=acme-prod",
    "# Custom roles: create",
    "gcloud iam roles create firebaseAuthUserReader --project=acme-prod "
    "'--title=Firebase Auth user reader' "
    "'--description=Read user records (revocation checks, member lookups); change nothing.' "
    "--permissions=firebaseauth.users.get --stage=GA",
    "gcloud iam roles create backendSignOutRecorder --project=acme-prod "
    "'--title=Backend sign-out recorder' "
    "'--description=Create and read Firestore documents: record sign-outs and spent App Check "
    "tokens; never change or delete a document.' "
    "--permissions=datastore.entities.create,datastore.entities.get,datastore.entities.list "
    "--stage=GA",
    "gcloud iam roles create firebaseAuthUserAdmin --project=acme-prod "
    "'--title=Firebase Auth user admin' "
    "'--description=Read and update user records: custom claims, revocation (/admin).' "
    "--permissions=firebaseauth.users.get,firebaseauth.users.update --stage=GA",
    "gcloud iam roles create firebaseAuthSessionIssuer --project=acme-prod "
    "'--title=Firebase Auth session issuer' "
    "'--description=Read user records and exchange ID tokens for session cookies (/session).' "
    "--permissions=firebaseauth.users.createSession,firebaseauth.users.get --stage=GA",
    "gcloud iam roles create backendSignOutApplier --project=acme-prod "
    "'--title=Backend sign-out applier' "
    "'--description=Revoke the refresh tokens of users whose sign-out was recorded, and mark "
    "the record applied (the signouts function, called by Eventarc only).' "
    "--permissions=datastore.entities.get,datastore.entities.update,firebaseauth.users.get,"
    "firebaseauth.users.update --stage=GA",
    "# Runtime service accounts: create",
    *(
        f"gcloud iam service-accounts create backend-{name} --project={P} "
        f"'--display-name=Cloud Function {name}'"
        for name in FUNCTIONS
    ),
    "# Roles the functions need: grant",
    grant("admin", custom("firebaseAuthUserAdmin")),
    grant("admin", "roles/datastore.user"),
    # admincall: admin's roles (it serves admin's operations, and no others).
    grant("admincall", custom("firebaseAuthUserAdmin")),
    grant("admincall", "roles/datastore.user"),
    # call: the union of me's, projects' and session's roles (it serves their
    # operations), none of admin's.
    grant("call", custom("backendSignOutRecorder")),
    grant("call", custom("firebaseAuthSessionIssuer")),
    grant("call", custom("firebaseAuthUserReader")),
    grant("call", "roles/datastore.user"),
    grant("me", custom("backendSignOutRecorder")),
    grant("me", custom("firebaseAuthUserReader")),
    grant("projects", custom("firebaseAuthUserReader")),
    grant("projects", "roles/datastore.user"),
    grant("session", custom("backendSignOutRecorder")),
    grant("session", custom("firebaseAuthSessionIssuer")),
    grant("signouts", custom("backendSignOutApplier")),
    grant("signouts", "roles/eventarc.eventReceiver"),
    grant_secret("cache-size", "admin"),
    grant_secret("clock-skew", "admin"),
    grant_secret("clock-skew", "admincall"),
    grant_secret("clock-skew", "call"),
    grant_secret("clock-skew", "identity"),
    grant_secret("clock-skew", "me"),
    grant_secret("clock-skew", "projects"),
    grant_secret("clock-skew", "session"),
    grant_secret("clock-skew", "signouts"),
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
    "# admincall: the function",
    "gcloud functions deploy admincall "
    + COMMON_DEPLOY.format(name="admincall")
    + " --memory=512Mi --cpu=1 --timeout=45s --min-instances=0 --max-instances=2"
    " --concurrency=4"
    f" '--set-env-vars=^;^{ENV_ALL};THREADS=4'"
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
    "# signouts: the function",
    "gcloud functions deploy signouts --gen2 --runtime=python312 --region=us-central1 "
    "--source=. --entry-point=signouts "
    "--trigger-event-filters=type=google.cloud.firestore.document.v1.created "
    "'--trigger-event-filters=database=(default)' "
    "'--trigger-event-filters-path-pattern=document=signOuts/{user}/signOutEvents/{second}' "
    f"--trigger-location=nam5 --trigger-service-account=backend-signouts{SA} --retry "
    f"--service-account=backend-signouts{SA}"
    " --memory=256Mi --cpu=1 --timeout=60s --min-instances=0 --max-instances=5"
    " --concurrency=10"
    f" '--set-env-vars=^;^{ENV_ALL};THREADS=10'"
    " --set-secrets=TOKEN_CLOCK_SKEW_SECONDS=clock-skew:latest " + TAIL,
    "gcloud functions add-invoker-policy-binding signouts --region=us-central1 "
    f"--member=serviceAccount:backend-signouts{SA} --project=acme-prod",
    "gcloud eventarc triggers create signouts-tenants --location=nam5 "
    "--destination-run-service=signouts --destination-run-region=us-central1 "
    "--event-filters=type=google.cloud.firestore.document.v1.created "
    "'--event-filters=database=(default)' "
    "'--event-filters-path-pattern=document=tenants/{tenant}/signOuts/{user}/signOutEvents/"
    "{second}' --event-data-content-type=application/protobuf "
    f"--service-account=backend-signouts{SA} --project=acme-prod",
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
    import handlers

    assert function_names() == HTTP_FUNCTIONS
    assert deployable_names() == FUNCTIONS
    assert tuple(EVENT_FUNCTIONS) == handlers.EVENT_ENTRY_POINTS == ("signouts",)


def test_the_blocking_function_is_an_entry_point_outside_the_route_table() -> None:
    """identity is deployed like the others, but is no API function (no gateway route)."""
    import handlers

    assert "identity" in handlers.ENTRY_POINTS
    assert "identity" in handlers.BLOCKING_ENTRY_POINTS
    assert "identity" not in function_names()


def test_the_event_function_is_an_entry_point_of_main_and_a_cloud_event() -> None:
    """Eventarc calls main.signouts with a CloudEvent: functions-framework, loading it as
    deployed (a fresh interpreter), serves it as one."""
    from tests.unit.test_cold_start import fresh_python

    probe = (
        "import sys, functions_framework\n"
        "from functions_framework import _function_registry\n"
        "for name in sys.argv[1:]:\n"
        "    app = functions_framework.create_app(target=name, source='main.py')\n"
        "    print(name, _function_registry.REGISTRY_MAP.get(name), sorted(app.view_functions))\n"
    )
    completed = fresh_python(probe, *EVENT_FUNCTIONS)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [
        f"{name} cloudevent ['cloudevent', 'static']" for name in EVENT_FUNCTIONS
    ]


def test_dry_run_prints_the_exact_commands(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--config", str(sample), "--dry-run"], read_state=new_project) == 0
    assert capsys.readouterr().out.splitlines() == EXPECTED_DRY_RUN


def test_dry_run_of_one_function_deploys_only_its_account_and_role(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(sample), "--dry-run", "--only", "projects"]
    assert cli.main(argv, read_state=new_project) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    assert [
        line
        for line in lines
        if any(f"backend-{name}" in line for name in FUNCTIONS if name != "projects")
    ] == []
    assert not any("backendSignOut" in line or "UserAdmin" in line for line in lines)
    assert not any(line.startswith("npx firebase") for line in lines)
    assert "eventarc" not in " ".join(lines)
    assert sum(line.startswith("gcloud functions deploy projects ") for line in lines) == 1


def test_dry_run_of_firestore_only_runs_the_firebase_cli(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(sample), "--dry-run", "--only", "firestore"]
    assert cli.main(argv, read_state=new_project) == 0
    out = capsys.readouterr().out
    commands = [line for line in out.splitlines() if not line.startswith("#")]
    assert commands == [EXPECTED_DRY_RUN[-1]]


def test_without_secrets_the_deploy_clears_old_ones(tmp_path: Path) -> None:
    config = parse(valid(), FUNCTIONS)
    deploy = next(
        step
        for step in plan.build(config, ["admin"], NEW_PROJECT)
        if step.argv[:3] == ("gcloud", "functions", "deploy")
    )
    assert "--clear-secrets" in deploy.argv
    assert not any(arg.startswith("--set-secrets") for arg in deploy.argv)
    assert "--set-env-vars=FIREBASE_PROJECT_ID=acme-prod,THREADS=10" in deploy.argv


def test_the_shipped_config_is_valid_and_deploys_every_function(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = load(REPO_ROOT / "deploy" / "config.toml", FUNCTIONS)
    assert tuple(config.functions) == FUNCTIONS
    assert cli.main(["--dry-run"], read_state=new_project) == 0
    out = capsys.readouterr().out
    for name in FUNCTIONS:
        assert f"gcloud functions deploy {name} --gen2 --runtime=python312 " in out
    assert "EMULATOR" not in out


def test_an_event_function_needs_a_firestore_database(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(sample), "--dry-run", "--only", "signouts"]
    assert cli.main(argv, read_state=lambda config: CurrentState()) == 1
    assert "the project has no (default) Firestore database" in capsys.readouterr().err
    me_only = ["--config", str(sample), "--dry-run", "--only", "me"]
    assert cli.main(me_only, read_state=lambda config: CurrentState()) == 0


@pytest.mark.parametrize("only", ["bogus", "me,bogus", ",", ""], ids=repr)
def test_unknown_only_target_is_a_usage_error(
    only: str, sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--config", str(sample), "--dry-run", "--only", only], read_state=new_project)
    assert exit_info.value.code == 2
    expected = (
        "--only: expected a comma-separated subset of me, projects, admin, session, call, "
        "admincall, identity, signouts, firestore"
    )
    assert expected in capsys.readouterr().err


# --- running ----------------------------------------------------------------------


class FakeRunner:
    """Records the commands it is asked to run; fails the one containing ``fail_on``."""

    def __init__(self, *, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.calls: list[str] = []

    def __call__(self, argv: Sequence[str]) -> int:
        command = shlex.join(argv)
        self.calls.append(command)
        return 7 if self.fail_on and self.fail_on in command else 0


def test_run_executes_exactly_the_dry_run_commands(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(sample), "--only", "me"]
    assert cli.main([*argv, "--dry-run"], read_state=new_project) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    runner = FakeRunner()
    assert cli.main(argv, run=runner, read_state=new_project) == 0
    assert runner.calls == printed
    assert runner.calls[-1].startswith("gcloud functions deploy me --gen2 ")
    err = capsys.readouterr().err
    assert err.startswith("deploy: 6 IAM change(s) against the current state")
    assert err.rstrip().endswith("deploy: done")


def test_run_stops_at_the_first_failing_command(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = FakeRunner(fail_on="add-iam-policy-binding")
    assert cli.main(["--config", str(sample)], run=runner, read_state=new_project) == 1
    assert "add-iam-policy-binding" in runner.calls[-1]
    assert not any("functions deploy" in command for command in runner.calls)
    assert "error command_failed: exit status 7: gcloud projects add-iam-policy-binding" in (
        capsys.readouterr().err
    )


def test_an_invalid_config_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(SAMPLE_TOML.replace('memory = "1Gi"', 'memory = "1GB"'))
    runner = FakeRunner()
    read: list[DeployConfig] = []

    def reader(config: DeployConfig) -> CurrentState:
        read.append(config)
        return NEW_PROJECT

    assert cli.main(["--config", str(path)], run=runner, read_state=reader) == 1
    assert runner.calls == []
    assert read == [], "an invalid config is refused before the project is read"
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
        "functions.billing: no such function (expected one of: me, projects, admin, session, "
        "call, admincall, identity, signouts)",
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


def test_every_function_has_its_roles_and_says_what_its_code_needs() -> None:
    assert set(FUNCTION_ROLES) == set(FUNCTIONS)
    assert set(NEEDS) == set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_roles_grant_what_the_code_needs(function: str) -> None:
    missing = NEEDS[function] - permissions_of(function)
    assert missing == set(), f"{function} cannot do its job without {sorted(missing)}"


#: Functions whose roles are all custom (or exact predefined ones): they hold nothing
#: their code does not use. projects and admin use roles/datastore.user, which adds
#: only read-only metadata permissions (indexes, statistics, namespaces).
EXACT = ("me", "session", "signouts", "identity")


@pytest.mark.parametrize("function", EXACT)
def test_the_exposed_functions_hold_exactly_what_they_need(function: str) -> None:
    assert permissions_of(function) == NEEDS[function]


#: (rule id, permission, the only functions that may hold it)
WHO_MAY: list[tuple[str, str, set[str]]] = [
    # Setting custom claims, passwords, emails, validSince, disabled: one permission,
    # held only by admin, admin's callable function and the event function; never by
    # what ordinary callers reach (me, projects, session, call).
    (
        "users_update_only_admin_admincall_and_signouts",
        "firebaseauth.users.update",
        {"admin", "admincall", "signouts"},
    ),
    (
        "session_cookies_only_session_and_call",
        "firebaseauth.users.createSession",
        {"session", "call"},
    ),
    ("nobody_deletes_users", "firebaseauth.users.delete", set()),
    ("nobody_creates_users", "firebaseauth.users.create", set()),
    ("nobody_sends_auth_emails", "firebaseauth.users.sendEmail", set()),
    ("nobody_changes_auth_config", "firebaseauth.configs.update", set()),
    ("nobody_reads_auth_secrets", "firebaseauth.configs.getSecret", set()),
    (
        "only_writers_change_documents",
        "datastore.entities.update",
        {"projects", "admin", "admincall", "signouts", "call"},
    ),
    (
        "only_writers_delete_documents",
        "datastore.entities.delete",
        {"projects", "admin", "admincall", "call"},
    ),
    ("nobody_manages_iam", "resourcemanager.projects.setIamPolicy", set()),
]


@pytest.mark.parametrize(
    ("permission", "holders"),
    [case[1:] for case in WHO_MAY],
    ids=[case[0] for case in WHO_MAY],
)
def test_who_may_do_what(permission: str, holders: set[str]) -> None:
    assert {f for f in FUNCTIONS if permission in permissions_of(f)} == holders


#: (callable function, the functions whose operations it serves: its roles and needs
#: are exactly the union of theirs).
CALLABLE_GROUPS = [("call", ("me", "session", "projects")), ("admincall", ("admin",))]


@pytest.mark.parametrize(
    ("function", "group"), CALLABLE_GROUPS, ids=[g[0] for g in CALLABLE_GROUPS]
)
def test_a_callable_function_holds_the_union_of_its_group_and_nothing_else(
    function: str, group: tuple[str, ...]
) -> None:
    import handlers

    assert sorted(handlers.CALLABLES[function]) == sorted(group)
    assert set(roles_for(function)) == {role for name in group for role in roles_for(name)}
    assert NEEDS[function] == frozenset().union(*(NEEDS[name] for name in group))


def test_only_the_admin_path_can_change_users() -> None:
    """Issue 11: whoever compromises a function every signed-in user reaches must not be
    able to mint admins. Every function is served by exactly one callable function, the
    one that serves admin serves nothing else, and only admin, it and signouts (called
    by Eventarc only) hold firebaseauth.users.update."""
    import handlers

    groups = [name for group in handlers.CALLABLES.values() for name in group]
    assert sorted(groups) == sorted(handlers.FUNCTION_MODULES)
    serving_admin = [name for name, group in handlers.CALLABLES.items() if "admin" in group]
    assert [handlers.CALLABLES[name] for name in serving_admin] == [("admin",)]
    updaters = {f for f in FUNCTIONS if "firebaseauth.users.update" in permissions_of(f)}
    assert updaters == {"admin", *serving_admin, "signouts"}
    assert "call" not in updaters


def test_no_function_holds_a_basic_or_firebase_wide_role() -> None:
    forbidden = {"roles/owner", "roles/editor", "roles/viewer", "roles/firebase.admin"}
    forbidden |= {"roles/firebaseauth.admin", "roles/firebaseauth.editor"}
    for name in FUNCTIONS:
        assert forbidden.isdisjoint(role for role in roles_for(name) if isinstance(role, str))


def test_me_and_session_read_users_and_record_sign_outs_only() -> None:
    assert roles_for("me") == (USER_READER, SIGN_OUT_RECORDER)
    assert "datastore.entities.update" not in SIGN_OUT_RECORDER.permissions


@pytest.mark.parametrize(
    "env",
    [{"APP_CHECK": "enforce", "FIREBASE_PROJECT_NUMBER": 123456789012}, {"APP_CHECK": "off"}, {}],
    ids=["app_check_on", "app_check_off", "unset"],
)
def test_the_app_check_ledger_needs_no_extra_role(env: dict[str, Any]) -> None:
    """Spending a single-use token creates a document: every function serving such a
    route may create documents, whatever APP_CHECK says, and gets no more for it."""
    from handlers.http import APP_CHECK_SINGLE_USE
    from tools._routes import route_specs

    owners = {spec.pattern: spec.function for spec in route_specs()}
    assert {owners[pattern] for _method, pattern in APP_CHECK_SINGLE_USE} == set(
        APP_CHECK_LEDGER_FUNCTIONS
    )
    for function in APP_CHECK_LEDGER_FUNCTIONS:
        assert "datastore.entities.create" in permissions_of(function)
    data = valid()
    data["env"] = env
    config = parse(data, FUNCTIONS)
    roles = {
        step.argv[4].removeprefix("--member=") + " " + step.argv[5]
        for step in plan.build(config, FUNCTIONS, NEW_PROJECT)
        if step.argv[1:3] == ("projects", "add-iam-policy-binding")
    }
    data["env"] = {}
    baseline = {
        step.argv[4].removeprefix("--member=") + " " + step.argv[5]
        for step in plan.build(parse(data, FUNCTIONS), FUNCTIONS, NEW_PROJECT)
        if step.argv[1:3] == ("projects", "add-iam-policy-binding")
    }
    assert roles == baseline


def test_a_function_without_roles_stops_the_deploy(
    monkeypatch: pytest.MonkeyPatch, sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(FUNCTION_ROLES, "admin")
    assert cli.main(["--config", str(sample), "--dry-run"], read_state=new_project) == 1
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


def test_identity_is_told_the_url_it_is_registered_under() -> None:
    config = parse(valid(), FUNCTIONS)
    assert config.functions["identity"].env["IDENTITY_FUNCTION_URLS"] == (
        "https://europe-west1-acme-prod.cloudfunctions.net/identity"
    )
    assert "IDENTITY_FUNCTION_URLS" not in config.functions["me"].env


def _with_identity(env: dict[str, Any]) -> dict[str, Any]:
    data = valid()
    data["functions"]["identity"]["env"] = env
    return data


def test_identity_urls_given_in_the_config_are_kept() -> None:
    urls = [
        "https://europe-west1-acme-prod.cloudfunctions.net/identity",
        "https://identity-abc123-ew.a.run.app",
    ]
    config = parse(_with_identity({"IDENTITY_FUNCTION_URLS": urls}), FUNCTIONS)
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
        parse(_with_identity(env), FUNCTIONS)


def test_identity_gets_an_account_with_no_role_and_a_public_invoker() -> None:
    """Identity Platform calls it without IAM credentials (firebase-tools makes auth
    blocking functions public too); the token it sends is what is checked."""
    steps = plan.build(parse(valid(), FUNCTIONS), ["identity"], NEW_PROJECT)
    rendered = [step.render() for step in steps]
    assert not any("add-iam-policy-binding" in line for line in rendered)
    assert any("service-accounts create backend-identity" in line for line in rendered)
    deploy = steps[-1].argv
    assert deploy[:4] == ("gcloud", "functions", "deploy", "identity")
    assert "--entry-point=identity" in deploy
    assert "--allow-unauthenticated" in deploy
