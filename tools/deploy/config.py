"""``deploy/config.toml``: one file that says where and how every function runs.

Loading checks everything that can be checked offline, and reports every
problem at once (``path: expected X, got Y``), so a bad config never reaches
``gcloud``: unknown keys, missing or extra functions, memory/CPU/concurrency
combinations Cloud Functions gen2 refuses, settings ``core.settings`` would
refuse at start-up, and settings that must never be deployed (the emulator hosts).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.settings import IDENTITY_FUNCTION, Settings
from core.settings import ConfigError as SettingsError

#: Settings (``core/settings.py``) a deployment may set, as env vars or secrets.
SETTINGS = (
    "CORS_ALLOWED_ORIGINS",
    "TOKEN_CLOCK_SKEW_SECONDS",
    "REVOCATION_CHECK_MAX_AGE_SECONDS",
    "REVOCATION_CACHE_SIZE",
    "REQUIRE_VERIFIED_EMAIL",
    "ALLOW_ANONYMOUS_WRITES",
    "AUTH_TIMEOUT_SECONDS",
    "FIRESTORE_TIMEOUT_SECONDS",
    "LOG_FORMAT",
    "SESSION_COOKIE_DAYS",
    "SESSION_COOKIE_PATH",
    "APP_CHECK",
    "FIREBASE_PROJECT_NUMBER",
    "RATE_LIMIT_IP_PER_MINUTE",
    "RATE_LIMIT_USER_READS_PER_MINUTE",
    "RATE_LIMIT_USER_WRITES_PER_MINUTE",
    "RATE_LIMIT_KEYS",
    "SIGNUP_ALLOWED_EMAIL_DOMAINS",
    "SIGNUP_DEFAULT_CLAIMS",
    "IDENTITY_FUNCTION_URLS",
    "ADMIN_REQUIRE_SECOND_FACTOR",
    "ADMIN_MAX_AUTH_AGE_SECONDS",
    "STEP_UP_OPERATIONS",
    "ALLOWED_SIGN_IN_PROVIDERS",
    "TENANTS",
    "ALLOW_PROJECT_LEVEL_USERS",
)
#: Set by the deploy itself: the project from ``project``; functions-framework's
#: gunicorn ``THREADS`` from ``concurrency`` (so that every request Cloud Run lets in
#: gets a thread instead of queueing behind blocked I/O).
MANAGED = ("FIREBASE_PROJECT_ID", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "THREADS")
#: Never deployed: with them firebase-admin accepts unsigned tokens, data goes to an
#: emulator, or App Check trusts keys other than Google's. Any other
#: ``*_EMULATOR_HOST`` is refused too.
FORBIDDEN = (
    "FIREBASE_AUTH_EMULATOR_HOST",
    "FIRESTORE_EMULATOR_HOST",
    "ALLOW_EMULATOR_WITH_REAL_PROJECT",
    "APP_CHECK_JWKS_URL",
)
#: Set by Cloud Functions / Cloud Run themselves; a function may not override them.
PLATFORM = (
    "K_SERVICE",
    "K_REVISION",
    "K_CONFIGURATION",
    "PORT",
    "FUNCTION_TARGET",
    "FUNCTION_SIGNATURE_TYPE",
)

#: Cloud Functions gen2 (Cloud Run) limits.
MIN_MEMORY_MIB = 128
MAX_MEMORY_MIB = 32 * 1024
MAX_TIMEOUT_SECONDS = 3600
MAX_CONCURRENCY = 1000
MIN_FRACTIONAL_CPU = 0.08
WHOLE_CPUS = (1, 2, 4, 6, 8)
#: Memory a whole number of CPUs allows, in MiB: (minimum, maximum).
MEMORY_RANGE_BY_CPU = {
    1: (128, 4 * 1024),
    2: (128, 8 * 1024),
    4: (2 * 1024, 16 * 1024),
    6: (4 * 1024, 24 * 1024),
    8: (4 * 1024, 32 * 1024),
}

_TOP_KEYS = ("project", "region", "service_account_prefix", "env", "secrets", "functions")
_FUNCTION_KEYS = (
    "memory",
    "cpu",
    "timeout_seconds",
    "min_instances",
    "max_instances",
    "concurrency",
    "env",
    "secrets",
)
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_MEMORY = re.compile(r"^([1-9][0-9]*)(Mi|Gi)$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SECRET_REF = re.compile(r"^(?P<name>[A-Za-z0-9_-]{1,255})(?::(?P<version>latest|[1-9][0-9]*))?$")
_ACCOUNT_ID = re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$")


class DeployConfigError(ValueError):
    """The config file is unreadable or invalid; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class SecretRef:
    """A Secret Manager secret of the same project, and the version to mount."""

    name: str
    version: str = "latest"

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class FunctionConfig:
    """How one function runs. ``env`` and ``secrets`` already include the global ones."""

    name: str
    memory: str
    cpu: float
    timeout_seconds: int
    min_instances: int
    max_instances: int
    concurrency: int
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)

    @property
    def memory_mib(self) -> int:
        return _memory_mib(self.memory) or 0


