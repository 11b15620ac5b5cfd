"""Logs people can use: Cloud Logging JSON when deployed, trace ids joined."""

from __future__ import annotations

import json
import logging

import pytest

from core.logging import TRACE_FIELD, json_formatter, trace_field, trace_id
from core.settings import Settings

TRACE = "105445aa7843bc8bf206b12000100000"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Cloud-Trace-Context": f"{TRACE}/1;o=1"}, TRACE),
        ({"X-Cloud-Trace-Context": TRACE.upper()}, TRACE),
        ({"traceparent": f"00-{TRACE}-b7ad6b7169203331-01"}, TRACE),
        ({"traceparent": f"00-{'0' * 32}-b7ad6b7169203331-01"}, None),
        ({"X-Cloud-Trace-Context": "<script>"}, None),
        ({"traceparent": "garbage"}, None),
        ({}, None),
    ],
    ids=[
        "cloud_trace_header",
        "cloud_trace_upper_case",
        "w3c_traceparent",
        "w3c_all_zero_is_invalid",
        "hostile_cloud_header",
        "hostile_traceparent",
        "none",
    ],
)
def test_trace_id(headers: dict[str, str], expected: str | None) -> None:
    assert trace_id(headers) == expected


def test_trace_field_names_the_project() -> None:
    field = trace_field("my-proj", {"X-Cloud-Trace-Context": TRACE})
    assert field == {TRACE_FIELD: f"projects/my-proj/traces/{TRACE}"}


def test_json_lines_use_cloud_logging_field_names() -> None:
    record = logging.LogRecord(
        "handlers.http", logging.WARNING, "f.py", 1, "hello %s", ("x",), None
    )
    record.httpRequest = {"requestMethod": "GET", "status": 401}
    setattr(record, TRACE_FIELD, f"projects/p/traces/{TRACE}")
    line = json.loads(json_formatter().format(record))
    assert line["severity"] == "WARNING"
    assert line["message"] == "hello x"
    assert line["httpRequest"] == {"requestMethod": "GET", "status": 401}
    assert line[TRACE_FIELD].endswith(TRACE)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"K_SERVICE": "me"}, True),
        ({"LOG_FORMAT": "json"}, True),
        ({"K_SERVICE": "me", "LOG_FORMAT": "text"}, False),
    ],
    ids=["local_text", "deployed_json", "forced_json", "forced_text"],
)
def test_log_format_follows_the_environment(env: dict[str, str], expected: bool) -> None:
    assert Settings.from_env({"GOOGLE_CLOUD_PROJECT": "demo-x", **env}).log_json is expected
