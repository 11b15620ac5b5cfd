"""functions-framework alone: a JSON hello, nothing imported."""

from __future__ import annotations

from typing import Any


def hello(request: Any) -> dict[str, str]:
    return {"hello": "world"}
