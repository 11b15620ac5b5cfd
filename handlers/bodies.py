"""Reading request input: JSON bodies (size, media type, strict parsing, schema),
query parameters and ``If-Match``."""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from flask import Request
from pydantic import BaseModel, ValidationError

from core import fields
from core.errors import (
    InvalidJson,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
    ValidationFailed,
)
from core.settings import MAX_BODY_BYTES
from handlers.schemas import SERVER_MANAGED_FIELDS

M = TypeVar("M", bound=BaseModel)

#: Deeper JSON than this is refused; no body of this API nests beyond 3.
MAX_JSON_DEPTH = 8
#: At most this many per-field reasons are returned (a hostile body can have thousands).
MAX_DETAILS = 20
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def parse_body(request: Request, model: type[M]) -> M:
    """Parse and validate a JSON object body.

    Raises:
        PayloadTooLarge: over ``MAX_BODY_BYTES``.
        UnsupportedMediaType: a ``Content-Type`` other than ``application/json``.
        InvalidJson: not UTF-8 JSON, duplicate keys, NaN/Infinity, too deep, not an object.
        ValidationFailed: the object breaks the schema; ``details`` names each field.
    """
    raw = _read_limited(request)
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"Expected Content-Type application/json, got {request.mimetype or 'none'}."
        )
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in {"utf-8", "utf8"}:
        raise UnsupportedMediaType("JSON bodies must be UTF-8.")
    data = loads_strict(raw)
    if not isinstance(data, dict):
        raise InvalidJson("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(details=_field_errors(error)) from None


def _read_limited(request: Request) -> bytes:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body is {length} bytes; the limit is {MAX_BODY_BYTES}.")
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body exceeds the limit of {MAX_BODY_BYTES} bytes.")
    return raw


def loads_strict(raw: bytes) -> Any:
    """``json.loads`` that refuses what Python's parser tolerates but JSON does not.

    Hand-written on top of the standard parser's hooks: no validating JSON library
    rejects duplicate keys and NaN and bounds depth all at once.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJson("The request body is not UTF-8.") from None
    if text.startswith("\ufeff"):
        raise InvalidJson("The request body starts with a byte-order mark.")
    try:
        data = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constants,
            parse_float=_finite_float,
            parse_int=_int64,
        )
    except RecursionError:
        raise InvalidJson("The JSON document is nested too deeply.") from None
    except ValueError as error:
        raise InvalidJson(f"The request body is not valid JSON: {_short(error)}.") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise InvalidJson(f"The JSON document nests deeper than {MAX_JSON_DEPTH} levels.")
    if not _all_text_is_unicode(data):
        # A lone surrogate (\ud800) decodes in Python but cannot be stored as UTF-8.
        raise InvalidJson("The request body contains an unpaired surrogate (\\uD800-\\uDFFF).")
    return data


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _int64(text: str) -> int:
    if len(text) > 20:
        raise ValueError("integer is out of range")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("integer is out of the 64-bit range")
    return value


def _all_text_is_unicode(value: Any) -> bool:
    if isinstance(value, str):
        return _encodable(value)
    if isinstance(value, dict):
        return all(_encodable(k) and _all_text_is_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_all_text_is_unicode(v) for v in value)
    return True


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _short(error: ValueError) -> str:
    return str(error).split(":")[0][:120]


def _field_errors(error: ValidationError) -> dict[str, str]:
    details: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False)[:MAX_DETAILS]:
        field = ".".join(str(part) for part in item["loc"]) or "body"
        if item["type"] == "extra_forbidden":
            top = str(item["loc"][0]) if item["loc"] else field
            reason = (
                "is set by the server and cannot be sent"
                if top in SERVER_MANAGED_FIELDS
                else "is not a known field"
            )
        else:
            reason = str(item["msg"])
        details.setdefault(field, reason)
    return details


def page_params(request: Request) -> tuple[int, str | None]:
    """``limit`` (``core.fields.LIMIT``: default 20, 1..100) and an optional ``cursor``.

    Raises:
        ValidationFailed: ``limit`` is not an integer in range.
    """
    rule = fields.LIMIT
    raw_limit = request.args.get("limit")
    limit = fields.DEFAULT_PAGE_SIZE
    if raw_limit is not None:
        if (
            not _is_decimal(raw_limit, rule.max_digits)
            or not rule.minimum <= int(raw_limit) <= rule.maximum
        ):
            raise ValidationFailed(
                details={"limit": f"must be an integer from {rule.minimum} to {rule.maximum}"}
            )
        limit = int(raw_limit)
    cursor = request.args.get("cursor") or None
    return limit, cursor


def if_match_version(request: Request) -> int | None:
    """The version named by ``If-Match`` (``"3"`` as sent in our ETags), if any.

    ``*`` means "any current version". A tag we could not have issued (weak,
    unquoted, a list) never matches, so it fails the precondition, not ignored.

    Raises:
        PreconditionFailed: the header names no version this API issues.
    """
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    value = raw.strip()
    if value == "*":
        return None
    # Weak tags never match under If-Match's strong comparison (RFC 9110 13.1.1).
    if len(value) < 3 or value[0] != '"' or value[-1] != '"' or not _is_decimal(value[1:-1], 18):
        raise PreconditionFailed("If-Match must be an ETag returned by this API.")
    return int(value[1:-1])


def _is_decimal(text: str, max_digits: int) -> bool:
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def require_uid(uid: str, field: str) -> str:
    """A uid as ``core.fields.is_uid`` defines one (1-128 printable characters, no spaces).

    Raises:
        ValidationFailed: naming ``field``.
    """
    if not fields.is_uid(uid):
        raise ValidationFailed(
            details={field: f"must be a uid of 1 to {fields.MAX_UID_LENGTH} printable characters"}
        )
    return uid


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header (``core.fields.IDEMPOTENCY_KEY``), if sent.

    Raises:
        ValidationFailed: a key outside that alphabet or length.
    """
    values = request.headers.getlist("Idempotency-Key")
    if not values:
        return None
    key = values[0]
    if len(values) > 1 or not fields.IDEMPOTENCY_KEY.matches(key):
        raise ValidationFailed(
            details={"Idempotency-Key": "must be one header of 1-255 visible ASCII characters"}
        )
    return key


def etag(version: int) -> str:
    return f'"{version}"'
