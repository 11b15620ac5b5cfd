"""Logging set-up: Cloud Logging structured JSON on stdout when deployed (``severity``,
``message``, ``httpRequest``, trace), readable text locally. Tokens and request
bodies are never passed to a logger."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping

from pythonjsonlogger.json import JsonFormatter

#: The field Cloud Logging reads to join a log line to its trace.
TRACE_FIELD = "logging.googleapis.com/trace"
#: The request headers that may carry a trace id.
TRACE_HEADERS = ("X-Cloud-Trace-Context", "traceparent")

_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/\d+)?(?:;o=[01])?$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def configure_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    """Install one stdout handler on the root logger (idempotent).

    Args:
        json_lines: Cloud Logging JSON lines (``Settings.log_json``), else readable text.
    """
    root = logging.getLogger()
    if any(getattr(h, "_backend_handler", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler._backend_handler = True  # type: ignore[attr-defined]
    handler.setFormatter(json_formatter() if json_lines else text_formatter())
    root.addHandler(handler)
    root.setLevel(level)


def json_formatter() -> logging.Formatter:
    """One JSON object per line, with the field names Cloud Logging understands."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "severity", "name": "logger"},
    )


def text_formatter() -> logging.Formatter:
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def trace_id(headers: Mapping[str, str]) -> str | None:
    """The trace id of a request, from ``X-Cloud-Trace-Context`` or W3C ``traceparent``.

    Malformed values are ignored (they are client input, never echoed as is).
    """
    cloud = headers.get("X-Cloud-Trace-Context", "").strip()
    if match := _CLOUD_TRACE.match(cloud):
        return match.group(1).lower()
    parent = headers.get("traceparent", "").strip()
    if (match := _TRACEPARENT.match(parent)) and match.group(1) != "0" * 32:
        return match.group(1)
    return None


def trace_field(project_id: str, headers: Mapping[str, str]) -> dict[str, str]:
    """``{"logging.googleapis.com/trace": "projects/P/traces/T"}``, or nothing."""
    found = trace_id(headers)
    return {TRACE_FIELD: f"projects/{project_id}/traces/{found}"} if found else {}
