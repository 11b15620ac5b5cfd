"""Settings: read once, bad values fail at start, unsafe combinations refused."""

from __future__ import annotations

import pytest

from core.settings import APP_CHECK_JWKS_URL, ConfigError, Settings

BASE = {"GOOGLE_CLOUD_PROJECT": "demo-x"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings == Settings(project_id="demo-x")
    assert settings.clock_skew_seconds == 5
    assert settings.revocation_check_max_age_seconds == 60
    assert settings.require_verified_email is True
    assert settings.allow_anonymous_writes is False
    assert settings.cors_allowed_origins == ()


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ({"FIREBASE_PROJECT_ID": "p1", "GOOGLE_CLOUD_PROJECT": "p2"}, "project_id", "p1"),
        ({"TOKEN_CLOCK_SKEW_SECONDS": "0"}, "clock_skew_seconds", 0),
        ({"TOKEN_CLOCK_SKEW_SECONDS": "60"}, "clock_skew_seconds", 60),
        ({"REVOCATION_CHECK_MAX_AGE_SECONDS": "0"}, "revocation_check_max_age_seconds", 0),
        ({"REQUIRE_VERIFIED_EMAIL": "false"}, "require_verified_email", False),
        ({"REQUIRE_VERIFIED_EMAIL": "ON"}, "require_verified_email", True),
        ({"ALLOW_ANONYMOUS_WRITES": "true"}, "allow_anonymous_writes", True),
        (
            {"CORS_ALLOWED_ORIGINS": " https://a.example, http://localhost:5173 ,"},
            "cors_allowed_origins",
            ("https://a.example", "http://localhost:5173"),
        ),
    ],
    ids=[
        "firebase_project_id_wins",
        "skew_zero",
        "skew_max",
        "revocation_every_request",
        "verified_email_off",
        "bool_case_insensitive",
        "anonymous_writes_on",
        "origins_trimmed",
    ],
)
def test_values(env: dict[str, str], field: str, expected: object) -> None:
    assert getattr(Settings.from_env({**BASE, **env}), field) == expected


def test_gcloud_project_is_the_last_fallback() -> None:
    assert Settings.from_env({"GCLOUD_PROJECT": "p3"}).project_id == "p3"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "project id"),
        ({**BASE, "TOKEN_CLOCK_SKEW_SECONDS": "61"}, "0..60"),
        ({**BASE, "TOKEN_CLOCK_SKEW_SECONDS": "-1"}, "0..60"),
        ({**BASE, "TOKEN_CLOCK_SKEW_SECONDS": "five"}, "integer"),
        ({**BASE, "REQUIRE_VERIFIED_EMAIL": "maybe"}, "true or false"),
        ({**BASE, "ALLOW_ANONYMOUS_WRITES": "guests"}, "true or false"),
        ({**BASE, "CORS_ALLOWED_ORIGINS": "*"}, "exact origins"),
        ({**BASE, "CORS_ALLOWED_ORIGINS": "example.com"}, "exact origins"),
        ({**BASE, "REVOCATION_CHECK_MAX_AGE_SECONDS": "99999"}, "0..3600"),
    ],
    ids=[
        "no_project",
        "skew_too_big",
        "skew_negative",
        "skew_not_int",
        "bad_bool",
        "bad_anonymous_writes_bool",
        "wildcard_origin",
        "origin_without_scheme",
        "staleness_too_long",
    ],
)
def test_bad_values_fail_at_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