@dataclass(frozen=True)
class DeployConfig:
    project: str
    region: str
    service_account_prefix: str
    #: In the order of ``tools._routes.deployable_names()``.
    functions: Mapping[str, FunctionConfig]

    def service_account(self, function: str) -> str:
        """The email of the runtime service account of ``function``."""
        return f"{self.service_account_id(function)}@{self.project}.iam.gserviceaccount.com"

    def service_account_id(self, function: str) -> str:
        return f"{self.service_account_prefix}{function}"


def load(path: Path, function_names: Iterable[str]) -> DeployConfig:
    """Read and check a config file.

    Args:
        path: the TOML file.
        function_names: the functions that exist (``tools._routes.deployable_names``);
            the file must configure each of them and nothing else.

    Raises:
        DeployConfigError: the file cannot be read or parsed, or is invalid.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DeployConfigError(str(path), [f"cannot read it: {error.strerror}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise DeployConfigError(str(path), [f"not valid TOML: {error}"]) from None
    return parse(data, function_names, source=str(path))


def parse(
    data: Mapping[str, Any], function_names: Iterable[str], *, source: str = "config"
) -> DeployConfig:
    """Check parsed TOML (see ``load``). Raises: DeployConfigError."""
    problems: list[str] = []
    _unknown_keys(data, _TOP_KEYS, "", problems)

    project = _string(data, "project", "", problems)
    if project is not None:
        if not _PROJECT_ID.match(project):
            problems.append(
                f"project: expected a Google Cloud project id (6-30 characters of a-z, 0-9 "
                f"and -), got {project!r}"
            )
        elif project.startswith("demo-"):
            problems.append(
                f"project: {project!r} is a demo- project, which exists only in the emulators"
            )
    region = _string(data, "region", "", problems)
    if region is not None and not _REGION.match(region):
        problems.append(f"region: expected a region like europe-west1, got {region!r}")
    prefix = data.get("service_account_prefix", "backend-")
    if not isinstance(prefix, str):
        problems.append(f"service_account_prefix: expected a string, got {_kind(prefix)}")
        prefix = "backend-"

    common_env = _env_table(data.get("env", {}), "env", problems)
    common_secrets = _secret_table(data.get("secrets", {}), "secrets", problems)

    names = tuple(function_names)
    raw_functions = data.get("functions")
    if not isinstance(raw_functions, Mapping):
        problems.append(f"functions: expected a table per function, got {_kind(raw_functions)}")
        raw_functions = {}
    for name in raw_functions:
        if name not in names:
            problems.append(
                f"functions.{name}: no such function (expected one of: {', '.join(names)})"
            )
    functions: dict[str, FunctionConfig] = {}
    for name in names:
        if name not in raw_functions:
            problems.append(f"functions.{name}: missing (every function needs its settings)")
            continue
        account_id = f"{prefix}{name}"
        if not _ACCOUNT_ID.match(account_id):
            problems.append(
                f"service_account_prefix: the service account id {account_id!r} is invalid "
                "(expected 6-30 characters of a-z, 0-9 and -, starting with a letter)"
            )
        function = _function(
            name,
            raw_functions[name],
            common_env,
            common_secrets,
            project or "",
            region or "",
            problems,
        )
        if function is not None:
            functions[name] = function

    if problems:
        raise DeployConfigError(source, problems)
    assert project is not None
    assert region is not None
    return DeployConfig(
        project=project, region=region, service_account_prefix=prefix, functions=functions
    )


def _function(
    name: str,
    raw: Any,
    common_env: Mapping[str, str],
    common_secrets: Mapping[str, SecretRef],
    project: str,
    region: str,
    problems: list[str],
) -> FunctionConfig | None:
    where = f"functions.{name}"
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a table, got {_kind(raw)}")
        return None
    before = len(problems)
    _unknown_keys(raw, _FUNCTION_KEYS, where + ".", problems)

    memory = _string(raw, "memory", where + ".", problems)
    memory_mib = _memory_mib(memory) if memory is not None else None
    if memory is not None and memory_mib is None:
        problems.append(
            f"{where}.memory: expected a size like 256Mi or 1Gi (Mi or Gi), got {memory!r}"
        )
    elif memory_mib is not None and not MIN_MEMORY_MIB <= memory_mib <= MAX_MEMORY_MIB:
        problems.append(
            f"{where}.memory: expected {_size(MIN_MEMORY_MIB)} to {_size(MAX_MEMORY_MIB)}, "
            f"got {memory}"
        )
        memory_mib = None
    cpu = _number(raw, "cpu", where + ".", problems)
    timeout = _integer(raw, "timeout_seconds", where + ".", problems, 1, MAX_TIMEOUT_SECONDS)
    min_instances = _integer(raw, "min_instances", where + ".", problems, 0, 1000)
    max_instances = _integer(raw, "max_instances", where + ".", problems, 1, 10_000)
    concurrency = _integer(raw, "concurrency", where + ".", problems, 1, MAX_CONCURRENCY)

    if min_instances is not None and max_instances is not None and min_instances > max_instances:
        problems.append(
            f"{where}: expected min_instances <= max_instances, got {min_instances} > "
            f"{max_instances}"
        )
    if cpu is not None:
        _check_cpu(where, cpu, memory_mib, concurrency, problems)

    env = {**common_env, **_env_table(raw.get("env", {}), where + ".env", problems)}
    secrets = {
        **common_secrets,
        **_secret_table(raw.get("secrets", {}), where + ".secrets", problems),
    }
    for both in sorted(env.keys() & secrets.keys()):
        problems.append(f"{where}: {both} is set both as an env var and as a secret")
    if name == IDENTITY_FUNCTION and "IDENTITY_FUNCTION_URLS" not in {*env, *secrets}:
        # The URL Identity Platform is told to call, hence the aud of its tokens.
        env["IDENTITY_FUNCTION_URLS"] = identity_function_url(project, region)

    if project and len(problems) == before:
        _check_settings(where, name, project, env, secrets, timeout, problems)
    if len(problems) > before:
        return None
    assert memory is not None
    assert cpu is not None
    assert timeout is not None
    assert min_instances is not None
    assert max_instances is not None
    assert concurrency is not None
    return FunctionConfig(
        name=name,
        memory=memory,
        cpu=cpu,
        timeout_seconds=timeout,
        min_instances=min_instances,
        max_instances=max_instances,
        concurrency=concurrency,
        env=dict(sorted(env.items())),
        secrets=dict(sorted(secrets.items())),
    )


def identity_function_url(project: str, region: str) -> str:
    """The URL of the ``identity`` function (gen2 functions answer on it too): the one to
    register with Identity Platform, and the default ``IDENTITY_FUNCTION_URLS``."""
    return f"https://{region}-{project}.cloudfunctions.net/{IDENTITY_FUNCTION}"


def _check_cpu(
    where: str, cpu: float, memory_mib: int | None, concurrency: int | None, problems: list[str]
) -> None:
    if cpu < 1:
        if cpu < MIN_FRACTIONAL_CPU:
            problems.append(f"{where}.cpu: expected at least {MIN_FRACTIONAL_CPU}, got {cpu}")
            return
        if concurrency is not None and concurrency > 1:
            problems.append(
                f"{where}: concurrency > 1 requires cpu >= 1, got concurrency {concurrency} "
                f"with cpu {cpu}"
            )
        if memory_mib is not None and memory_mib > 1024:
            problems.append(f"{where}: memory above 1Gi requires cpu >= 1, got cpu {cpu}")
        elif memory_mib is not None and memory_mib > 512 and cpu < 0.5:
            problems.append(f"{where}: memory above 512Mi requires cpu >= 0.5, got cpu {cpu}")
        return
    if not (cpu.is_integer() and int(cpu) in WHOLE_CPUS):
        problems.append(
            f"{where}.cpu: expected a fraction below 1 or one of "
            f"{', '.join(map(str, WHOLE_CPUS))}, got {cpu}"
        )
        return
    low, high = MEMORY_RANGE_BY_CPU[int(cpu)]
    if memory_mib is not None and not low <= memory_mib <= high:
        problems.append(
            f"{where}: cpu {int(cpu)} allows memory {_size(low)} to {_size(high)}, "
            f"got {_size(memory_mib)}"
        )


def _check_settings(
    where: str,
    name: str,
    project: str,
    env: Mapping[str, str],
    secrets: Mapping[str, SecretRef],
    timeout: int | None,
    problems: list[str],
) -> None:
    """Run the env through the backend's own settings parser, as the instance will."""
    deployed_env = {
        **env,
        "FIREBASE_PROJECT_ID": project,
        "K_SERVICE": name,
        "FUNCTION_TARGET": name,
    }
    try:
        settings = Settings.from_env(deployed_env)
    except SettingsError as error:
        problems.append(f"{where}: the function would refuse to start: {error}")
        return
    if timeout is None:
        return
    for variable, seconds in (
        ("AUTH_TIMEOUT_SECONDS", settings.auth_timeout_seconds),
        ("FIRESTORE_TIMEOUT_SECONDS", settings.firestore_timeout_seconds),
    ):
        if variable not in secrets and seconds >= timeout:
            problems.append(
                f"{where}: expected timeout_seconds above {variable} ({seconds:g}), got {timeout}"
            )


