"""``deploy/config.toml``: one file that says where and how every function runs.

Loading checks everything that can be checked offline, and reports every
problem at once (``path: expected X, got Y``), so a bad config never reaches
``gcloud``: unknown keys, missing or extra functions, memory/CPU/concurrency
combinations Cloud Functions gen2 refuses, settings ``core.settings`` would
refuse at start-up, and settings that must never be deployed (the emulator hosts).

The file's schema is a set of pydantic models (strict: TOML types as written, no
unknown keys); ``_problems`` turns pydantic's errors into those lines. Rules that
combine a function with the file's globals (the project, the global env, what the
backend would refuse at start-up) run once the file's shape is valid.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

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

_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_MEMORY = re.compile(r"^([1-9][0-9]*)(Mi|Gi)$")
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
        return _memory_mib(self.memory)


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
    schema = _file_schema(tuple(function_names))
    try:
        file = schema.model_validate(data)
    except ValidationError as error:
        raise DeployConfigError(source, _problems(error, schema)) from None
    return file.deployment()


def identity_function_url(project: str, region: str) -> str:
    """The URL of the ``identity`` function (gen2 functions answer on it too): the one to
    register with Identity Platform, and the default ``IDENTITY_FUNCTION_URLS``."""
    return f"https://{region}-{project}.cloudfunctions.net/{IDENTITY_FUNCTION}"


# --- the file's schema ---------------------------------------------------------------


class _Problems(ValueError):
    """Every problem one validator found, each at a location below the validator's own
    (pydantic keeps the raised exception in the error's ``ctx``)."""

    def __init__(self, problems: Sequence[tuple[tuple[str, ...], str]]) -> None:
        super().__init__("; ".join(text for _, text in problems))
        self.problems = tuple(problems)


def _check(problems: Sequence[tuple[tuple[str, ...], str]]) -> None:
    if problems:
        raise _Problems(problems)


def _not_demo(project: str) -> str:
    if project.startswith("demo-"):
        raise ValueError(f"{project!r} is a demo- project, which exists only in the emulators")
    return project


def _memory_in_range(memory: str) -> str:
    if not MIN_MEMORY_MIB <= _memory_mib(memory) <= MAX_MEMORY_MIB:
        raise ValueError(
            f"expected {_size(MIN_MEMORY_MIB)} to {_size(MAX_MEMORY_MIB)}, got {memory}"
        )
    return memory


def _whole_cpus(cpu: float) -> float:
    if cpu >= 1 and not (cpu.is_integer() and int(cpu) in WHOLE_CPUS):
        raise ValueError(
            f"expected a fraction below 1 or one of {', '.join(map(str, WHOLE_CPUS))}, got {cpu}"
        )
    return cpu


def _settable(key: str) -> str:
    """An env var or secret name a deployment may set; otherwise why not."""
    if key == "APP_CHECK_JWKS_URL":
        raise ValueError(
            f"refusing to deploy {key}: App Check would trust keys other than Google's; "
            "it is for local tests only"
        )
    if key in FORBIDDEN or key.endswith("_EMULATOR_HOST"):
        raise ValueError(
            f"refusing to deploy {key}: it points firebase-admin at an emulator "
            "(which accepts unsigned tokens); it is for local runs only"
        )
    if key in MANAGED:
        raise ValueError(f"{key} is set by the deploy (from `project` or `concurrency`); remove it")
    if key in PLATFORM or key.startswith("X_GOOGLE_"):
        raise ValueError(f"{key} is reserved by Cloud Functions")
    if key not in SETTINGS:
        raise ValueError(
            f"unknown setting (expected one of: {', '.join(SETTINGS)}; see core/settings.py)"
        )
    return key


def _env_text(value: Any) -> str:
    """A TOML value as an environment variable's text (a list of strings: comma-joined)."""
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    raise ValueError(f"expected a string, number, boolean or list of strings, got {_kind(value)}")


def _secret_ref(value: Any) -> SecretRef:
    match = _SECRET_REF.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            'expected "secret-name" or "secret-name:version" (version: latest or a number), '
            f"got {value!r}"
        )
    return SecretRef(match["name"], match["version"] or "latest")


_ProjectId = Annotated[
    str,
    Field(
        pattern=_PROJECT_ID.pattern,
        description="a Google Cloud project id (6-30 characters of a-z, 0-9 and -)",
    ),
    AfterValidator(_not_demo),
]
_Region = Annotated[str, Field(pattern=_REGION.pattern, description="a region like europe-west1")]
_Memory = Annotated[
    str,
    Field(pattern=_MEMORY.pattern, description="a size like 256Mi or 1Gi (Mi or Gi)"),
    AfterValidator(_memory_in_range),
]
_Cpu = Annotated[
    float, Field(ge=MIN_FRACTIONAL_CPU, allow_inf_nan=False), AfterValidator(_whole_cpus)
]
_Setting = Annotated[str, AfterValidator(_settable)]
_Env = dict[_Setting, Annotated[str, PlainValidator(_env_text)]]
_Secrets = dict[_Setting, Annotated[SecretRef, PlainValidator(_secret_ref)]]