DEMO = {"GOOGLE_CLOUD_PROJECT": "demo-x"}
REAL = {"GOOGLE_CLOUD_PROJECT": "my-prod"}
AUTH_EMU = {"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}
STORE_EMU = {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080"}
RISK = {"ALLOW_EMULATOR_WITH_REAL_PROJECT": "i-accept-unsigned-tokens"}
DEPLOYED = {"K_SERVICE": "me"}


@pytest.mark.parametrize(
    "env",
    [
        {**DEMO, **DEPLOYED, **AUTH_EMU},
        {**DEMO, **DEPLOYED, **STORE_EMU},
        {**DEMO, **DEPLOYED, **AUTH_EMU, **RISK},
        {**REAL, **AUTH_EMU},
        {**REAL, **STORE_EMU},
        {**REAL, **AUTH_EMU, "ALLOW_EMULATOR_WITH_REAL_PROJECT": "yes"},
    ],
    ids=[
        "auth_emulator_on_cloud_functions",
        "firestore_emulator_on_cloud_functions",
        "override_does_not_cover_cloud_functions",
        "auth_emulator_with_real_project",
        "firestore_emulator_with_real_project",
        "vague_override",
    ],
)
def test_unsafe_emulator_settings_refuse_to_serve(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"(?i)emulator"):
        Settings.from_env(env)


def test_override_names_the_risk_to_allow_a_real_project_locally() -> None:
    settings = Settings.from_env({**REAL, **AUTH_EMU, **STORE_EMU, **RISK})
    assert settings.allow_emulator_with_real_project is True


@pytest.mark.parametrize(
    "env",
    [
        {**BASE, "K_SERVICE": "me"},
        {**BASE, "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"},
    ],
    ids=["deployed_without_emulator", "emulator_locally"],
)
def test_safe_combinations_start(env: dict[str, str]) -> None:
    assert Settings.from_env(env).project_id == "demo-x"


# --- CORS_ALLOWED_ORIGINS: exact origins only ------------------------------------
# flask-cors reads a value with regex characters as a pattern anchored at the start
# only (audit finding: https://*.example.com was accepted and matched as a regex).

ACCEPTED_ORIGINS = {
    "https_host": "https://app.example.com",
    "http_localhost_port": "http://localhost:5173",
    "ipv4_port": "http://127.0.0.1:8000",
    "ipv6_port": "http://[::1]:8080",
    "punycode_host": "https://xn--exmple-cua.com",
    "single_label": "http://devbox",
    "highest_port": "https://a.example:65535",
    "hyphenated_labels": "https://my-app.eu-west.example.com",
}


@pytest.mark.parametrize("origin", ACCEPTED_ORIGINS.values(), ids=ACCEPTED_ORIGINS.keys())
def test_exact_origins_are_accepted_as_written(origin: str) -> None:
    settings = Settings.from_env({**BASE, "CORS_ALLOWED_ORIGINS": origin})
    assert settings.cors_allowed_origins == (origin,)


#: value -> the form the error message suggests, or None when nothing is close.
REFUSED_ORIGINS: dict[str, tuple[str, str | None]] = {
    "wildcard_subdomain": ("https://*.example.com", None),
    "regex_dot_star": ("https://.*\\.example\\.com", None),
    "regex_alternation": ("https://(app|admin).example.com", None),
    "regex_anchor": ("^https://app.example.com$", None),
    "character_class": ("https://app[0-9].example.com", None),
    "question_mark": ("https://app?.example.com", None),
    "bare_wildcard": ("*", None),
    "no_scheme": ("app.example.com", None),
    "other_scheme": ("ftp://app.example.com", None),
    "null_origin": ("null", None),
    "path": ("https://app.example.com/app", None),
    "trailing_slash": ("https://app.example.com/", "https://app.example.com"),
    "query": ("https://app.example.com?x=1", None),
    "fragment": ("https://app.example.com#x", None),
    "user_info": ("https://user@app.example.com", None),
    "upper_case_host": ("https://App.Example.com", "https://app.example.com"),
    "upper_case_scheme": ("HTTPS://app.example.com", "https://app.example.com"),
    "explicit_default_port": ("https://app.example.com:443", "https://app.example.com"),
    "explicit_default_http_port": ("http://localhost:80", "http://localhost"),
    "port_zero": ("https://app.example.com:0", None),
    "port_too_big": ("https://app.example.com:65536", None),
    "port_leading_zero": ("https://app.example.com:0443", "https://app.example.com"),
    "empty_port": ("https://app.example.com:", "https://app.example.com"),
    "trailing_dot": ("https://app.example.com.", None),
    "empty_label": ("https://app..example.com", None),
    "leading_hyphen": ("https://-app.example.com", None),
    "underscore": ("https://app_1.example.com", None),
    "unicode_host": ("https://exämple.com", None),
    "short_ipv4": ("http://127.1", None),
    "ipv6_not_compressed": ("http://[0:0:0:0:0:0:0:1]:8080", None),
    "ipv6_invalid": ("http://[::g]", None),
    "embedded_whitespace": ("https://app .example.com", None),
}


@pytest.mark.parametrize(
    ("origin", "suggested"), REFUSED_ORIGINS.values(), ids=REFUSED_ORIGINS.keys()
)
def test_anything_but_an_exact_origin_is_refused_at_start(
    origin: str, suggested: str | None
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**BASE, "CORS_ALLOWED_ORIGINS": f"https://ok.example,{origin}"})
    message = str(raised.value)
    assert message.startswith("CORS_ALLOWED_ORIGINS: expected exact origins like https://")
    assert f"got {origin!r}" in message
    if suggested is None:
        assert "write it as" not in message
    else:
        assert message.endswith(f"(write it as {suggested!r})")


# --- App Check ---------------------------------------------------------------------

NUMBER = {"FIREBASE_PROJECT_NUMBER": "123456789012"}
LOCAL_JWKS = {"APP_CHECK_JWKS_URL": "http://127.0.0.1:9999/v1/jwks"}


@pytest.mark.parametrize(
    ("env", "mode", "number", "url"),
    [
        ({}, "off", None, APP_CHECK_JWKS_URL),
        ({"APP_CHECK": "monitor", **NUMBER}, "monitor", "123456789012", APP_CHECK_JWKS_URL),
        ({"APP_CHECK": " Enforce ", **NUMBER}, "enforce", "123456789012", APP_CHECK_JWKS_URL),
        ({"APP_CHECK": "off", **NUMBER}, "off", "123456789012", APP_CHECK_JWKS_URL),
        (
            {"APP_CHECK": "enforce", **NUMBER, **LOCAL_JWKS},
            "enforce",
            "123456789012",
            LOCAL_JWKS["APP_CHECK_JWKS_URL"],
        ),
    ],
    ids=[
        "off_by_default",
        "monitor",
        "enforce_case_insensitive",
        "number_without_app_check",
        "local_key_set_with_demo_project",
    ],
)
def test_app_check_settings(env: dict[str, str], mode: str, number: str | None, url: str) -> None:
    settings = Settings.from_env({**DEMO, **env})
    assert (settings.app_check, settings.project_number, settings.app_check_jwks_url) == (
        mode,
        number,
        url,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**DEMO, "APP_CHECK": "on", **NUMBER}, "APP_CHECK: expected off, monitor or enforce"),
        ({**DEMO, "APP_CHECK": "enforce"}, "FIREBASE_PROJECT_NUMBER: required"),
        ({**DEMO, "APP_CHECK": "monitor"}, "FIREBASE_PROJECT_NUMBER: required"),
        ({**DEMO, "FIREBASE_PROJECT_NUMBER": "my-project"}, "digits only"),
        ({**DEMO, "FIREBASE_PROJECT_NUMBER": "12 34"}, "digits only"),
        ({**DEMO, "FIREBASE_PROJECT_NUMBER": "-1"}, "digits only"),
        ({**DEMO, "FIREBASE_PROJECT_NUMBER": "١٢٣"}, "digits only"),
        ({**REAL, "APP_CHECK": "enforce", **NUMBER, **LOCAL_JWKS}, "demo- project"),
        ({**REAL, **LOCAL_JWKS}, "demo- project"),
        ({**REAL, **LOCAL_JWKS, **AUTH_EMU, **RISK}, "demo- project"),
        ({**DEMO, **DEPLOYED, **LOCAL_JWKS}, "Cloud Functions"),
        ({**DEMO, "APP_CHECK_JWKS_URL": "file:///etc/keys.json"}, "http"),
        ({**DEMO, "APP_CHECK_JWKS_URL": "jwks.example.com"}, "http"),
    ],
    ids=[
        "unknown_mode",
        "enforce_without_number",
        "monitor_without_number",
        "number_with_letters",
        "number_with_space",
        "negative_number",
        "non_ascii_digits",
        "local_key_set_with_real_project",
        "local_key_set_even_when_off",
        "emulator_override_does_not_cover_key_set",
        "local_key_set_on_cloud_functions",
        "key_set_from_a_file",
        "key_set_without_scheme",
    ],
)
def test_bad_app_check_settings_fail_at_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