def _env_table(raw: Any, where: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a table of settings, got {_kind(raw)}")
        return {}
    env: dict[str, str] = {}
    for key, value in raw.items():
        if not _settable(key, f"{where}.{key}", problems):
            continue
        text = _env_value(value)
        if text is None:
            problems.append(
                f"{where}.{key}: expected a string, number, boolean or list of strings, "
                f"got {_kind(value)}"
            )
            continue
        env[key] = text
    return env


def _secret_table(raw: Any, where: str, problems: list[str]) -> dict[str, SecretRef]:
    if not isinstance(raw, Mapping):
        problems.append(f'{where}: expected a table of SETTING = "secret[:version]"')
        return {}
    secrets: dict[str, SecretRef] = {}
    for key, value in raw.items():
        if not _settable(key, f"{where}.{key}", problems):
            continue
        match = _SECRET_REF.match(value) if isinstance(value, str) else None
        if match is None:
            problems.append(
                f'{where}.{key}: expected "secret-name" or "secret-name:version" '
                f"(version: latest or a number), got {value!r}"
            )
            continue
        secrets[key] = SecretRef(match["name"], match["version"] or "latest")
    return secrets


def _settable(key: str, where: str, problems: list[str]) -> bool:
    if key == "APP_CHECK_JWKS_URL":
        problems.append(
            f"{where}: refusing to deploy {key}: App Check would trust keys other than "
            "Google's; it is for local tests only"
        )
    elif key in FORBIDDEN or key.endswith("_EMULATOR_HOST"):
        problems.append(
            f"{where}: refusing to deploy {key}: it points firebase-admin at an emulator "
            "(which accepts unsigned tokens); it is for local runs only"
        )
    elif key in MANAGED:
        problems.append(
            f"{where}: {key} is set by the deploy (from `project` or `concurrency`); remove it"
        )
    elif key in PLATFORM or key.startswith("X_GOOGLE_"):
        problems.append(f"{where}: {key} is reserved by Cloud Functions")
    elif not _ENV_NAME.match(key) or key not in SETTINGS:
        problems.append(
            f"{where}: unknown setting (expected one of: {', '.join(SETTINGS)}; "
            "see core/settings.py)"
        )
    else:
        return True
    return False


def _env_value(value: Any) -> str | None:
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    return None


def _unknown_keys(
    table: Mapping[str, Any], known: tuple[str, ...], where: str, problems: list[str]
) -> None:
    for key in table:
        if key not in known:
            problems.append(f"{where}{key}: unknown key (expected one of: {', '.join(known)})")


def _string(table: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = _typed(table, key, where, problems, "a string", lambda v: isinstance(v, str))
    return None if value is None else str(value)


def _number(table: Mapping[str, Any], key: str, where: str, problems: list[str]) -> float | None:
    value = _typed(
        table,
        key,
        where,
        problems,
        "a number",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    )
    return None if value is None else float(value)


def _integer(
    table: Mapping[str, Any], key: str, where: str, problems: list[str], low: int, high: int
) -> int | None:
    value = _typed(
        table,
        key,
        where,
        problems,
        "an integer",
        lambda v: isinstance(v, int) and not isinstance(v, bool),
    )
    if value is not None and not low <= value <= high:
        problems.append(f"{where}{key}: expected {low}..{high}, got {value}")
        return None
    return value  # type: ignore[no-any-return]


def _typed(
    table: Mapping[str, Any],
    key: str,
    where: str,
    problems: list[str],
    expected: str,
    check: Callable[[Any], bool],
) -> Any:
    if key not in table:
        problems.append(f"{where}{key}: missing (expected {expected})")
        return None
    value = table[key]
    if not check(value):
        problems.append(f"{where}{key}: expected {expected}, got {_kind(value)} {value!r}")
        return None
    return value


def _memory_mib(memory: str) -> int | None:
    match = _MEMORY.match(memory)
    if match is None:
        return None
    amount, unit = int(match[1]), match[2]
    return amount * 1024 if unit == "Gi" else amount


def _size(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "an array",
        dict: "a table",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)
