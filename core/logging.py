"""Logging set-up: JSON lines (Cloud Logging reads ``severity`` and ``message``)
when deployed, plain text locally. Tokens and bodies are never passed to a logger."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from core.settings import get_settings


def configure_logging(level: int = logging.INFO) -> None:
    """Install one stdout handler on the root logger (idempotent)."""
    root = logging.getLogger()
    if any(getattr(h, "_backend_handler", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler._backend_handler = True  # type: ignore[attr-defined]
    if get_settings().deployed:
        handler.setFormatter(
            JsonFormatter(
                "%(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "severity", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