class _Table(BaseModel):
    """A TOML table: its known keys only, each of the TOML type it must be (no "3" for 3)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Function(_Table):
    memory: _Memory
    cpu: _Cpu
    timeout_seconds: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_SECONDS)]
    min_instances: Annotated[int, Field(ge=0, le=1000)]
    max_instances: Annotated[int, Field(ge=1, le=10_000)]
    concurrency: Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)]
    env: _Env = {}
    secrets: _Secrets = {}

    @model_validator(mode="after")
    def _gen2_accepts(self) -> Self:
        problems: list[str] = []
        if self.min_instances > self.max_instances:
            problems.append(
                f"expected min_instances <= max_instances, got {self.min_instances} > "
                f"{self.max_instances}"
            )
        problems += _cpu_problems(self.cpu, _memory_mib(self.memory), self.concurrency)
        _check([((), problem) for problem in problems])
        return self


class _File(_Table):
    project: _ProjectId
    region: _Region
    service_account_prefix: str = "backend-"
    env: _Env = {}
    secrets: _Secrets = {}
    #: A table per function, of the deployment's functions (``_file_schema``).
    functions: _Table

    def deployment(self) -> DeployConfig:
        """What the deploy runs: each function with the global env and secrets merged in."""
        specs = type(self.functions).model_fields
        return DeployConfig(
            project=self.project,
            region=self.region,
            service_account_prefix=self.service_account_prefix,
            functions={
                specs[key].alias or key: self._function(specs[key].alias or key, spec)
                for key, spec in self.functions
            },
        )

    def _function(self, name: str, spec: _Function) -> FunctionConfig:
        env = {**self.env, **spec.env}
        secrets = {**self.secrets, **spec.secrets}
        if name == IDENTITY_FUNCTION and "IDENTITY_FUNCTION_URLS" not in {*env, *secrets}:
            # The URL Identity Platform is told to call, hence the aud of its tokens.
            env["IDENTITY_FUNCTION_URLS"] = identity_function_url(self.project, self.region)
        return FunctionConfig(
            name=name,
            **spec.model_dump(exclude={"env", "secrets"}),
            env=dict(sorted(env.items())),
            secrets=dict(sorted(secrets.items())),
        )

    @model_validator(mode="after")
    def _deployable(self) -> Self:
        """Each function as deployed: its account id, its env and secrets with the global
        ones, and whether the backend would start with them."""
        problems: list[tuple[tuple[str, ...], str]] = []
        for name, function in self.deployment().functions.items():
            account_id = f"{self.service_account_prefix}{name}"
            if not _ACCOUNT_ID.match(account_id):
                problems.append(
                    (
                        ("service_account_prefix",),
                        f"the service account id {account_id!r} is invalid (expected 6-30 "
                        "characters of a-z, 0-9 and -, starting with a letter)",
                    )
                )
            own = [
                f"{both} is set both as an env var and as a secret"
                for both in sorted(function.env.keys() & function.secrets.keys())
            ]
            if not own:
                own = _start_up_problems(self.project, function)
            problems += [(("functions", name), text) for text in own]
        _check(problems)
        return self


@cache
def _file_schema(names: tuple[str, ...]) -> type[_File]:
    """The file's schema for these functions: a table for each of them, and no other.
    Keyed by alias, so that a function may have any name."""
    tables: dict[str, Any] = {
        f"f{i}": (_Function, Field(alias=name)) for i, name in enumerate(names)
    }
    functions = create_model("Functions", __base__=_Table, **tables)
    return create_model("File", __base__=_File, functions=(functions, ...))


def _cpu_problems(cpu: float, memory_mib: int, concurrency: int) -> list[str]:
    if cpu >= 1:
        low, high = MEMORY_RANGE_BY_CPU[int(cpu)]
        if low <= memory_mib <= high:
            return []
        return [
            f"cpu {int(cpu)} allows memory {_size(low)} to {_size(high)}, got {_size(memory_mib)}"
        ]
    problems = []
    if concurrency > 1:
        problems.append(
            f"concurrency > 1 requires cpu >= 1, got concurrency {concurrency} with cpu {cpu}"
        )
    if memory_mib > 1024:
        problems.append(f"memory above 1Gi requires cpu >= 1, got cpu {cpu}")
    elif memory_mib > 512 and cpu < 0.5:
        problems.append(f"memory above 512Mi requires cpu >= 0.5, got cpu {cpu}")
    return problems


def _start_up_problems(project: str, function: FunctionConfig) -> list[str]:
    """Run the env through the backend's own settings parser, as the instance will."""
    deployed_env = {
        **function.env,
        "FIREBASE_PROJECT_ID": project,
        "K_SERVICE": function.name,
        "FUNCTION_TARGET": function.name,
    }
    try:
        settings = Settings.from_env(deployed_env)
    except SettingsError as error:
        return [f"the function would refuse to start: {error}"]
    return [
        f"expected timeout_seconds above {variable} ({seconds:g}), got {function.timeout_seconds}"
        for variable, seconds in (
            ("AUTH_TIMEOUT_SECONDS", settings.auth_timeout_seconds),
            ("FIRESTORE_TIMEOUT_SECONDS", settings.firestore_timeout_seconds),
        )
        if variable not in function.secrets and seconds >= function.timeout_seconds
    ]


