"""The state an API fuzz run starts from: users, projects, an audit entry, and how a
generated case is pointed at them.

Generated path IDs are almost never real (a random 20-character ID names no project),
so a case may have a generated value swapped for a real one: an owned project, a
project shared with the caller, a real member, a valid cursor, a current ``If-Match``.
Which one is a pure function of the case's own content (a CRC), never of earlier
cases, so Hypothesis can replay and shrink a failure, and schemathesis's coverage
phase (explicit cases, which ``@schema.given`` would switch off) still runs. Projects a
case may change are reset before it, so no case depends on the ones before it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemathesis import Case
from schemathesis.core import NotSet

from store import cursors
from store.models import Project
from store.projects import to_document
from tests.integration.api import Api
from tests.integration.emulator import EmulatorUser, FirestoreEmulator, MakeUser, bearer

#: Methods after which a project may differ from its seeded state.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SEEDED_AT = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class FuzzWorld:
    """Users and projects of one fuzz test; ``caller`` is who every case authenticates as."""

    api: Api
    firestore: FirestoreEmulator
    caller: EmulatorUser
    owner: EmulatorUser
    member: EmulatorUser
    stranger: EmulatorUser
    admin: EmulatorUser
    projects: list[Project] = field(default_factory=list)

    @classmethod
    def build(
        cls, api: Api, firestore: FirestoreEmulator, make_user: MakeUser, *, as_admin: bool
    ) -> FuzzWorld:
        """Three verified users and an admin; the caller is the admin or ``owner``."""
        owner, member, stranger = make_user(), make_user(), make_user()
        admin = make_user(roles=["admin"])
        world = cls(
            api=api,
            firestore=firestore,
            caller=admin if as_admin else owner,
            owner=owner,
            member=member,
            stranger=stranger,
            admin=admin,
            projects=[
                # owner's own, with an editor; one owner may edit; one owner may only read.
                _project(0, "own00000000000000000", owner, editors=(member.uid,)),
                _project(1, "edit0000000000000000", stranger, editors=(owner.uid,)),
                _project(2, "view0000000000000000", stranger, viewers=(owner.uid,)),
            ],
        )
        world.reset_projects()
        if as_admin:
            # One audit entry, so the audit log has a page to serve.
            response = api.call(
                "PUT", f"/admin/users/{stranger.uid}/roles", admin, {"roles": ["auditor"]}
            )
            assert response.status_code == 200, response.get_json()
        return world

    def reset_projects(self) -> None:
        """Put the seeded projects back as they were (version 1, original members)."""
        for project in self.projects:
            self.firestore.set_document(f"projects/{project.id}", to_document(project))

    def prepare(self, case: Case[Any]) -> None:
        """Authenticate ``case`` as the caller, and maybe point it at real things."""
        method = case.method.upper()
        path_parameters = case.path_parameters if case.path_parameters is not None else {}
        if method in WRITES and "project_id" in path_parameters:
            self.reset_projects()
        body = None if isinstance(case.body, NotSet) else case.body
        key = repr((method, case.path, path_parameters, case.query, body))
        members = [self.member.uid, self.stranger.uid, self.owner.uid]
        _swap(key, path_parameters, "project_id", [p.id for p in self.projects])
        if case.path.startswith("/admin/"):
            # Never the admin's own uid for PUT: demoting the caller would revoke its token.
            targets = [self.stranger.uid] + ([] if method == "PUT" else [self.admin.uid])
            _swap(key, path_parameters, "uid", targets)
        else:
            _swap(key, path_parameters, "uid", members)
        if isinstance(case.query, dict):
            _swap(key, case.query, "ownerId", [self.caller.uid, self.stranger.uid])
            _swap(key, case.query, "cursor", [self._cursor()])
            _swap(key, case.query, "email", [self.stranger.email])
        if isinstance(case.body, dict):
            _swap(key, case.body, "ownerId", members)
        headers = case.headers if case.headers is not None else {}
        if any(parameter.name == "If-Match" for parameter in case.operation.headers):
            headers.update(_pick(key, "If-Match", [{}, {"If-Match": '"1"'}, {"If-Match": "*"}]))
        headers.update(bearer(self.caller))
        case.headers = headers

    def _cursor(self) -> str:
        """What the first page of one item would return as ``nextCursor``."""
        newest = max(self.projects, key=lambda p: (p.created_at, p.id))
        return cursors.encode(newest.created_at, newest.id)


def _pick(key: str, name: str, options: list[Any]) -> Any:
    return options[zlib.crc32(f"{name}\0{key}".encode()) % len(options)]


def _swap(key: str, values: dict[str, Any], name: str, real: list[str]) -> None:
    """Keep the generated ``values[name]`` (one time in ``len(real) + 1``) or use a real one."""
    if name in values:
        choice = _pick(key, name, [None, *real])
        if choice is not None:
            values[name] = choice


def _project(
    index: int,
    project_id: str,
    owner: EmulatorUser,
    *,
    editors: tuple[str, ...] = (),
    viewers: tuple[str, ...] = (),
) -> Project:
    created = SEEDED_AT + timedelta(minutes=index)
    return Project(
        id=project_id,
        name=f"Seeded {project_id[:4]}",
        description="seeded for the API fuzz test",
        owner_id=owner.uid,
        editors=editors,
        viewers=viewers,
        created_at=created,
        updated_at=created,
        version=1,
    )
