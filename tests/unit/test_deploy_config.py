"""tools.deploy.config: each malformed config -> exactly the problems it reports
(``path: expected X, got Y``), every one at once, whatever level it sits at."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tools.deploy.config import DeployConfigError, SecretRef, parse

NAMES = ("me", "projects")
FUNCTION_KEYS = (
    "memory, cpu, timeout_seconds, min_instances, max_instances, concurrency, env, secrets"
)
TOP_KEYS = "project, region, service_account_prefix, env, secrets, functions"
REFUSED_EMULATOR = (
    "refusing to deploy {0}: it points firebase-admin at an emulator (which accepts "
    "unsigned tokens); it is for local runs only"
)
SECRET_FORMAT = (
    'expected "secret-name" or "secret-name:version" (version: latest or a number), got {0}'
)


def base() -> dict[str, Any]:
    return {
        "project": "acme-prod",
        "region": "europe-west1",
        "functions": {
            "me": {
                "memory": "256Mi",
                "cpu": 1,
                "timeout_seconds": 30,
                "min_instances": 0,
                "max_instances": 3,
                "concurrency": 10,
            },
            "projects": {
                "memory": "1Gi",
                "cpu": 2,
                "timeout_seconds": 60,
                "min_instances": 1,
                "max_instances": 50,
                "concurrency": 80,
            },
        },
    }


_DELETE = object()


def changed(changes: dict[str, Any]) -> dict[str, Any]:
    data = base()
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        table = data
        for key in parents:
            table = table.setdefault(key, {})
        if value is _DELETE:
            del table[last]
        else:
            table[last] = copy.deepcopy(value)
    return data


INVALID: list[tuple[str, dict[str, Any], list[str]]] = [
    # --- unknown keys, at each level
    (
        "unknown_top_key",
        {"regoin": "x"},
        [f"regoin: unknown key (expected one of: {TOP_KEYS})"],
    ),
    (
        "unknown_function",
        {"functions.billing": {}},
        ["functions.billing: no such function (expected one of: me, projects)"],
    ),
    (
        "unknown_function_key",
        {"functions.me.memroy": "1Gi"},
        [f"functions.me.memroy: unknown key (expected one of: {FUNCTION_KEYS})"],
    ),
    (
        "unknown_setting_in_global_env",
        {"env.CORS_ORIGINS": "x"},
        ["env.CORS_ORIGINS: unknown setting (expected one of: "],
    ),
    (
        "unknown_setting_in_function_secrets",
        {"functions.me.secrets.LOG_LEVEL": "level"},
        ["functions.me.secrets.LOG_LEVEL: unknown setting (expected one of: "],
    ),
    # --- missing keys
    (
        "missing_function",
        {"functions.projects": _DELETE},
        ["functions.projects: missing (every function needs its settings)"],
    ),
    (
        "missing_functions",
        {"functions": _DELETE},
        ["functions: missing (expected a table)"],
    ),
    (
        "missing_cpu",
        {"functions.me.cpu": _DELETE},
        ["functions.me.cpu: missing (expected a number)"],
    ),
    (
        "missing_region",
        {"region": _DELETE},
        ["region: missing (expected a region like europe-west1)"],
    ),
    # --- TOML types, as written (strict: no "3" for 3, no true for 1)
    (
        "project_number",
        {"project": 5},
        ["project: expected a string, got an integer 5"],
    ),
    (
        "function_not_a_table",
        {"functions.me": "small"},
        ["functions.me: expected a table, got a string 'small'"],
    ),
    (
        "env_not_a_table",
        {"env": ["A=1"]},
        ["env: expected a table, got an array ['A=1']"],
    ),
    (
        "integer_as_string",
        {"functions.me.max_instances": "3"},
        ["functions.me.max_instances: expected an integer, got a string '3'"],
    ),
    (
        "integer_as_float",
        {"functions.me.timeout_seconds": 30.0},
        ["functions.me.timeout_seconds: expected an integer, got a number 30.0"],
    ),
    (
        "cpu_boolean",
        {"functions.me.cpu": True},
        ["functions.me.cpu: expected a number, got a boolean True"],
    ),
    (
        "cpu_infinite",
        {"functions.me.cpu": float("inf")},
        ["functions.me.cpu: expected a number, got a number inf"],
    ),
    (
        "env_value_table",
        {"env.REQUIRE_VERIFIED_EMAIL": {"a": 1}},
        [
            "env.REQUIRE_VERIFIED_EMAIL: expected a string, number, boolean or list of "
            "strings, got a table"
        ],
    ),
    (
        "env_value_list_of_numbers",
        {"functions.me.env.CORS_ALLOWED_ORIGINS": [1, 2]},
        [
            "functions.me.env.CORS_ALLOWED_ORIGINS: expected a string, number, boolean or "
            "list of strings, got an array"
        ],
    ),
    # --- formats and bounds
    (
        "bad_project",
        {"project": "Acme_Prod"},
        [
            "project: expected a Google Cloud project id (6-30 characters of a-z, 0-9 and -), "
            "got 'Acme_Prod'"
        ],
    ),
    (
        "demo_project",
        {"project": "demo-backend"},
        ["project: 'demo-backend' is a demo- project, which exists only in the emulators"],
    ),
    (
        "bad_region",
        {"region": "Europe West"},
        ["region: expected a region like europe-west1, got 'Europe West'"],
    ),
    (
        "memory_unit",
        {"functions.me.memory": "512MB"},
        ["functions.me.memory: expected a size like 256Mi or 1Gi (Mi or Gi), got '512MB'"],
    ),
    (
        "memory_too_large",
        {"functions.me.memory": "64Gi"},
        ["functions.me.memory: expected 128Mi to 32Gi, got 64Gi"],
    ),
    (
        "timeout_too_long",
        {"functions.me.timeout_seconds": 3601},
        ["functions.me.timeout_seconds: expected 1..3600, got 3601"],
    ),
    (
        "negative_min_instances",
        {"functions.me.min_instances": -1},
        ["functions.me.min_instances: expected 0..1000, got -1"],
    ),
    (
        "cpu_too_small",
        {"functions.me.cpu": 0.01},
        ["functions.me.cpu: expected at least 0.08, got 0.01"],
    ),
    (
        "cpu_not_offered",
        {"functions.me.cpu": 3},
        ["functions.me.cpu: expected a fraction below 1 or one of 1, 2, 4, 6, 8, got 3.0"],
    ),
    # --- names a deployment may not set
    (
        "emulator_in_global_env",
        {"env.FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"},
        [
            "env.FIREBASE_AUTH_EMULATOR_HOST: "
            + REFUSED_EMULATOR.format("FIREBASE_AUTH_EMULATOR_HOST")
        ],
    ),
    (
        "any_emulator_as_function_secret",
        {"functions.projects.secrets.PUBSUB_EMULATOR_HOST": "host"},
        [
            "functions.projects.secrets.PUBSUB_EMULATOR_HOST: "
            + REFUSED_EMULATOR.format("PUBSUB_EMULATOR_HOST")
        ],
    ),
    (
        "app_check_key_set",
        {"env.APP_CHECK_JWKS_URL": "https://keys.example/jwks"},
        [
            "env.APP_CHECK_JWKS_URL: refusing to deploy APP_CHECK_JWKS_URL: App Check would "
            "trust keys other than Google's; it is for local tests only"
        ],
    ),
    (
        "managed_threads",
        {"functions.me.env.THREADS": 8},
        [
            "functions.me.env.THREADS: THREADS is set by the deploy (from `project` or "
            "`concurrency`); remove it"
        ],
    ),
    (
        "platform_variable",
        {"env.K_SERVICE": "me"},
        ["env.K_SERVICE: K_SERVICE is reserved by Cloud Functions"],
    ),
    (
        "platform_prefix",
        {"secrets.X_GOOGLE_THING": "thing"},
        ["secrets.X_GOOGLE_THING: X_GOOGLE_THING is reserved by Cloud Functions"],
    ),
    # --- secret references
    (
        "secret_version_word",
        {"secrets.LOG_FORMAT": "log-format:v1"},
        ["secrets.LOG_FORMAT: " + SECRET_FORMAT.format("'log-format:v1'")],
    ),
    (
        "secret_number",
        {"functions.me.secrets.LOG_FORMAT": 5},
        ["functions.me.secrets.LOG_FORMAT: " + SECRET_FORMAT.format("5")],
    ),
    # --- combinations Cloud Functions gen2 refuses: all of one function's at once
    (
        "min_above_max_and_fractional_cpu_combinations",
        {
            "functions.me.min_instances": 5,
            "functions.me.cpu": 0.25,
            "functions.me.memory": "2Gi",
        },
        [
            "functions.me: expected min_instances <= max_instances, got 5 > 3",
            "functions.me: concurrency > 1 requires cpu >= 1, got concurrency 10 with cpu 0.25",
            "functions.me: memory above 1Gi requires cpu >= 1, got cpu 0.25",
        ],
    ),
    (
        "fractional_cpu_above_512Mi",
        {"functions.me.cpu": 0.25, "functions.me.concurrency": 1, "functions.me.memory": "768Mi"},
        ["functions.me: memory above 512Mi requires cpu >= 0.5, got cpu 0.25"],
    ),
    (
        "memory_outside_the_cpu_range",
        {"functions.projects.cpu": 4},
        ["functions.projects: cpu 4 allows memory 2Gi to 16Gi, got 1Gi"],
    ),
    # --- rules over the file's globals and a function, as deployed
    (
        "env_and_secret",
        {"env.LOG_FORMAT": "json", "functions.me.secrets.LOG_FORMAT": "log-format"},
        ["functions.me: LOG_FORMAT is set both as an env var and as a secret"],
    ),
    (
        "account_id_too_long",
        {"service_account_prefix": "backend-for-the-acme-company-"},
        [
            "service_account_prefix: the service account id 'backend-for-the-acme-company-me' "
            "is invalid (expected 6-30 characters of a-z, 0-9 and -, starting with a letter)",
            "service_account_prefix: the service account id "
            "'backend-for-the-acme-company-projects' is invalid (expected 6-30 characters of "
            "a-z, 0-9 and -, starting with a letter)",
        ],
    ),
    (
        "setting_the_backend_refuses_in_every_function",
        {"env.TOKEN_CLOCK_SKEW_SECONDS": 600},
        [
            f"functions.{name}: the function would refuse to start: "
            "TOKEN_CLOCK_SKEW_SECONDS: expected 0..60, got 600"
            for name in NAMES
        ],
    ),
    (
        "timeout_below_the_sdk_timeouts",
        {"functions.me.env.FIRESTORE_TIMEOUT_SECONDS": 45},
        ["functions.me: expected timeout_seconds above FIRESTORE_TIMEOUT_SECONDS (45), got 30"],
    ),
    # --- several problems at once, at every level
    (
        "several_at_once",
        {
            "project": 5,
            "regoin": "x",
            "env.FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080",
            "functions.me.memory": "lots",
            "functions.me.bogus": 1,
            "functions.projects.concurrency": 0,
            "functions.billing": {},
        },
        [
            "project: expected a string, got an integer 5",
            "env.FIRESTORE_EMULATOR_HOST: " + REFUSED_EMULATOR.format("FIRESTORE_EMULATOR_HOST"),
            "functions.me.memory: expected a size like 256Mi or 1Gi (Mi or Gi), got 'lots'",
            f"functions.me.bogus: unknown key (expected one of: {FUNCTION_KEYS})",
            "functions.projects.concurrency: expected 1..1000, got 0",
            "functions.billing: no such function (expected one of: me, projects)",
            f"regoin: unknown key (expected one of: {TOP_KEYS})",
        ],
    ),
]


@pytest.mark.parametrize(
    ("changes", "expected"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_an_invalid_config_reports_exactly_its_problems(
    changes: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(DeployConfigError) as error:
        parse(changed(changes), NAMES, source="deploy/config.toml")
    problems = error.value.problems
    # A line ending in ": " stands for a message with a long tail (the list of settings).
    assert len(problems) == len(expected), problems
    for problem, wanted in zip(problems, expected, strict=True):
        assert problem.startswith(wanted) if wanted.endswith(": ") else problem == wanted
    assert str(error.value).startswith(f"deploy/config.toml: {len(expected)} problem(s):\n")


def test_a_valid_config_merges_the_global_env_and_secrets_into_each_function() -> None:
    config = parse(
        changed(
            {
                "env.CORS_ALLOWED_ORIGINS": ["https://a.example", "https://b.example"],
                "env.REQUIRE_VERIFIED_EMAIL": False,
                "secrets.LOG_FORMAT": "log-format",
                "functions.me.env.REVOCATION_CACHE_SIZE": 500,
                "functions.me.env.REQUIRE_VERIFIED_EMAIL": True,
                "functions.projects.secrets.LOG_FORMAT": "log-format:3",
                "functions.projects.cpu": 0.5,
                "functions.projects.concurrency": 1,
            }
        ),
        NAMES,
    )
    me, projects = config.functions["me"], config.functions["projects"]
    assert tuple(config.functions) == NAMES
    assert (config.project, config.region, config.service_account_prefix) == (
        "acme-prod",
        "europe-west1",
        "backend-",
    )
    assert me.env == {
        "CORS_ALLOWED_ORIGINS": "https://a.example,https://b.example",
        "REQUIRE_VERIFIED_EMAIL": "true",
        "REVOCATION_CACHE_SIZE": "500",
    }
    assert me.secrets == {"LOG_FORMAT": SecretRef("log-format", "latest")}
    assert projects.env["REQUIRE_VERIFIED_EMAIL"] == "false"
    assert projects.secrets == {"LOG_FORMAT": SecretRef("log-format", "3")}
    assert str(projects.secrets["LOG_FORMAT"]) == "log-format:3"
    assert (projects.cpu, projects.memory, projects.memory_mib) == (0.5, "1Gi", 1024)
    assert isinstance(me.cpu, float)
    assert config.service_account("me") == "backend-me@acme-prod.iam.gserviceaccount.com"


def test_only_identity_gets_a_default_identity_function_url() -> None:
    config = parse(changed({"functions.identity": base()["functions"]["me"]}), (*NAMES, "identity"))
    assert config.functions["identity"].env == {
        "IDENTITY_FUNCTION_URLS": "https://europe-west1-acme-prod.cloudfunctions.net/identity"
    }
    assert "IDENTITY_FUNCTION_URLS" not in config.functions["me"].env