# --- pydantic's errors as `path: expected X, got Y` -----------------------------------

_EXPECTED_BY_ERROR = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "finite_number": "a number",
    "dict_type": "a table",
    "model_type": "a table",
}
_EXPECTED_BY_TYPE: dict[Any, str] = {str: "a string", int: "an integer", float: "a number"}


def _problems(error: ValidationError, schema: type[BaseModel]) -> list[str]:
    return [
        f"{'.'.join(loc)}: {text}" if loc else text
        for details in error.errors(include_url=False)
        for loc, text in _explain(details, schema)
    ]


def _explain(
    details: ErrorDetails, schema: type[BaseModel]
) -> Iterator[tuple[tuple[str, ...], str]]:
    # A dict key's errors are located at (..., key, "[key]").
    loc = tuple(str(part) for part in details["loc"] if part != "[key]")
    kind, value = details["type"], details["input"]
    reason = details.get("ctx", {}).get("error")
    if isinstance(reason, _Problems):
        for below, text in reason.problems:
            yield loc + below, text
        return
    siblings = _fields_at(schema, loc[:-1])
    spec = siblings.get(loc[-1]) if loc else None
    is_function = loc[:1] == ("functions",) and len(loc) == 2
    if kind == "value_error":
        text = str(reason)
    elif kind == "missing" and is_function:
        text = "missing (every function needs its settings)"
    elif kind == "missing" and spec is not None:
        text = f"missing (expected {spec.description or _expected(spec)})"
    elif kind == "extra_forbidden":
        known = ", ".join(siblings)
        unknown = "no such function" if is_function else "unknown key"
        text = f"{unknown} (expected one of: {known})"
    elif kind in {"greater_than_equal", "less_than_equal"} and spec is not None:
        text = f"expected {_bounds(spec)}, got {value}"
    elif kind == "string_pattern_mismatch" and spec is not None:
        text = f"expected {spec.description}, got {value!r}"
    elif kind in _EXPECTED_BY_ERROR:
        text = f"expected {_EXPECTED_BY_ERROR[kind]}, got {_kind(value)} {value!r}"
    else:
        text = f"{details['msg']}, got {value!r}"
    yield loc, text


def _fields_at(schema: type[BaseModel], loc: tuple[str, ...]) -> dict[str, FieldInfo]:
    """The fields (by key in the file) of the table at ``loc``; none if it is no table."""
    table: Any = schema
    for key in loc:
        if not (isinstance(table, type) and issubclass(table, BaseModel)):
            return {}
        spec = _fields_at(table, ()).get(key)
        table = spec.annotation if spec is not None else None
    if not (isinstance(table, type) and issubclass(table, BaseModel)):
        return {}
    return {spec.alias or name: spec for name, spec in table.model_fields.items()}


def _expected(spec: FieldInfo) -> str:
    if isinstance(spec.annotation, type) and issubclass(spec.annotation, BaseModel):
        return "a table"
    return _EXPECTED_BY_TYPE.get(spec.annotation, "a value")


def _bounds(spec: FieldInfo) -> str:
    bounds = {
        name: getattr(rule, name)
        for rule in spec.metadata
        for name in ("ge", "le")
        if hasattr(rule, name)
    }
    if "ge" in bounds and "le" in bounds:
        return f"{bounds['ge']}..{bounds['le']}"
    return f"at least {bounds['ge']}" if "ge" in bounds else f"at most {bounds['le']}"


def _memory_mib(memory: str) -> int:
    match = _MEMORY.match(memory)
    if match is None:
        raise ValueError(f"not a memory size: {memory!r}")
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
