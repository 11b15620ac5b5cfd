"""``Authorization`` header parsing (RFC 6750): pure, so a table with no I/O."""

from __future__ import annotations

import pytest

from auth.bearer import MAX_TOKEN_LENGTH, bearer_token
from core.errors import AuthenticationFailed, InvalidToken, MissingToken

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}",
        f"bearer {TOKEN}",
        f"BEARER {TOKEN}",
        f"BeArEr {TOKEN}",
        f"Bearer   {TOKEN}",
        f"  Bearer {TOKEN}  ",
        f"Bearer {TOKEN}\r\n",
    ],
    ids=[
        "scheme_capitalised",
        "scheme_lowercase",
        "scheme_uppercase",
        "scheme_mixed_case",
        "extra_spaces_before_token",
        "surrounding_whitespace",
        "trailing_crlf",
    ],
)
def test_accepted(header: str) -> None:
    assert bearer_token(header) == TOKEN


def test_longest_token_accepted() -> None:
    token = "a" * MAX_TOKEN_LENGTH
    assert bearer_token(f"Bearer {token}") == token


@pytest.mark.parametrize(
    ("header", "error", "code", "bearer_error"),
    [
        (None, MissingToken, "missing_token", None),
        ("", MissingToken, "missing_token", None),
        ("   ", MissingToken, "missing_token", None),
        ("Basic dXNlcjpwYXNzd29yZA==", MissingToken, "missing_token", None),
        (TOKEN, MissingToken, "missing_token", None),
        (f"Token {TOKEN}", MissingToken, "missing_token", None),
        ("Bearer", InvalidToken, "invalid_token", "invalid_token"),
        ("Bearer   ", InvalidToken, "invalid_token", "invalid_token"),
        (f"Bearer {TOKEN} {TOKEN}", InvalidToken, "invalid_token", "invalid_token"),
        (f"Bearer {TOKEN}\tx", InvalidToken, "invalid_token", "invalid_token"),
        (f"Bearer {TOKEN}\u00a0x", InvalidToken, "invalid_token", "invalid_token"),
        (f"Bearer {TOKEN}é", InvalidToken, "invalid_token", "invalid_token"),
        ("Bearer токен", InvalidToken, "invalid_token", "invalid_token"),
        (
            "Bearer " + "a" * (MAX_TOKEN_LENGTH + 1),
            InvalidToken,
            "invalid_token",
            "invalid_token",
        ),
        ("Bearer " + "a" * 100_000, InvalidToken, "invalid_token", "invalid_token"),
    ],
    ids=[
        "no_header_is_missing",
        "empty_header_is_missing",
        "blank_header_is_missing",
        "basic_scheme_is_missing",
        "token_without_scheme_is_missing",
        "other_scheme_is_missing",
        "bearer_alone_is_invalid",
        "bearer_with_only_spaces_is_invalid",
        "token_with_inner_space_is_invalid",
        "token_with_inner_tab_is_invalid",
        "token_with_inner_nbsp_is_invalid",
        "non_ascii_character_is_invalid",
        "non_ascii_token_is_invalid",
        "one_over_max_length_is_invalid",
        "far_over_max_length_is_invalid",
    ],
)
def test_rejected(
    header: str | None, error: type[AuthenticationFailed], code: str, bearer_error: str | None
) -> None:
    with pytest.raises(AuthenticationFailed) as raised:
        bearer_token(header)
    assert type(raised.value) is error
    assert raised.value.status == 401
    assert raised.value.code == code
    assert raised.value.bearer_error == bearer_error


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}x y", f"Bearer {TOKEN}é", "Bearer " + "s" * (MAX_TOKEN_LENGTH + 1)],
    ids=["inner_space", "non_ascii", "over_long"],
)
def test_rejection_message_does_not_echo_the_token(header: str) -> None:
    with pytest.raises(InvalidToken) as raised:
        bearer_token(header)
    assert TOKEN not in raised.value.message
    assert "sss" not in raised.value.message
