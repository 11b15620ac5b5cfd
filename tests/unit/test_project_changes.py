"""Pure project transitions: every change bumps version and updatedAt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import NotFound, PreconditionFailed, TooManyMembers, ValidationFailed
from services import project_changes as changes
from services.project_changes import MAX_MEMBERS, MemberRole
from store.models import Project

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def project(**overrides: object) -> Project:
    base = {
        "id": "p" * 20,
        "name": "n",
        "description": "d",
        "owner_id": "owner",
        "editors": ("ed",),
        "viewers": ("vi",),
        "created_at": T0,
        "updated_at": T0,
        "version": 3,
    }
    return Project(**{**base, **overrides})  # type: ignore[arg-type]


def test_edit_changes_only_given_fields_and_bumps() -> None:
    edited = changes.edited(project(), now=T1, name="new")
    assert (edited.name, edited.description) == ("new", "d")
    assert (edited.version, edited.updated_at, edited.created_at) == (4, T1, T0)


@pytest.mark.parametrize(
    ("uid", "role", "editors", "viewers"),
    [
        ("new", MemberRole.VIEWER, ("ed",), ("vi", "new")),
        ("new", MemberRole.EDITOR, ("ed", "new"), ("vi",)),
        ("vi", MemberRole.EDITOR, ("ed", "vi"), ()),
        ("ed", MemberRole.VIEWER, (), ("vi", "ed")),
        ("ed", MemberRole.EDITOR, ("ed",), ("vi",)),
    ],
    ids=["add_viewer", "add_editor", "promote_viewer", "demote_editor", "same_role_again"],
)
def test_with_member(uid: str, role: MemberRole, editors: tuple, viewers: tuple) -> None:
    updated = changes.with_member(project(), uid, role, now=T1)
    assert (updated.editors, updated.viewers, updated.version) == (editors, viewers, 4)


def test_owner_cannot_be_a_member() -> None:
    with pytest.raises(ValidationFailed):
        changes.with_member(project(), "owner", MemberRole.EDITOR, now=T1)


def test_member_limit() -> None:
    full = project(editors=tuple(f"e{i}" for i in range(MAX_MEMBERS)), viewers=())
    with pytest.raises(TooManyMembers) as raised:
        changes.with_member(full, "one-more", MemberRole.VIEWER, now=T1)
    assert raised.value.status == 409
    # Changing the role of an existing member of a full project is still fine.
    assert changes.with_member(full, "e0", MemberRole.VIEWER, now=T1).viewers == ("e0",)


def test_without_member() -> None:
    updated = changes.without_member(project(), "vi", now=T1)
    assert (updated.editors, updated.viewers, updated.version) == (("ed",), (), 4)


def test_removing_a_non_member_is_404() -> None:
    with pytest.raises(NotFound):
        changes.without_member(project(), "stranger", now=T1)


@pytest.mark.parametrize(
    ("new_owner", "editors", "viewers"),
    [("ed", ("owner",), ("vi",)), ("vi", ("ed", "owner"), ()), ("x", ("ed", "owner"), ("vi",))],
    ids=["to_editor", "to_viewer", "to_outsider"],
)
def test_transfer_keeps_old_owner_as_editor(new_owner: str, editors: tuple, viewers: tuple) -> None:
    updated = changes.transferred(project(), new_owner, now=T1)
    assert (updated.owner_id, updated.editors, updated.viewers) == (new_owner, editors, viewers)
    assert updated.members[0] == new_owner
    assert updated.version == 4


def full(**overrides: object) -> Project:
    """A project with ``MAX_MEMBERS`` members: 50 editors and 50 viewers."""
    half = MAX_MEMBERS // 2
    return project(
        editors=tuple(f"e{i}" for i in range(half)),
        viewers=tuple(f"v{i}" for i in range(MAX_MEMBERS - half)),
        **overrides,
    )


def test_transfer_of_a_full_project_to_an_outsider_is_409() -> None:
    """Regression (audit): the old owner was appended past the cap; two transfers of a
    full project reached 102 members."""
    with pytest.raises(TooManyMembers) as raised:
        changes.transferred(full(), "outsider", now=T1)
    assert (raised.value.status, raised.value.code) == (409, "too_many_members")


@pytest.mark.parametrize("new_owner", ["e0", "v0"], ids=["to_an_editor", "to_a_viewer"])
def test_transfer_of_a_full_project_to_a_member_keeps_it_full(new_owner: str) -> None:
    updated = changes.transferred(full(), new_owner, now=T1)
    assert len(updated.editors) + len(updated.viewers) == MAX_MEMBERS
    assert updated.owner_id == new_owner
    assert "owner" in updated.editors


def test_repeated_transfers_never_exceed_the_cap() -> None:
    current = full()
    for new_owner in ("e0", "v0", "e1", "outsider-1", "outsider-2"):
        try:
            current = changes.transferred(current, new_owner, now=T1)
        except TooManyMembers:
            continue
        assert len(current.editors) + len(current.viewers) <= MAX_MEMBERS
    assert current.owner_id == "e1"


def test_transfer_to_current_owner_is_400() -> None:
    with pytest.raises(ValidationFailed):
        changes.transferred(project(), "owner", now=T1)


@pytest.mark.parametrize("expected", [None, 3], ids=["no_if_match", "current_version"])
def test_version_check_passes(expected: int | None) -> None:
    changes.check_version(project(), expected)


def test_stale_version_is_412() -> None:
    with pytest.raises(PreconditionFailed) as raised:
        changes.check_version(project(), 2)
    assert raised.value.status == 412
