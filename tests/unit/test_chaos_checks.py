"""The chaos run's verdicts (bench/chaos_check.py) on hand-made records: each rule
must fail on the record that breaks it, or the run could pass by not looking."""

from __future__ import annotations

from typing import Any

import pytest

from bench.chaos_check import (
    Outage,
    canonical,
    check_documents,
    check_roles,
    check_state,
    check_statuses,
    check_versions,
)
from bench.chaos_traffic import Call

P = "projects/p1"
T = "projects/p1/tasks/t1"
UIDS = {"alice": "u-alice", "dave": "u-dave"}


def project(version: int, name: str = "n", **extra: Any) -> dict[str, Any]:
    state = {
        "name": name,
        "description": "chaos:k1",
        "ownerId": "u-alice",
        "editors": [],
        "viewers": [],
        "updatedAt": f"2026-01-01T00:00:0{version}+00:00",
        "version": version,
    }
    return {**state, **extra}


def call(
    start: float,
    end: float,
    status: int | None,
    *,
    write: str | None = None,
    resource: str | None = None,
    seen: list[tuple[str, Any]] | None = None,
    actor: str = "alice",
    code: str | None = None,
    retry_after: str | None = None,
    tag: str | None = None,
    token_iat: int = 0,
    roles: list[str] | None = None,
    request_id: str | None = None,
) -> Call:
    made = Call(actor, "action", "GET", "/x", start=start, end=end, status=status, code=code)
    made.write, made.resource, made.seen, made.tag = write, resource, seen or [], tag
    made.retry_after, made.token_iat, made.roles = retry_after, token_iat, roles
    made.request_id = request_id
    return made


def firestore_outage(cut: float = 10, recovered: float = 20) -> Outage:
    return Outage("firestore", cut=cut, back=recovered - 1, recovered=recovered)


# --- statuses ---------------------------------------------------------------------------

STATUS_CASES = [
    ("503_of_the_down_emulator_with_retry_after", 503, "unavailable", "1", 12, 0, True),
    ("503_outside_any_outage", 503, "unavailable", "1", 30, 0, False),
    ("503_auth_code_while_firestore_was_down", 503, "auth_unavailable", "1", 12, 0, False),
    ("500_during_an_outage", 500, "internal", None, 12, 0, False),
    ("503_without_retry_after", 503, "unavailable", None, 12, 1, False),
    ("no_answer", None, None, None, 30, 2, False),
]


@pytest.mark.parametrize(
    ("status", "code", "retry_after", "start", "check", "ok"),
    [case[1:] for case in STATUS_CASES],
    ids=[case[0] for case in STATUS_CASES],
)
def test_statuses(
    status: int | None,
    code: str | None,
    retry_after: str | None,
    start: float,
    check: int,
    ok: bool,
) -> None:
    calls = [call(start, start + 1, status, code=code, retry_after=retry_after)]
    checks = check_statuses(calls, [firestore_outage()], [], UIDS)
    assert checks[check].ok is ok, checks[check]
    assert all(c.ok for i, c in enumerate(checks) if i != check)


REVOCATION_CASES = [
    ("token_from_before_a_role_removal", "token_revoked", 100, True),
    ("token_issued_after_the_removal_and_its_slack", "token_revoked", 110, False),
    ("other_401_codes_are_never_expected", "invalid_token", 100, False),
]


@pytest.mark.parametrize(
    ("code", "iat", "ok"),
    [case[1:] for case in REVOCATION_CASES],
    ids=[case[0] for case in REVOCATION_CASES],
)
def test_revoked_sessions(code: str, iat: int, ok: bool) -> None:
    calls = [call(105, 106, 401, actor="dave", code=code, token_iat=iat)]
    revocations = [("u-dave", 101.0, 102.0, 3.0)]
    checks = check_statuses(calls, [], revocations, UIDS)
    assert checks[3].ok is ok, checks[3]


# --- acknowledged writes ------------------------------------------------------------------


def create(version_state: dict[str, Any], start: float = 1, end: float = 2) -> Call:
    return call(
        start, end, 201, write="create", resource=P, seen=[(P, version_state)], tag="chaos:k1"
    )


