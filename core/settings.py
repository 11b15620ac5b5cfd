"""Configuration, read once from the environment at start-up (``Settings.from_env``,
called by each entry point: ``main.py``, the tools) and passed down from there.

Bad values fail at import time (the instance refuses to start) rather than on
the first request. Every knob is documented in README.md ("Settings").

Parsed by hand over ``os.environ`` rather than with pydantic-settings: that would load
pydantic at every cold start of ``me``, which ``tests/unit/test_cold_start.py`` forbids
(measured with ``python -X importtime``: importing ``pydantic_settings`` costs ~116 ms,
this module with its imports ~16 ms).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from core import fields
from core import origins as origins_module
from core.operations import OPERATION_IDS

#: Request bodies above this are refused with 413.
MAX_BODY_BYTES = 64 * 1024
#: firebase-admin accepts a clock skew of 0..60 seconds.
MAX_CLOCK_SKEW_SECONDS = 60
#: The value of ALLOW_EMULATOR_WITH_REAL_PROJECT that accepts emulators with a real project id.
EMULATOR_RISK_ACKNOWLEDGEMENT = "i-accept-unsigned-tokens"
#: Google's App Check public keys (a JWKS); another URL only with a ``demo-`` project.
APP_CHECK_JWKS_URL = "https://firebaseappcheck.googleapis.com/v1/jwks"

#: The entry point of main.py that answers Identity Platform's blocking events.
IDENTITY_FUNCTION = "identity"

#: ``off``: not checked; ``monitor``: checked and logged, never refused; ``enforce``: refused.
AppCheckMode = Literal["off", "monitor", "enforce"]
APP_CHECK_MODES: tuple[AppCheckMode, ...] = get_args(AppCheckMode)
_PROJECT_NUMBER = re.compile(r"[1-9][0-9]{0,19}")
#: The longest ``ADMIN_MAX_AUTH_AGE_SECONDS``: a year.
MAX_AUTH_AGE_SECONDS = 365 * 24 * 3600
#: Firebase's built-in ``firebase.sign_in_provider`` values (``custom``: custom tokens).
BUILT_IN_SIGN_IN_PROVIDERS = frozenset(
    {
        "anonymous",
        "apple.com",
        "custom",
        "facebook.com",
        "gc.apple.com",
        "github.com",
        "google.com",
        "microsoft.com",
        "password",
        "phone",
        "playgames.google.com",
        "twitter.com",
        "yahoo.com",
    }
)
#: Identity Platform's own OIDC and SAML providers: ``oidc.<name>``, ``saml.<name>``.
_CONFIGURED_PROVIDER = re.compile(r"(oidc|saml)\.[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class ConfigError(RuntimeError):
    """The environment is inconsistent or unsafe; the process must not serve."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the backend. Build with ``Settings.from_env``."""

    project_id: str
    #: Origins allowed to call the API from a browser, in the exact form browsers send
    #: (``core.origins``, e.g. ``https://app.example.com``).
    cors_allowed_origins: tuple[str, ...] = ()
    #: Seconds of clock skew tolerated on ``exp``/``iat``/``auth_time``.
    clock_skew_seconds: int = 5
    #: How stale a non-privileged revocation/disabled check may be; 0 checks every request.
    revocation_check_max_age_seconds: int = 60
    #: Upper bound on cached user records (revocation checks); bounds memory per instance.
    revocation_cache_size: int = 10_000
    #: Writes require a verified identity (a verified email, or a phone sign-in) unless
    #: this is false. Guest accounts are governed by ``allow_anonymous_writes`` alone.
    require_verified_email: bool = True
    #: Guest (anonymous) accounts may write; by default they only read what is shared.
    allow_anonymous_writes: bool = False
    #: Timeout of every Auth backend call (keys, user records, claims).
    auth_timeout_seconds: float = 10.0
    #: Timeout of every Firestore RPC.
    firestore_timeout_seconds: float = 10.0
    auth_emulator_host: str | None = None
    firestore_emulator_host: str | None = None
    #: Set by Cloud Functions / Cloud Run; its presence means "deployed".
    k_service: str | None = None
    #: Emulators with a non-``demo-`` project id, accepted only with the risk spelled out.
    allow_emulator_with_real_project: bool = False
    #: Log JSON lines for Cloud Logging (default when deployed) instead of plain text.
    log_json: bool = False
    #: Lifetime of browser session cookies (Firebase allows 5 minutes to 14 days).
    session_cookie_days: int = 5
    #: The ``Path`` of the session cookie: the narrowest prefix covering the API's routes.
    session_cookie_path: str = "/"
    #: Firebase App Check on every route (``X-Firebase-AppCheck``): off, monitor or enforce.
    app_check: AppCheckMode = "off"
    #: The Firebase project number: App Check tokens name it in ``iss`` and ``aud``.
    project_number: str | None = None
    #: Where App Check's public keys are published (Google's, except in local tests).
    app_check_jwks_url: str = APP_CHECK_JWKS_URL
    #: Abuse limits per instance (``core.rate_limits``): requests per minute per client
    #: IP, and per user for reads and for writes (writes tighter); 0 turns one off.
    rate_limit_ip_per_minute: int = 1200
    rate_limit_user_reads_per_minute: int = 600
    rate_limit_user_writes_per_minute: int = 120
    #: Client IPs and users tracked at once (bounded memory; the least recent go first).
    rate_limit_keys: int = 10_000
    #: Email domains that may sign up and sign in (lower case, exact); empty: any.
    signup_allowed_email_domains: tuple[str, ...] = ()
    #: Custom claims every new account starts with (checked by ``auth.signup_policy``).
    signup_default_claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: The URLs the ``identity`` function is registered under with Identity Platform:
    #: a blocking token's ``aud`` must be one of them.
    identity_function_urls: tuple[str, ...] = ()
    #: The entry point this instance serves (``FUNCTION_TARGET``, set by Cloud Functions).
    function_target: str | None = None
    #: Privileged endpoints (and ``step_up_operations``) need a sign-in with a second factor.
    admin_require_second_factor: bool = False
    #: Privileged endpoints (and ``step_up_operations``) need a sign-in at most this old.
    admin_max_auth_age_seconds: int | None = None
    #: Operation ids that get the step-up rules of privileged endpoints too.
    step_up_operations: frozenset[str] = frozenset()
    #: The ``firebase.sign_in_provider`` values accepted; ``None``: every provider.
    allowed_sign_in_providers: frozenset[str] | None = None
    #: Identity Platform tenants whose users are accepted (``firebase.tenant``); empty:
    #: none, only project-level users.
    tenants: frozenset[str] = frozenset()
    #: Whether users outside any tenant are accepted (always, when ``tenants`` is empty).
    allow_project_level_users: bool = True

    @property
    def deployed(self) -> bool:
        return self.k_service is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Parse and check the environment.

        Raises:
            ConfigError: a value is malformed, out of range, or unsafe.
        """
        env = os.environ if env is None else env
        project_id = (
            env.get("FIREBASE_PROJECT_ID")
            or env.get("GOOGLE_CLOUD_PROJECT")
            or env.get("GCLOUD_PROJECT")
            or ""
        ).strip()
        if not project_id:
            raise ConfigError(
                "expected the Firebase project id in FIREBASE_PROJECT_ID or "
                "GOOGLE_CLOUD_PROJECT, got neither"
            )
        tenants = _tenants(env)
        settings = cls(
            project_id=project_id,
            cors_allowed_origins=_origins(env.get("CORS_ALLOWED_ORIGINS", "")),
            clock_skew_seconds=_int(env, "TOKEN_CLOCK_SKEW_SECONDS", 5, 0, MAX_CLOCK_SKEW_SECONDS),
            revocation_check_max_age_seconds=_int(
                env, "REVOCATION_CHECK_MAX_AGE_SECONDS", 60, 0, 3600
            ),
            revocation_cache_size=_int(env, "REVOCATION_CACHE_SIZE", 10_000, 1, 1_000_000),
            require_verified_email=_bool(env, "REQUIRE_VERIFIED_EMAIL", True),
            allow_anonymous_writes=_bool(env, "ALLOW_ANONYMOUS_WRITES", False),
            auth_timeout_seconds=_int(env, "AUTH_TIMEOUT_SECONDS", 10, 1, 60),
            firestore_timeout_seconds=_int(env, "FIRESTORE_TIMEOUT_SECONDS", 10, 1, 60),
            auth_emulator_host=env.get("FIREBASE_AUTH_EMULATOR_HOST") or None,
            firestore_emulator_host=env.get("FIRESTORE_EMULATOR_HOST") or None,
            k_service=env.get("K_SERVICE") or None,
            allow_emulator_with_real_project=_risk_acknowledged(env),
            log_json=_log_format(env),
            session_cookie_days=_int(env, "SESSION_COOKIE_DAYS", 5, 1, 14),
            session_cookie_path=_cookie_path(env.get("SESSION_COOKIE_PATH", "/")),
            app_check=_app_check_mode(env),
            project_number=_project_number(env),
            app_check_jwks_url=_jwks_url(env),
            rate_limit_ip_per_minute=_int(env, "RATE_LIMIT_IP_PER_MINUTE", 1200, 0, 1_000_000),
            rate_limit_user_reads_per_minute=_int(
                env, "RATE_LIMIT_USER_READS_PER_MINUTE", 600, 0, 1_000_000
            ),
            rate_limit_user_writes_per_minute=_int(
                env, "RATE_LIMIT_USER_WRITES_PER_MINUTE", 120, 0, 1_000_000
            ),
            rate_limit_keys=_int(env, "RATE_LIMIT_KEYS", 10_000, 1, 1_000_000),
            signup_allowed_email_domains=_signup_domains(env),
            signup_default_claims=_signup_default_claims(env),
            identity_function_urls=_identity_function_urls(env),
            function_target=env.get("FUNCTION_TARGET") or None,
            admin_require_second_factor=_bool(env, "ADMIN_REQUIRE_SECOND_FACTOR", False),
            admin_max_auth_age_seconds=_optional_int(
                env, "ADMIN_MAX_AUTH_AGE_SECONDS", 1, MAX_AUTH_AGE_SECONDS
            ),
            step_up_operations=_step_up_operations(env),
            allowed_sign_in_providers=_sign_in_providers(env),
            tenants=tenants,
            allow_project_level_users=_allow_project_level_users(env, tenants),
        )
        settings.check_safety()
        return settings

    def check_safety(self) -> None:
        """Refuse configurations that would accept forged tokens or write real data
        to the wrong place.

        With ``FIREBASE_AUTH_EMULATOR_HOST`` set, firebase-admin accepts unsigned
        tokens; with ``FIRESTORE_EMULATOR_HOST`` set, data goes to an emulator. Neither
        may be set where Cloud Functions runs us, and locally they go only with a
        ``demo-`` project (which cannot reach real Firebase) unless
        ``ALLOW_EMULATOR_WITH_REAL_PROJECT`` names the risk.
        """
        emulators = [
            name
            for name, value in (
                ("FIREBASE_AUTH_EMULATOR_HOST", self.auth_emulator_host),
                ("FIRESTORE_EMULATOR_HOST", self.firestore_emulator_host),
            )
            if value
        ]
        if self.deployed and emulators:
            raise ConfigError(
                f"{' and '.join(emulators)} set while running on Cloud Functions "
                f"(K_SERVICE={self.k_service!r}): firebase-admin would accept unsigned "
                "tokens or data would go to an emulator. Refusing to serve."
            )
        if (
            emulators
            and not self.project_id.startswith("demo-")
            and not self.allow_emulator_with_real_project
        ):
            raise ConfigError(
                f"{' and '.join(emulators)} set with project {self.project_id!r}, which "
                "is not a demo- project: tokens would be accepted unsigned for a real "
                "project id. Use a demo- project, or set "
                f"ALLOW_EMULATOR_WITH_REAL_PROJECT={EMULATOR_RISK_ACKNOWLEDGEMENT}."
            )
        self._check_app_check()
        self._check_identity_function()

    def _check_identity_function(self) -> None:
        """The ``identity`` function verifies the ``aud`` of every blocking token, so it
        needs its URLs; plain ``http`` is accepted only locally with a ``demo-`` project
        (the Auth emulator calls a local URL)."""
        if self.function_target == IDENTITY_FUNCTION and not self.identity_function_urls:
            raise ConfigError(
                "IDENTITY_FUNCTION_URLS: required by the identity function (the URL it is "
                "registered under with Identity Platform, e.g. "
                f"https://REGION-{self.project_id}.cloudfunctions.net/identity), got nothing"
            )
        insecure = [url for url in self.identity_function_urls if url.startswith("http://")]
        if insecure and (self.deployed or not self.project_id.startswith("demo-")):
            raise ConfigError(
                f"IDENTITY_FUNCTION_URLS: expected https URLs, got {insecure[0]!r} (http is "
                "accepted only locally with a demo- project, for the Auth emulator)"
            )

    def _check_app_check(self) -> None:
        """App Check needs the project number, and trusts no keys but Google's outside
        a ``demo-`` project (another key set would let anyone mint valid tokens)."""
        if self.app_check != "off" and self.project_number is None:
            raise ConfigError(
                f"FIREBASE_PROJECT_NUMBER: required with APP_CHECK={self.app_check} (App Check "
                "tokens name the project by number; see the Firebase console's project "
                "settings), got nothing"
            )
        if self.app_check_jwks_url == APP_CHECK_JWKS_URL:
            return
        if self.deployed or not self.project_id.startswith("demo-"):
            raise ConfigError(
                f"APP_CHECK_JWKS_URL: another key set than {APP_CHECK_JWKS_URL} is accepted "
                f"only locally with a demo- project, got {self.app_check_jwks_url!r} with "
                f"project {self.project_id!r}"
                + (f" on Cloud Functions (K_SERVICE={self.k_service!r})" if self.deployed else "")
            )


def _names(raw: str) -> list[str]:
    return [name.strip() for name in raw.split(",") if name.strip()]


def _step_up_operations(env: Mapping[str, str]) -> frozenset[str]:
    """Operation ids (``core.operations``); a misspelt one would silently protect
    nothing, so it stops the instance."""
    names = _names(env.get("STEP_UP_OPERATIONS", ""))
    unknown = sorted(set(names) - OPERATION_IDS)
    if unknown:
        raise ConfigError(
            f"STEP_UP_OPERATIONS: expected operation ids among {sorted(OPERATION_IDS)}, "
            f"got unknown {unknown}"
        )
    return frozenset(names)


def _sign_in_providers(env: Mapping[str, str]) -> frozenset[str] | None:
    """Provider ids as tokens carry them; unset or empty means every provider."""
    names = _names(env.get("ALLOWED_SIGN_IN_PROVIDERS", ""))
    if not names:
        return None
    unknown = sorted(
        name
        for name in names
        if name not in BUILT_IN_SIGN_IN_PROVIDERS and not _CONFIGURED_PROVIDER.fullmatch(name)
    )
    if unknown:
        raise ConfigError(
            "ALLOWED_SIGN_IN_PROVIDERS: expected provider ids among "
            f"{sorted(BUILT_IN_SIGN_IN_PROVIDERS)} or oidc.<name>/saml.<name>, got {unknown}"
        )
    return frozenset(names)


def _tenants(env: Mapping[str, str]) -> frozenset[str]:
    """Tenant IDs (``core.fields.TENANT_ID``): each names a Firestore partition."""
    names = _names(env.get("TENANTS", ""))
    malformed = sorted(name for name in names if not fields.TENANT_ID.matches(name))
    if malformed:
        raise ConfigError(
            f"TENANTS: expected Identity Platform tenant IDs (letters, digits, '-'), "
            f"got {malformed}"
        )
    return frozenset(names)


def _allow_project_level_users(env: Mapping[str, str], tenants: frozenset[str]) -> bool:
    """Project-level users are accepted by default only where no tenant is listed; a
    deployment that lists tenants accepts them too only when asked to."""
    allowed = _bool(env, "ALLOW_PROJECT_LEVEL_USERS", not tenants)
    if not allowed and not tenants:
        raise ConfigError(
            "ALLOW_PROJECT_LEVEL_USERS=false with no TENANTS: nobody could sign in; "
            "list the tenants whose users are accepted"
        )
    return allowed


def _app_check_mode(env: Mapping[str, str]) -> AppCheckMode:
    raw = (env.get("APP_CHECK") or "").strip().lower() or "off"
    for mode in APP_CHECK_MODES:
        if raw == mode:
            return mode
    raise ConfigError(f"APP_CHECK: expected off, monitor or enforce, got {raw!r}")


def _project_number(env: Mapping[str, str]) -> str | None:
    raw = (env.get("FIREBASE_PROJECT_NUMBER") or "").strip()
    if not raw:
        return None
    if not _PROJECT_NUMBER.fullmatch(raw):
        raise ConfigError(
            f"FIREBASE_PROJECT_NUMBER: expected the project number (digits only, e.g. "
            f"123456789012), got {raw!r}"
        )
    return raw


def _jwks_url(env: Mapping[str, str]) -> str:
    raw = (env.get("APP_CHECK_JWKS_URL") or "").strip()
    if not raw:
        return APP_CHECK_JWKS_URL
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"APP_CHECK_JWKS_URL: expected an http(s) URL, got {raw!r}")
    return raw


def _signup_domains(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("SIGNUP_ALLOWED_EMAIL_DOMAINS", "")
    if not raw.strip():
        return ()
    # Imported here, not at the top: auth imports this module (and unset costs nothing).
    from auth import parse_signup_domains

    try:
        return parse_signup_domains(raw)
    except ValueError as error:
        raise ConfigError(f"SIGNUP_ALLOWED_EMAIL_DOMAINS: {error}") from None


def _signup_default_claims(env: Mapping[str, str]) -> Mapping[str, Any]:
    raw = env.get("SIGNUP_DEFAULT_CLAIMS", "")
    if not raw.strip():
        return MappingProxyType({})
    from auth import parse_signup_default_claims  # here: see _signup_domains

    try:
        claims = parse_signup_default_claims(raw)
    except ValueError as error:
        raise ConfigError(f"SIGNUP_DEFAULT_CLAIMS: {error}") from None
    return MappingProxyType(claims)


def _identity_function_urls(env: Mapping[str, str]) -> tuple[str, ...]:
    """Comma-separated exact URLs (compared with ``aud`` as they are: no normalising)."""
    urls = tuple(url.strip() for url in env.get("IDENTITY_FUNCTION_URLS", "").split(","))
    urls = tuple(url for url in urls if url)
    for url in urls:
        parts = urlsplit(url)
        if (
            parts.scheme not in {"http", "https"}
            or not parts.hostname
            or parts.query
            or parts.fragment
            or url != parts.geturl()
            or any(c.isspace() for c in url)
        ):
            raise ConfigError(
                "IDENTITY_FUNCTION_URLS: expected the identity function's URLs like "
                f"https://europe-west1-my-project.cloudfunctions.net/identity, got {url!r}"
            )
    return urls


def _cookie_path(raw: str) -> str:
    path = raw.strip() or "/"
    if not path.startswith("/") or any(c in path for c in ";, \t\r\n"):
        raise ConfigError(f"SESSION_COOKIE_PATH: expected a path like /api, got {raw!r}")
    return path


def _log_format(env: Mapping[str, str]) -> bool:
    raw = (env.get("LOG_FORMAT") or "").strip().lower()
    if raw == "":
        return bool(env.get("K_SERVICE"))
    if raw not in {"json", "text"}:
        raise ConfigError(f"LOG_FORMAT: expected json or text, got {raw!r}")
    return raw == "json"


def _risk_acknowledged(env: Mapping[str, str]) -> bool:
    raw = env.get("ALLOW_EMULATOR_WITH_REAL_PROJECT")
    if raw is None or raw == "":
        return False
    if raw != EMULATOR_RISK_ACKNOWLEDGEMENT:
        raise ConfigError(
            f"ALLOW_EMULATOR_WITH_REAL_PROJECT: expected exactly "
            f"{EMULATOR_RISK_ACKNOWLEDGEMENT!r}, got {raw!r}"
        )
    return True


def _origins(raw: str) -> tuple[str, ...]:
    """Comma-separated exact origins (``core.origins``): flask-cors would read a value
    with regex characters as a pattern anchored at the start only, and a path or a
    trailing slash never matches what browsers send."""
    origins = tuple(o.strip() for o in raw.split(",") if o.strip())
    for origin in origins:
        if origins_module.parse(origin) is None:
            hint = origins_module.suggestion(origin)
            raise ConfigError(
                "CORS_ALLOWED_ORIGINS: expected exact origins like https://app.example.com "
                "(http or https, a lower-case host, an optional non-default port; no path, "
                f"trailing slash, wildcard or pattern), got {origin!r}"
                + (f" (write it as {hint!r})" if hint else "")
            )
    return origins


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: expected {low}..{high}, got {value}")
    return value


def _optional_int(env: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    return _int(env, name, low, low, high)


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")
