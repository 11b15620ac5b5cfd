"""Pure state transitions of a project; each bumps ``version`` and ``updatedAt``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import StrEnum

from core.errors import NotFound, PreconditionFailed, TooManyMembers, ValidationFailed
from core.fields import MAX_MEMBERS  # editors plus viewers: defined once
from store.models import Project


class MemberRole(StrEnum):
    EDITOR = "editor"
    VIEWER = "viewer"


def check_version(project: Project, expected: int | None) -> None:
    """``If-Match``: the write applies only to the version the client last saw.

    Raises:
        PreconditionFailed: ``expected`` is set and is not the current version.
    """
    if expected is not None and expected != project.version:
        raise PreconditionFailed(
            f"The project is at version {project.version}, not {expected}; reload and retry."
        )


def edited(
    project: Project, *, now: datetime, name: str | None = None, description: str | None = None
) -> Project:
    return _bumped(
        project,
        now,
        name=project.name if name is None else name,
        description=project.description if description is None else description,
    )


def with_member(project: Project, uid: str, role: MemberRole, *, now: datetime) -> Project:
    """Add ``uid`` with ``role``, or move them to it if already a member.

    Raises:
        ValidationFailed: ``uid`` is the owner.
        TooManyMembers: the project is full.
    """
    if uid == project.owner_id:
        raise ValidationFailed(
            "The owner cannot also be a member.", details={"uid": "is the project's owner"}
        )
    editors = tuple(u for u in project.editors if u != uid)
    viewers = tuple(u for u in project.viewers if u != uid)
    if len(editors) + len(viewers) >= MAX_MEMBERS:
        raise TooManyMembers(f"A project has at most {MAX_MEMBERS} members.")
    if role is MemberRole.EDITOR:
        editors += (uid,)
    else:
        viewers += (uid,)
    return _bumped(project, now, editors=editors, viewers=viewers)


def without_member(project: Project, uid: str, *, now: datetime) -> Project:
    """Raises: NotFound when ``uid`` is not an editor or viewer."""
    if uid not in project.editors and uid not in project.viewers:
        raise NotFound("That user is not a member of this project.")
    return _bumped(
        project,
        now,
        editors=tuple(u for u in project.editors if u != uid),
        viewers=tuple(u for u in project.viewers if u != uid),
    )


def transferred(project: Project, new_owner: str, *, now: datetime) -> Project:
    """Make ``new_owner`` the owner; the previous owner stays on as an editor.

    Raises:
        ValidationFailed: ``new_owner`` already owns the project.
        TooManyMembers: the previous owner would make the project exceed
            ``MAX_MEMBERS`` (a full project can only go to one of its members).
    """
    if new_owner == project.owner_id:
        raise ValidationFailed(
            "That user already owns the project.", details={"ownerId": "is the current owner"}
        )
    editors = (*(u for u in project.editors if u != new_owner), project.owner_id)
    viewers = tuple(u for u in project.viewers if u != new_owner)
    if len(editors) + len(viewers) > MAX_MEMBERS:
        raise TooManyMembers(
            f"A project has at most {MAX_MEMBERS} members, and the previous owner stays on "
            "as an editor: transfer to a member, or remove one first."
        )
    return _bumped(project, now, owner_id=new_owner, editors=editors, viewers=viewers)


def _bumped(project: Project, now: datetime, **changes: object) -> Project:
    return dataclasses.replace(project, **changes, updated_at=now, version=project.version + 1)  # type: ignore[arg-type]
