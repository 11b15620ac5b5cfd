"""The chaos run's verdicts: pure functions over the recorded calls, the outages and
the stored state (no I/O, so each can be tested on hand-made records).

How "every acknowledged write is present afterwards" is decided, per project or task:

- a write's outcome is *acknowledged* (2xx), *refused* (a 4xx while no emulator was
  being cut: nothing was written) or *unknown* (no answer, a 5xx, or any answer to a
  request that was in flight at the instant a gate was cut: its commit may have
  landed with the answer lost);
- acknowledged creates and updates must be there, at a version no lower than the
  highest acknowledged one, and with exactly the acknowledged content at that
  version; acknowledged deletes must stay deleted; a version above the highest
  acknowledged one needs a write of unknown outcome to explain it;
- a document no acknowledged write names must carry the tag of a create whose outcome
  was unknown (it was applied, the answer lost); else it came from nowhere;
- the same rules are applied to the state saved just before each kill (with the
  writes acknowledged until that cut) and to the state read back at the end.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.chaos_traffic import Call

#: 503 codes each emulator's outage may cause.
OUTAGE_CODES = {"firestore": "unavailable", "auth": "auth_unavailable"}
#: Statuses that mean the client (this run) or the contract is broken, never load.
CONTRACT_CODES = {"validation_error", "invalid_json", "idempotency_key_reused"}


@dataclass
class Outage:
    """One emulator killed and restarted, as the run saw it (wall-clock times)."""

    kind: str  # "firestore" | "auth"
    cut: float  # the gate closed: from here the backend cannot reach the emulator
    killed: float = 0.0
    saved_in: float = 0.0  # seconds to read the whole state and export it, after the cut
    restarted_in: float = 0.0  # seconds from starting the new process to it listening
    verified_in: float = 0.0  # seconds to read the restarted emulator's state back
    back: float = 0.0  # the gate open again, onto the restarted emulator
    recovered: float | None = None  # end of the first successful probe after ``back``
    first_success: float | None = None  # end of the first successful traffic request
    preserved: bool | None = None  # the restarted emulator holds what the killed one held
    preserved_detail: str = ""
    documents: int = 0
    epoch: int = 0

    @property
    def window_end(self) -> float:
        return self.recovered if self.recovered is not None else float("inf")

    def overlaps(self, call: Call) -> bool:
        return call.start <= self.window_end and call.end >= self.cut


@dataclass
class Check:
    name: str
    ok: bool
    summary: str
    problems: list[str] = field(default_factory=list)


def _limited(problems: list[str], limit: int = 12) -> list[str]:
    if len(problems) <= limit:
        return problems
    return [*problems[:limit], f"... and {len(problems) - limit} more"]


# --- statuses -----------------------------------------------------------------------------


Revocation = tuple[str | None, float, float, float]


def expected_revocation(call: Call, uid: str, revocations: Sequence[Revocation]) -> bool:
    """A ``401 token_revoked`` is expected when the token predates a revocation of its
    user (a role removal, or the Auth emulator's import) that had begun by then."""
    return any(
        who in (None, uid) and start <= call.end and call.token_iat <= end + slack
        for who, start, end, slack in revocations
    )


def check_statuses(
    calls: Sequence[Call],
    outages: Sequence[Outage],
    revocations: Sequence[Revocation],
    uids: Mapping[str, str],
) -> list[Check]:
    """No 5xx but 503s of the emulator that was down, each with Retry-After; every request
    answered; 401s only for tokens a revocation covered; no contract errors."""
    server, retry, answered, unauthorized, contract = [], [], [], [], []
    expected_503 = expected_401 = 0
    for call in calls:
        where = f"{call.actor} {call.method} {call.path} at {call.start:.1f}"
        if call.status is None:
            answered.append(f"{where}: no answer ({call.error})")
            continue
        if call.status >= 500:
            during = [o for o in outages if o.overlaps(call) and OUTAGE_CODES[o.kind] == call.code]
            if call.status != 503 or not during:
                server.append(f"{where}: {call.status} {call.code} (request {call.request_id})")
                continue
            expected_503 += 1
            if not (call.retry_after or "").isdigit() or int(call.retry_after or 0) < 1:
                retry.append(f"{where}: 503 {call.code} with Retry-After {call.retry_after!r}")
        elif call.status == 401:
            if call.code == "token_revoked" and expected_revocation(
                call, uids[call.actor], revocations
            ):
                expected_401 += 1
            else:
                unauthorized.append(f"{where}: 401 {call.code}")
        elif call.status in (415, 422) or call.code in CONTRACT_CODES:
            contract.append(f"{where}: {call.status} {call.code}")
    fives = sum(1 for c in calls if c.status is not None and c.status >= 500)
    return [
        Check(
            "no 5xx except 503 during an outage",
            not server,
            f"{fives} 5xx, {expected_503} of them 503s of the emulator that was down",
            _limited(server),
        ),
        Check(
            "every 503 carries Retry-After",
            not retry,
            f"{expected_503} 503s checked",
            _limited(retry),
        ),
        Check(
            "every request answered",
            not answered,
            f"{len(calls)} requests, {len(answered)} without an HTTP answer",
            _limited(answered),
        ),
        Check(
            "401 only for revoked sessions",
            not unauthorized,
            f"{expected_401} expected 401 token_revoked (role removal, Auth import), "
            f"{len(unauthorized)} other",
            _limited(unauthorized),
        ),
        Check(
            "no contract errors (400 validation, 415, 422)",
            not contract,
            f"{len(contract)} found",
            _limited(contract),
        ),
    ]


# --- stored state ----------------------------------------------------------------------------


def firestore_value(value: Mapping[str, Any]) -> Any:
    """A Firestore REST typed value as plain Python."""
    if "stringValue" in value:
        return value["stringValue"]
    if "integerValue" in value:
        return int(value["integerValue"])
    if "booleanValue" in value:
        return value["booleanValue"]
    if "nullValue" in value:
        return None
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "timestampValue" in value:
        return value["timestampValue"]
    if "arrayValue" in value:
        return [firestore_value(v) for v in value["arrayValue"].get("values", [])]
    if "mapValue" in value:
        return {k: firestore_value(v) for k, v in value["mapValue"].get("fields", {}).items()}
    raise ValueError(f"unexpected Firestore value {value!r}")


def plain_documents(dump: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        path: {k: firestore_value(v) for k, v in fields.items()} for path, fields in dump.items()
    }


def _instant(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).isoformat()
    return text


def canonical(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A state with its time in one spelling (Firestore's ``...Z`` and the API's ``+00:00``)."""
    if state is None:
        return None
    return {k: (_instant(v) if k == "updatedAt" else v) for k, v in state.items()}


def is_project(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 2 and parts[0] == "projects"


def is_task(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 4 and parts[0] == "projects" and parts[2] == "tasks"


def parent(path: str) -> str:
    return "/".join(path.split("/")[:2])


def resource_states(
    documents: Mapping[str, Mapping[str, Any]], fields: Iterable[str], test: Any
) -> dict[str, dict[str, Any]]:
    names = list(fields)
    return {
        path: canonical({name: doc.get(name) for name in names})  # type: ignore[misc]
        for path, doc in documents.items()
        if test(path)
    }


# --- histories -----------------------------------------------------------------------------------


def outcome(call: Call, cuts: Sequence[float], until: float) -> str:
    """``acked``, ``refused`` or ``unknown``, as known at ``until`` (see the module doc)."""
    if call.end > until:
        return "unknown"  # in flight at the snapshot
    if call.acknowledged:
        return "acked"
    in_flight_at_cut = any(call.start <= cut <= call.end for cut in cuts)
    if call.status is None or call.status >= 500 or in_flight_at_cut:
        return "unknown"
    return "refused"


@dataclass
class History:
    acked: dict[int, dict[str, Any]] = field(default_factory=dict)
    deleted: bool = False
    delete_unknown: bool = False
    unknown_writes: int = 0


def histories(
    calls: Sequence[Call], cuts: Sequence[float], until: float
) -> tuple[dict[str, History], dict[str, str]]:
    """Per resource, what the writes started by ``until`` established; and per creation
    tag, the outcome of its creates (``acked`` beats ``unknown`` beats ``refused``)."""
    found: dict[str, History] = defaultdict(History)
    tags: dict[str, str] = {}
    rank = {"refused": 0, "unknown": 1, "acked": 2}
    for call in calls:
        if call.write is None or call.write == "roles" or call.start > until:
            continue
        result = outcome(call, cuts, until)
        if call.tag is not None and rank[result] >= rank.get(tags.get(call.tag, "refused"), 0):
            tags[call.tag] = result
        if call.resource is None:
            continue
        history = found[call.resource]
        if result == "acked":
            if call.write == "delete":
                history.deleted = True
            for path, state in call.seen:
                if path == call.resource and state is not None:
                    history.acked[int(state["version"])] = canonical(state)  # type: ignore[assignment]
        elif result == "unknown":
            history.unknown_writes += 1
            if call.write == "delete":
                history.delete_unknown = True
    return dict(found), tags


def check_state(
    label: str,
    calls: Sequence[Call],
    cuts: Sequence[float],
    until: float,
    stored: Mapping[str, dict[str, Any]],
) -> Check:
    """Every write acknowledged by ``until`` is in ``stored`` (path -> canonical state of
    every project and task), and nothing is there that no write explains."""
    found, tags = histories(calls, cuts, until)
    problems: list[str] = []
    unacked_applied = checked = 0
    deleted_projects = {p for p, h in found.items() if is_project(p) and h.deleted}
    maybe_deleted = {p for p, h in found.items() if is_project(p) and h.delete_unknown}
    for path, history in sorted(found.items()):
        actual = stored.get(path)
        checked += 1
        gone_parent = is_task(path) and parent(path) in deleted_projects
        maybe_gone = history.delete_unknown or (is_task(path) and parent(path) in maybe_deleted)
        if history.deleted or gone_parent:
            if actual is not None:
                problems.append(f"{path}: acknowledged delete undone (stored v{actual['version']})")
            continue
        if actual is None:
            if history.acked and not maybe_gone:
                problems.append(f"{path}: acknowledged v{max(history.acked)} missing")
            continue
        if not history.acked:
            continue  # only unknown outcomes: judged below with the untraced documents
        top = max(history.acked)
        version = int(actual["version"])
        if version < top:
            problems.append(f"{path}: stored v{version} behind acknowledged v{top}")
        elif version == top and actual != history.acked[top]:
            problems.append(f"{path}: v{top} stored {actual} but acknowledged {history.acked[top]}")
        elif version > top:
            if history.unknown_writes:
                unacked_applied += 1
            else:
                problems.append(
                    f"{path}: v{version} above acknowledged v{top} with no write to explain it"
                )
    untraced = 0
    for path, actual in sorted(stored.items()):
        if path in found and found[path].acked:
            continue
        tag = actual.get("description") if is_project(path) else actual.get("notes")
        result = tags.get(tag) if isinstance(tag, str) else None
        if result in ("unknown", "acked"):
            unacked_applied += result == "unknown"
            continue
        untraced += 1
        why = "its create was refused" if result == "refused" else "no request made it"
        problems.append(f"{path}: stored v{actual.get('version')} but {why}")
    return Check(
        f"acknowledged writes present ({label})",
        not problems,
        f"{checked} written resources checked against {len(stored)} stored; "
        f"{unacked_applied} applied by writes of unknown outcome; {untraced} untraced",
        _limited(problems),
    )


def check_versions(calls: Sequence[Call], final: Mapping[str, dict[str, Any]]) -> Check:
    """One content per (resource, version) across every answer and the final state, and no
    read by a person going behind a version that person had been acknowledged."""
    states: dict[tuple[str, int], dict[str, Any]] = {}
    problems: list[str] = []
    observations: list[tuple[str, dict[str, Any] | None, Call | None]] = [
        (path, canonical(state), call) for call in calls for path, state in call.seen if state
    ]
    observations += [(path, state, None) for path, state in final.items()]
    for path, state, call in observations:
        assert state is not None
        key = (path, int(state["version"]))
        known = states.setdefault(key, state)
        if known != state:
            who = f" ({call.actor} {call.action})" if call else " (final read-back)"
            problems.append(f"{path} v{key[1]}: two contents{who}: {known} / {state}")
    acknowledged: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for call in calls:
        if call.write is not None and call.acknowledged:
            for path, state in call.seen:
                if path == call.resource and state is not None:
                    acknowledged[(call.actor, path)].append((call.end, int(state["version"])))
    for call in calls:
        if call.write is not None or not call.acknowledged:
            continue
        for path, state in call.seen:
            mine = [v for end, v in acknowledged.get((call.actor, path), []) if end < call.start]
            if state is not None and mine and int(state["version"]) < max(mine):
                problems.append(
                    f"{call.actor} read {path} at v{state['version']} after being "
                    f"acknowledged v{max(mine)}"
                )
    return Check(
        "versions consistent",
        not problems,
        f"{len(states)} (resource, version) pairs seen, each with one content; "
        "reads never behind the reader's own acknowledged writes",
        _limited(problems),
    )


def check_documents(
    documents: Mapping[str, Mapping[str, Any]],
    calls: Sequence[Call],
    cuts: Sequence[float],
    until: float,
    readable_orphans: Sequence[str],
) -> tuple[Check, list[str]]:
    """No half-applied change in the store: each project's ``members`` is exactly owner +
    editors + viewers; each task names its parent; at most one project per creation tag;
    tasks whose project is gone only after a delete of unknown outcome, never readable."""
    problems: list[str] = []
    projects = {p: d for p, d in documents.items() if is_project(p)}
    tasks = {p: d for p, d in documents.items() if is_task(p)}
    for path, doc in sorted(projects.items()):
        owner, editors, viewers = doc.get("ownerId"), doc.get("editors", []), doc.get("viewers", [])
        members = doc.get("members", [])
        expected = [owner, *editors, *viewers]
        if sorted(members) != sorted(expected) or len(set(expected)) != len(expected):
            problems.append(
                f"{path}: members {members} but owner {owner}, editors {editors}, viewers {viewers}"
            )
    by_tag: dict[str, list[str]] = defaultdict(list)
    for path, doc in projects.items():
        if isinstance(doc.get("description"), str):
            by_tag[doc["description"]].append(path)
    for tag, paths in sorted(by_tag.items()):
        if tag.startswith("chaos:") and len(paths) > 1:
            problems.append(f"{tag}: {len(paths)} projects from one idempotent create: {paths}")
    acked_ids: dict[str, set[str]] = defaultdict(set)
    for call in calls:
        if (
            call.write == "create"
            and call.acknowledged
            and call.resource
            and is_project(call.resource)
        ):
            acked_ids[call.tag or ""].add(call.resource)
    for tag, paths_acked in sorted(acked_ids.items()):
        if len(paths_acked) > 1:
            problems.append(
                f"{tag}: creates acknowledged with different projects {sorted(paths_acked)}"
            )
    found, _ = histories(calls, cuts, until)
    orphans = sorted(p for p in tasks if parent(p) not in projects)
    for path in orphans:
        history = found.get(parent(path))
        if history is not None and history.deleted and not history.delete_unknown:
            problems.append(f"{path}: task left behind by an acknowledged project delete")
    for path, doc in sorted(tasks.items()):
        if doc.get("projectId") != path.split("/")[1]:
            problems.append(f"{path}: projectId {doc.get('projectId')!r} is not its parent")
    problems += [
        f"{path}: readable through the API though its project is gone" for path in readable_orphans
    ]
    return (
        Check(
            "no half-applied change",
            not problems,
            f"{len(projects)} projects' members arrays and {len(tasks)} tasks checked; "
            f"{len(orphans)} tasks under a deleted project (interrupted cascades), "
            f"{len(readable_orphans)} of them readable",
            _limited(problems),
        ),
        orphans,
    )


def check_roles(
    calls: Sequence[Call],
    cuts: Sequence[float],
    final_roles: Sequence[str],
    audit: Mapping[str, str],
) -> Check:
    """The target's roles are those of the last acknowledged change (or of a later one of
    unknown outcome); every acknowledged change has an ``applied`` audit entry."""
    changes = sorted((c for c in calls if c.write == "roles"), key=lambda c: c.start)
    problems: list[str] = []
    acked = [c for c in changes if c.acknowledged]
    if acked:
        last = acked[-1]
        later_unknown = [
            c
            for c in changes
            if c.start > last.start and outcome(c, cuts, float("inf")) == "unknown"
        ]
        allowed = [sorted(last.roles or [])] + [sorted(c.roles or []) for c in later_unknown]
        if sorted(final_roles) not in allowed:
            problems.append(f"roles {sorted(final_roles)}, expected one of {allowed}")
    for call in acked:
        state = audit.get(call.request_id or "")
        if state != "applied":
            problems.append(
                f"role change {call.request_id} at {call.start:.1f}: audit entry {state}"
            )
    return Check(
        "role changes applied and audited",
        not problems,
        f"{len(changes)} role changes, {len(acked)} acknowledged; "
        f"final roles {sorted(final_roles)}",
        _limited(problems),
    )


def check_restarts(outages: Sequence[Outage], limit: float) -> list[Check]:
    problems = [
        f"{o.kind} restart {o.epoch}: {o.preserved_detail}" for o in outages if not o.preserved
    ]
    slow = [
        f"{o.kind} restart {o.epoch}: "
        + (
            "never recovered"
            if o.recovered is None
            else f"recovered after {o.recovered - o.back:.1f} s"
        )
        for o in outages
        if o.recovered is None or o.recovered - o.back > limit
    ]
    return [
        Check(
            "restarts kept the data",
            not problems,
            f"{len(outages)} restarts; state compared before the kill and after the restart",
            problems,
        ),
        Check(
            f"recovered within {limit:.0f} s of each restart",
            not slow,
            ", ".join(
                f"{o.kind} {o.recovered - o.back:.2f} s" for o in outages if o.recovered is not None
            ),
            slow,
        ),
    ]