def stored(*states: tuple[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {path: canonical(state) for path, state in states}  # type: ignore[misc]


STATE_CASES: list[tuple[str, list[Call], dict[str, dict[str, Any]], bool]] = [
    ("acked_create_present", [create(project(1))], stored((P, project(1))), True),
    ("acked_create_missing", [create(project(1))], {}, False),
    (
        "acked_delete_undone",
        [create(project(1)), call(3, 4, 204, write="delete", resource=P)],
        stored((P, project(1))),
        False,
    ),
    (
        "delete_of_unknown_outcome_may_have_landed",
        [create(project(1)), call(3, 4, 503, write="delete", resource=P)],
        {},
        True,
    ),
    (
        "stored_version_behind_the_acked_one",
        [create(project(1)), call(3, 4, 200, write="update", resource=P, seen=[(P, project(2))])],
        stored((P, project(1))),
        False,
    ),
    (
        "same_version_other_content",
        [create(project(1))],
        stored((P, project(1, name="other"))),
        False,
    ),
    (
        "version_above_acked_with_no_write_to_explain",
        [create(project(1))],
        stored((P, project(2))),
        False,
    ),
    (
        "version_above_acked_explained_by_a_503_write",
        [create(project(1)), call(3, 4, 503, write="update", resource=P)],
        stored((P, project(2))),
        True,
    ),
    (
        "412_in_flight_at_a_cut_is_of_unknown_outcome",
        [create(project(1)), call(9, 11, 412, write="update", resource=P)],
        stored((P, project(2))),
        True,
    ),
    (
        "document_from_a_create_whose_answer_was_lost",
        [call(1, 2, None, write="create", tag="chaos:k1")],
        stored((P, project(1))),
        True,
    ),
    (
        "document_from_a_refused_create",
        [call(1, 2, 403, write="create", tag="chaos:k1")],
        stored((P, project(1))),
        False,
    ),
    ("document_no_request_made", [], stored((P, project(1))), False),
    (
        "task_of_an_acked_deleted_project_still_there",
        [
            create(project(1)),
            call(3, 4, 201, write="create", resource=T, seen=[(T, {"version": 1, "notes": "x"})]),
            call(5, 6, 204, write="delete", resource=P),
        ],
        stored((T, {"version": 1, "notes": "x"})),
        False,
    ),
]


@pytest.mark.parametrize(
    ("calls", "state", "ok"),
    [case[1:] for case in STATE_CASES],
    ids=[case[0] for case in STATE_CASES],
)
def test_acknowledged_writes(calls: list[Call], state: dict[str, Any], ok: bool) -> None:
    result = check_state("test", calls, [10.0], 100.0, state)
    assert result.ok is ok, result


def test_a_snapshot_counts_only_writes_acknowledged_before_it() -> None:
    calls = [
        create(project(1)),
        call(8, 12, 200, write="update", resource=P, seen=[(P, project(2))]),
    ]
    assert check_state("at the cut", calls, [10.0], 10.0, stored((P, project(1)))).ok
    assert check_state("at the cut", calls, [10.0], 10.0, stored((P, project(2)))).ok
    assert not check_state("at the end", calls, [10.0], 100.0, stored((P, project(1)))).ok


# --- versions ------------------------------------------------------------------------------


def test_one_content_per_version() -> None:
    calls = [call(1, 2, 200, seen=[(P, project(3))]), call(3, 4, 200, seen=[(P, project(3, "b"))])]
    assert not check_versions(calls, {}).ok
    assert check_versions(calls[:1], stored((P, project(3)))).ok


def test_reads_never_behind_the_readers_acknowledged_write() -> None:
    write = call(1, 2, 200, write="update", resource=P, seen=[(P, project(4))])
    late_read = call(3, 4, 200, seen=[(P, project(3))])
    overlapping_read = call(1.5, 2.5, 200, seen=[(P, project(3))])
    assert not check_versions([write, late_read], {}).ok
    assert check_versions([write, overlapping_read], {}).ok


# --- stored documents ----------------------------------------------------------------------


def doc(**fields: Any) -> dict[str, Any]:
    return {
        "ownerId": "a",
        "editors": ["b"],
        "viewers": ["c"],
        "members": ["a", "b", "c"],
        **fields,
    }


DOCUMENT_CASES: list[tuple[str, dict[str, Any], list[Call], list[str], bool]] = [
    ("consistent", {P: doc()}, [], [], True),
    ("members_missing_an_editor", {P: doc(members=["a", "c"])}, [], [], False),
    ("member_listed_twice", {P: doc(viewers=["b"], members=["a", "b", "b"])}, [], [], False),
    (
        "orphan_task_after_a_delete_of_unknown_outcome",
        {T: {"projectId": "p1"}},
        [call(1, 2, 503, write="delete", resource=P)],
        [],
        True,
    ),
    (
        "orphan_task_after_an_acknowledged_delete",
        {T: {"projectId": "p1"}},
        [call(1, 2, 204, write="delete", resource=P)],
        [],
        False,
    ),
    (
        "orphan_task_readable",
        {T: {"projectId": "p1"}},
        [call(1, 2, 503, write="delete", resource=P)],
        [T],
        False,
    ),
    ("task_naming_another_parent", {P: doc(), T: {"projectId": "p2"}}, [], [], False),
    (
        "two_projects_from_one_idempotent_create",
        {P: doc(description="chaos:k"), "projects/p2": doc(description="chaos:k")},
        [],
        [],
        False,
    ),
]


@pytest.mark.parametrize(
    ("documents", "calls", "readable", "ok"),
    [case[1:] for case in DOCUMENT_CASES],
    ids=[case[0] for case in DOCUMENT_CASES],
)
def test_no_half_applied_change(
    documents: dict[str, Any], calls: list[Call], readable: list[str], ok: bool
) -> None:
    result, _ = check_documents(documents, calls, [], 100.0, readable)
    assert result.ok is ok, result


# --- roles -------------------------------------------------------------------------------------

ROLE_CASES = [
    ("final_roles_of_the_last_acked_change", ["auditor"], {"r1": "applied", "r2": "applied"}, True),
    ("final_roles_of_an_earlier_change", [], {"r1": "applied", "r2": "applied"}, False),
    (
        "acked_change_never_audited_as_applied",
        ["auditor"],
        {"r1": "applied", "r2": "pending"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("final", "audit", "ok"),
    [case[1:] for case in ROLE_CASES],
    ids=[case[0] for case in ROLE_CASES],
)
def test_role_changes(final: list[str], audit: dict[str, str], ok: bool) -> None:
    calls = [
        call(1, 2, 200, write="roles", roles=[], request_id="r1"),
        call(3, 4, 200, write="roles", roles=["auditor"], request_id="r2"),
    ]
    assert check_roles(calls, [], final, audit).ok is ok


def test_a_later_role_change_of_unknown_outcome_may_have_landed() -> None:
    calls = [
        call(1, 2, 200, write="roles", roles=["auditor"], request_id="r1"),
        call(3, 4, 503, write="roles", roles=[]),
    ]
    assert check_roles(calls, [], [], {"r1": "applied"}).ok
