"""Request input: strict JSON, schemas with per-field reasons, If-Match, paging."""

from __future__ import annotations

import json
import typing

import pytest
from flask import Flask, Request
from pydantic import BaseModel

from auth.principal import Role
from core.errors import (
    ApiError,
    InvalidJson,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
    ValidationFailed,
)
from core.settings import MAX_BODY_BYTES
from handlers.bodies import if_match_version, page_params, parse_body, require_uid
from handlers.schemas import (
    MemberPut,
    ProjectCreate,
    ProjectPatch,
    RoleName,
    RolesPut,
    TransferBody,
)

app = Flask(__name__)


def request_with(
    body: bytes | str = b"",
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    query: str = "",
) -> Request:
    data = body.encode() if isinstance(body, str) else body
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    ctx = app.test_request_context("/x" + query, method="POST", data=data, headers=all_headers)
    ctx.push()
    return typing.cast(Request, ctx.request)


def parse(model: type[BaseModel], body: bytes | str, **kw: typing.Any) -> BaseModel:
    return parse_body(request_with(body, **kw), model)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b'{"name": NaN}', "not valid JSON"),
        (b'{"name": Infinity}', "not valid JSON"),
        (b'{"name": "a", "name": "b"}', "not valid JSON"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b"\xff\xfe{\x00}\x00", "not UTF-8"),
        (b"[]", "JSON object"),
        (b'"name"', "JSON object"),
        (b"null", "JSON object"),
        (("[" * 9 + "]" * 9).encode(), "nests deeper"),
        (("[" * 100_000 + "]" * 100_000).encode()[:MAX_BODY_BYTES], "JSON"),
        (b'{"name": 1e400}', "out of range"),
        (b'{"name": -1e400}', "out of range"),
        (b'{"name": 9223372036854775808}', "64-bit"),
        (b'{"name": -9223372036854775809}', "64-bit"),
        (b'{"name": ' + b"9" * 5000 + b"}", "out of range"),
        (b'{"name": "\\ud800"}', "surrogate"),
        (b'{"\\udfff": "x"}', "surrogate"),
        (b"\xed\xa0\x80", "not UTF-8"),
    ],
    ids=[
        "empty",
        "truncated",
        "nan",
        "infinity",
        "duplicate_keys",
        "bom",
        "utf16",
        "array_top_level",
        "string_top_level",
        "null_top_level",
        "too_deep",
        "absurdly_deep",
        "float_overflow",
        "negative_float_overflow",
        "int_above_int64",
        "int_below_int64",
        "int_with_5000_digits",
        "lone_surrogate_value",
        "lone_surrogate_key",
        "utf8_encoded_surrogate",
    ],
)
def test_malformed_json_is_invalid_json(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidJson) as raised:
        parse(ProjectCreate, body)
    assert raised.value.status == 400
    assert raised.value.code == "invalid_json"
    assert reason in raised.value.message


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", None, "application/json; charset=latin-1"],
    ids=["text", "form", "missing", "wrong_charset"],
)
def test_non_json_media_type_is_415(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as raised:
        parse(ProjectCreate, '{"name": "x"}', content_type=content_type)
    assert raised.value.status == 415


def test_json_with_utf8_charset_is_accepted() -> None:
    body = parse(ProjectCreate, '{"name": "x"}', content_type="application/json; charset=UTF-8")
    assert body == ProjectCreate(name="x")


def test_body_over_64_kib_is_413_even_with_a_lying_length() -> None:
    big = json.dumps({"name": "x", "description": "y" * MAX_BODY_BYTES})
    with pytest.raises(PayloadTooLarge) as raised:
        parse(ProjectCreate, big)
    assert raised.value.status == 413


def _details(model: type[BaseModel], body: dict[str, typing.Any]) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as raised:
        parse(model, json.dumps(body))
    assert raised.value.code == "validation_error"
    assert raised.value.details is not None
    return raised.value.details


@pytest.mark.parametrize(
    ("model", "body", "field", "reason"),
    [
        (ProjectCreate, {}, "name", "required"),
        (ProjectCreate, {"name": ""}, "name", "at least 1"),
        (ProjectCreate, {"name": "   "}, "name", "at least 1"),
        (ProjectCreate, {"name": "x" * 201}, "name", "at most 200"),
        (ProjectCreate, {"name": 5}, "name", "string"),
        (ProjectCreate, {"name": ["x"]}, "name", "string"),
        (ProjectCreate, {"name": "x", "description": "d" * 5001}, "description", "5000"),
        (ProjectCreate, {"name": "x", "description": None}, "description", "string"),
        (ProjectCreate, {"name": "x", "ownerId": "me"}, "ownerId", "set by the server"),
        (ProjectCreate, {"name": "x", "editors": []}, "editors", "set by the server"),
        (ProjectCreate, {"name": "x", "viewers": []}, "viewers", "set by the server"),
        (ProjectCreate, {"name": "x", "createdAt": "t"}, "createdAt", "set by the server"),
        (ProjectCreate, {"name": "x", "updatedAt": "t"}, "updatedAt", "set by the server"),
        (ProjectCreate, {"name": "x", "version": 9}, "version", "set by the server"),
        (ProjectCreate, {"name": "x", "id": "abc"}, "id", "set by the server"),
        (ProjectCreate, {"name": "x", "colour": "red"}, "colour", "not a known field"),
        (ProjectPatch, {}, "body", "at least one"),
        (ProjectPatch, {"ownerId": "u"}, "ownerId", "set by the server"),
        (ProjectPatch, {"version": 2, "name": "x"}, "version", "set by the server"),
        (ProjectPatch, {"name": None}, "body", "at least one"),
        (MemberPut, {"role": "owner"}, "role", "'editor' or 'viewer'"),
        (MemberPut, {}, "role", "required"),
        (TransferBody, {"ownerId": ""}, "ownerId", "at least 1"),
        (TransferBody, {"ownerId": 3}, "ownerId", "string"),
        (RolesPut, {"roles": ["root"]}, "roles.0", "'admin' or 'auditor'"),
        (RolesPut, {"roles": "admin"}, "roles", "list"),
        (RolesPut, {}, "roles", "required"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_schema_errors_name_the_field(
    model: type[BaseModel], body: dict[str, typing.Any], field: str, reason: str
) -> None:
    details = _details(model, body)
    assert field in details, details
    assert reason in details[field]


def test_name_is_trimmed() -> None:
    assert parse(ProjectCreate, '{"name": "  hi  "}') == ProjectCreate(name="hi")


def test_roles_put_gives_a_role_set() -> None:
    body = parse(RolesPut, '{"roles": ["auditor", "admin", "admin"]}')
    assert isinstance(body, RolesPut)
    assert body.role_set() == {Role.ADMIN, Role.AUDITOR}


def test_wire_role_names_match_the_role_enum() -> None:
    assert set(typing.get_args(RoleName)) == {role.value for role in Role}


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ('"3"', 3), ("*", None), (' "12" ', 12)],
    ids=["absent", "quoted", "any", "spaces"],
)
def test_if_match_versions(header: str | None, expected: int | None) -> None:
    headers = {"If-Match": header} if header is not None else {}
    assert if_match_version(request_with(headers=headers)) == expected


@pytest.mark.parametrize(
    "header",
    ['W/"3"', "3", '"three"', '"1", "2"', '""', '"٣"', '"' + "9" * 30 + '"'],
    ids=["weak", "unquoted", "not_a_number", "list", "empty", "arabic_digit", "huge"],
)
def test_if_match_we_could_not_have_issued_fails_the_precondition(header: str) -> None:
    with pytest.raises(PreconditionFailed) as raised:
        if_match_version(request_with(headers={"If-Match": header}))
    assert raised.value.status == 412


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", (20, None)), ("?limit=1", (1, None)), ("?limit=100&cursor=abc", (100, "abc"))],
    ids=["defaults", "min", "max_and_cursor"],
)
def test_page_params(query: str, expected: tuple[int, str | None]) -> None:
    assert page_params(request_with(query=query)) == expected


@pytest.mark.parametrize(
    "limit", ["0", "101", "-1", "x", "1.5", "", "²"], ids=lambda v: f"limit_{v!r}"
)
def test_bad_limits_are_400(limit: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        page_params(request_with(query=f"?limit={limit}"))
    assert raised.value.details == {"limit": "must be an integer from 1 to 100"}


@pytest.mark.parametrize(
    "uid",
    ["", "x" * 129, "a b", "tab\t", "nul\x00", "zero\u200bwidth", "line\n"],
    ids=["empty", "too_long", "space", "tab", "nul", "zero_width", "newline"],
)
def test_bad_uids_are_400(uid: str) -> None:
    with pytest.raises(ApiError) as raised:
        require_uid(uid, "uid")
    assert raised.value.status == 400
    assert raised.value.details is not None
    assert "uid" in raised.value.details


def test_good_uid_passes() -> None:
    assert require_uid("Xy12-_.:@", "uid") == "Xy12-_.:@"


def test_details_are_capped_for_hostile_bodies() -> None:
    body = json.dumps({"name": "x", **{f"k{i}": i for i in range(500)}})
    details = _details_raw(body)
    assert len(details) == 20


def _details_raw(body: str) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as raised:
        parse(ProjectCreate, body)
    assert raised.value.details is not None
    return raised.value.details


def test_integers_at_the_int64_bounds_parse() -> None:
    from handlers.bodies import loads_strict

    assert loads_strict(b"[9223372036854775807, -9223372036854775808]") == [2**63 - 1, -(2**63)]
