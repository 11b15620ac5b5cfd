"""core.fields: each input rule is defined once, and what it says as JSON Schema (the
OpenAPI document, pydantic's models) is what its Python check accepts."""

from __future__ import annotations

import jsonschema
import pytest
from pydantic import TypeAdapter

from core import fields
from handlers.schemas import Description, Name, Uid

#: (rule, value, accepted): the cases name the rule they pin down.
TEXT_CASES = [
    ("uid", fields.UID, "u1", True),
    ("uid", fields.UID, "", False),
    ("uid", fields.UID, "x" * 128, True),
    ("uid", fields.UID, "x" * 129, False),
    ("project_id", fields.PROJECT_ID, "AbCdEfGhIjKlMnOpQrSt", True),
    ("project_id", fields.PROJECT_ID, "AbCdEfGhIjKlMnOpQrS", False),
    ("project_id", fields.PROJECT_ID, "AbCdEfGhIjKlMnOpQr/t", False),
    ("project_id", fields.PROJECT_ID, "__name__", False),
    ("email", fields.EMAIL, "a@example.com", True),
    ("email", fields.EMAIL, "a@b@example.com", False),
    ("email", fields.EMAIL, "@example.com", False),
    ("email", fields.EMAIL, "a@", False),
    ("email", fields.EMAIL, "a@" + "e" * 253, False),
    ("cursor", fields.CURSOR, "", True),
    ("cursor", fields.CURSOR, "WyIyMDI2LTAxLTAxIiwiYSJd", True),
    ("cursor", fields.CURSOR, "a+b", False),
    ("cursor", fields.CURSOR, "a" * 201, False),
    ("idempotency_key", fields.IDEMPOTENCY_KEY, "key-1!~", True),
    ("idempotency_key", fields.IDEMPOTENCY_KEY, "with space", False),
    ("idempotency_key", fields.IDEMPOTENCY_KEY, "é", False),
    ("idempotency_key", fields.IDEMPOTENCY_KEY, "k" * 256, False),
    ("project_name", fields.PROJECT_NAME, " x ", True),
    ("project_name", fields.PROJECT_NAME, "   ", False),
    ("project_name", fields.PROJECT_NAME, "n" * 201, False),
    ("project_description", fields.PROJECT_DESCRIPTION, "", True),
    ("project_description", fields.PROJECT_DESCRIPTION, "d" * 5001, False),
]


@pytest.mark.parametrize(
    ("rule", "value", "accepted"),
    [case[1:] for case in TEXT_CASES],
    ids=[
        f"{case[0]}_{'accepts' if case[3] else 'refuses'}_{n}" for n, case in enumerate(TEXT_CASES)
    ],
)
def test_the_check_and_the_json_schema_agree(rule: fields.Text, value: str, accepted: bool) -> None:
    assert rule.matches(value) is accepted
    valid = jsonschema.Draft202012Validator(rule.json_schema()).is_valid(value)
    assert valid is accepted


def test_whole_value_rules_refuse_a_trailing_newline() -> None:
    """Python's ``$`` also matches before a final newline (ECMA's does not): ``matches``
    must not be fooled by it (the jsonschema library is, so it is not in the table)."""
    assert not fields.PROJECT_ID.matches("AbCdEfGhIjKlMnOpQrSt\n")


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("alice", True),
        ("x" * 128, True),
        ("", False),
        ("x" * 129, False),
        ("has space", False),
        ("tab\there", False),
        ("nul\x00", False),
        ("bad\ufffdbytes", False),
        ("\u00e9t\u00e9", True),
    ],
    ids=[
        "plain",
        "longest",
        "empty",
        "too_long",
        "space",
        "tab",
        "control",
        "replacement_character",
        "non_ascii_printable",
    ],
)
def test_uids_are_printable_without_whitespace(value: str, accepted: bool) -> None:
    assert fields.is_uid(value) is accepted


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [(1, True), (100, True), (0, False), (101, False), (20, True)],
    ids=["minimum", "maximum", "below", "above", "default"],
)
def test_limit_schema(raw: int, accepted: bool) -> None:
    schema = fields.LIMIT.json_schema()
    assert schema["default"] == fields.DEFAULT_PAGE_SIZE
    assert jsonschema.Draft202012Validator(schema).is_valid(raw) is accepted
    assert fields.LIMIT.max_digits == len(str(fields.MAX_PAGE_SIZE))


@pytest.mark.parametrize(
    ("annotated", "rule"),
    [(Name, fields.PROJECT_NAME), (Description, fields.PROJECT_DESCRIPTION), (Uid, fields.UID)],
    ids=["name", "description", "uid"],
)
def test_pydantic_types_say_what_the_rule_says(annotated: object, rule: fields.Text) -> None:
    generated = TypeAdapter(annotated).json_schema()
    assert generated == rule.json_schema()
