"""``python -m bench.chaos [--minutes N]``: a chaos run. Use ``bench/chaos``, which
prepares the environment (as ``bench/run`` does).

Six people (two owners, two editors, a viewer, an admin) drive mixed traffic, each on
a thread, against the backend (functions-framework serving ``main.py``'s ``local``
target, a separate process, reached only over HTTP), while the Firestore emulator is
killed (SIGKILL) and restarted on the same port twice and the Auth emulator once.
Each restart carries the data over (export, then import: see
``bench/chaos_emulators.py``); a gate in front of each emulator (``bench/gate.py``)
is cut first, so the export holds everything the backend could have acknowledged.

Then it checks (``bench/chaos_check.py``): no 5xx but 503s of the emulator that was
down, each with ``Retry-After``; every acknowledged write present, both in the state
saved before each kill and in what the admin reads back at the end; no half-applied
change; versions consistent; role changes applied and audited; each restart kept the
data; and the time to recover after each restart. Exit status 1 if a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import env
from bench.chaos_check import (
    Check,
    Outage,
    check_documents,
    check_restarts,
    check_roles,
    check_state,
    check_statuses,
    check_versions,
    is_project,
    is_task,
    plain_documents,
    resource_states,
)
from bench.chaos_emulators import AuthEmulator, FirestoreEmulator
from bench.chaos_traffic import (
    PEOPLE,
    PROJECT_FIELDS,
    ROLE_TARGET,
    TASK_FIELDS,
    Actor,
    Call,
    Client,
    Recorder,
    Shared,
    Users,
    World,
    now,
    probe,
    project_state,
    task_state,
)

#: Reads around an export, after the gate is cut, until the emulator has settled.
QUIESCE_ROUNDS = 10

PROJECT = "demo-chaos"
#: The backend's settings for the run. Shorter Firestore/Auth timeouts than the
#: defaults (10 s) so that a restart of a few seconds produces 503s, not only slow
#: successes; ordinary users' records re-checked every 10 s (default 60) so that the
#: Auth outage reaches them too.
BACKEND_SETTINGS = {
    "FIRESTORE_TIMEOUT_SECONDS": "3",
    "AUTH_TIMEOUT_SECONDS": "3",
    "REVOCATION_CHECK_MAX_AGE_SECONDS": "10",
}
#: (emulator, when as a fraction of the run): kills in this order.
SCHEDULE = [("firestore", 0.2), ("auth", 0.45), ("firestore", 0.7)]
#: A restart must be recovered from within this many seconds.
RECOVERY_LIMIT = 60.0


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="bench/chaos", description=__doc__)
    parser.add_argument("--minutes", type=float, default=3.0, help="traffic time (default 3)")
    parser.add_argument(
        "--outage", type=float, default=5.0, help="seconds each emulator is at least away"
    )
    parser.add_argument("--seed", type=int, default=None, help="the traffic's random seed")
    parser.add_argument(
        "--drop-data",
        action="store_true",
        help="self-test of the checks: restart the Firestore emulator empty; the run must fail",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=env.REPO_ROOT / ".cache" / "chaos" / "results.json",
        help="where to write the figures and verdicts as JSON",
    )
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
    env.log(f"chaos run: {args.minutes:g} min, seed {seed}; logs in {workdir}")
    run = Run(workdir, minutes=args.minutes, min_outage=args.outage, seed=seed, drop=args.drop_data)
    with run.environment():
        run.traffic()
        checks = run.verdicts()
    results = run.results(checks)
    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str))
    with (workdir / "calls.jsonl").open("w") as out:
        for call in run.recorder.snapshot():
            out.write(json.dumps(asdict(call), default=str) + "\n")
    env.log(f"wrote {args.out}")
    return 0 if all(check.ok for check in checks) else 1


class Run:
    def __init__(
        self, workdir: Path, *, minutes: float, min_outage: float, seed: int, drop: bool
    ) -> None:
        self.workdir = workdir
        self.drop = drop
        self.seconds = minutes * 60
        self.min_outage = min_outage
        self.seed = seed
        self.firestore = FirestoreEmulator(workdir, PROJECT)
        self.auth = AuthEmulator(workdir, PROJECT)
        self.firestore_gate_port = env.free_port()
        self.auth_gate_port = env.free_port()
        self.users = Users(PROJECT)
        self.recorder = Recorder()
        self.readback = Recorder()
        self.outages: list[Outage] = []
        self.snapshots: list[tuple[Outage, dict[str, dict[str, Any]]]] = []
        self.final: dict[str, Any] = {}
        self.started = self.ended = 0.0
        self.server: env.Server | None = None
        self.shared: Shared | None = None
        self.actors: list[Actor] = []

    # --- set-up ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        from bench.gate import Gate

        gates: list[Gate] = []
        try:
            starting = [
                threading.Thread(target=self.firestore.start),
                threading.Thread(target=self.auth.start),
            ]
            for thread in starting:
                thread.start()
            for thread in starting:
                thread.join()
            if not (env.port_open(self.firestore.port) and env.port_open(self.auth.port)):
                raise RuntimeError(f"the emulators did not start (logs in {self.workdir})")
            self.firestore_gate = Gate(self.firestore_gate_port, self.firestore.port, "firestore")
            self.auth_gate = Gate(self.auth_gate_port, self.auth.port, "auth")
            gates += [self.firestore_gate, self.auth_gate]
            for gate in gates:
                gate.open()
            env.log(
                f"emulators: firestore :{self.firestore.port} (gate :{self.firestore_gate_port}),"
                f" auth :{self.auth.port} (gate :{self.auth_gate_port})"
            )
            self.users.seed(self.auth.host)
            for name in PEOPLE:
                if not self.users.sign_in(name, self.auth.host):
                    raise RuntimeError(f"could not sign {name} in")
            extra = {
                "FIREBASE_PROJECT_ID": PROJECT,
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "FIREBASE_AUTH_EMULATOR_HOST": f"127.0.0.1:{self.auth_gate_port}",
                "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{self.firestore_gate_port}",
                **BACKEND_SETTINGS,
            }
            with env.serve(
                extra, source="main.py", target="local", logdir=self.workdir, name="backend"
            ) as server:
                self.server = server
                env.log(f"backend on {server.url}")
                yield
        finally:
            for gate in gates:
                gate.close()
            self.firestore.kill()
            self.auth.kill()

    # --- the run ----------------------------------------------------------------------------

    def traffic(self) -> None:
        assert self.server is not None
        stop = threading.Event()
        self.shared = Shared(
            base_url=self.server.url,
            users=self.users,
            recorder=self.recorder,
            world=World(),
            auth_host=f"127.0.0.1:{self.auth_gate_port}",
            stop=stop,
        )
        self._warm_up()
        self.started = now()
        self.actors = [
            Actor(name, self.shared, self.seed * 10 + n) for n, name in enumerate(PEOPLE)
        ]
        for actor in self.actors:
            actor.start()
        env.log(f"traffic: {len(self.actors)} people for {self.seconds:.0f} s")
        try:
            last_recovered = self.started
            for kind, at in SCHEDULE:
                self._sleep_until(max(self.started + at * self.seconds, last_recovered + 3))
                outage = self.outage(kind)
                last_recovered = outage.recovered or now()
            tail = max(5.0, 0.1 * self.seconds)
            self._sleep_until(max(self.started + self.seconds, last_recovered + tail))
        finally:
            stop.set()
            for actor in self.actors:
                actor.join(timeout=60)
            self.ended = now()
        stuck = [a.person for a in self.actors if a.is_alive()]
        failed = [f"{a.person}: {a.failure!r}" for a in self.actors if a.failure]
        if stuck or failed:
            raise RuntimeError(f"traffic threads failed: stuck {stuck}, raised {failed}")
        env.log(f"traffic done: {len(self.recorder.calls)} requests")

    def _warm_up(self) -> None:
        """Each person through the backend until Auth and Firestore answer: the backend's
        first Firestore call (client and channel set-up) can exceed the run's 3 s timeout
        on a busy machine, which is a cold start, not the chaos this run is about."""
        assert self.shared is not None
        deadline = now() + 60
        for name in PEOPLE:
            client = Client(self.shared.base_url, name, self.users, Recorder())
            for path in ("/me", "/projects?limit=1"):
                while not (call := client.call("warm_up", "GET", path)[0]).acknowledged:
                    if now() > deadline:
                        raise RuntimeError(
                            f"warm-up GET {path} as {name}: {call.status} {call.code}"
                        )
                    time.sleep(0.5)

    @staticmethod
    def _sleep_until(when: float) -> None:
        while (left := when - now()) > 0:
            time.sleep(min(left, 0.5))

    def outage(self, kind: str) -> Outage:
        """Cut, save, kill, restart with the data, reopen; then time the recovery."""
        assert self.shared is not None
        assert self.server is not None
        emulator = self.firestore if kind == "firestore" else self.auth
        gate = self.firestore_gate if kind == "firestore" else self.auth_gate
        outage = Outage(kind, cut=now(), epoch=len(self.outages) + 1)
        self.outages.append(outage)
        gate.cut()
        # A commit the emulator received just before the cut may still land while it is
        # read: read and export until two reads around an export agree (it settles at
        # once; the bound is only against a runaway).
        before = emulator.dump()
        for _ in range(QUIESCE_ROUNDS):
            seed = emulator.export()
            after = emulator.dump()
            if after == before:
                break
            before = after
        else:
            raise RuntimeError(f"{kind} emulator still changing after the cut")
        outage.saved_in = now() - outage.cut
        outage.killed = now()
        emulator.kill()
        env.log(f"{kind} emulator killed ({len(before)} documents/accounts saved)")
        self._sleep_until(outage.cut + self.min_outage)
        restarting = now()
        emulator.start(None if self.drop and kind == "firestore" else seed)
        outage.restarted_in = now() - restarting
        after = emulator.dump()
        outage.verified_in = now() - restarting - outage.restarted_in
        outage.documents = len(before)
        outage.preserved, outage.preserved_detail = _compare(kind, before, after)
        if kind == "firestore":
            self.snapshots.append((outage, before))
        else:
            # The import set every account's validSince to its own second: sessions from
            # before are revoked (production never does this). Sign everyone in again.
            for uid, account in after.items():
                self.shared.revoked(uid, restarting, float(account["validSince"]), -1.0)
            for name in PEOPLE:
                if not self.users.sign_in(name, self.auth.host):
                    raise RuntimeError(f"could not sign {name} in after the Auth restart")
        outage.back = now()
        gate.open()
        first = probe(kind, self.server.url, self.users, self.recorder, self.shared.stop)
        outage.recovered = first.end if first is not None else None
        recovered = f"{first.end - outage.back:.2f} s" if first is not None else "never"
        env.log(
            f"{kind} emulator back after {outage.back - outage.cut:.1f} s"
            f" (restart {outage.restarted_in:.1f} s); recovered in {recovered}"
        )
        return outage

    # --- verdicts -------------------------------------------------------------------------

    def verdicts(self) -> list[Check]:
        assert self.server is not None
        assert self.shared is not None
        calls = self.recorder.snapshot()
        cuts = [o.cut for o in self.outages]
        for outage in self.outages:
            # Requests that need the emulator: Firestore, every /projects route; Auth,
            # every request of the admin (a role-bearing token: a fresh user record).
            firsts = [
                c.end
                for c in calls
                if c.acknowledged
                and c.start >= outage.back
                and not c.action.startswith("probe")
                and (
                    c.path.startswith("/projects")
                    if outage.kind == "firestore"
                    else c.actor == "root"
                )
            ]
            outage.first_success = min(firsts, default=None)
        documents = plain_documents(self.firestore.dump())
        stored = {
            **resource_states(documents, PROJECT_FIELDS, is_project),
            **resource_states(documents, TASK_FIELDS, is_task),
        }
        api, readable_orphans, read_problems = self._read_back(documents)
        final_roles = self._final_roles()
        audit = {
            str(doc.get("requestId")): str(doc.get("outcome"))
            for path, doc in documents.items()
            if path.startswith("auditLog/")
        }
        uids = {name: self.users.uids[name] for name in PEOPLE}
        checks = check_statuses(calls, self.outages, self.shared.revocations, uids)
        for outage, before in self.snapshots:
            saved = plain_documents(before)
            states = {
                **resource_states(saved, PROJECT_FIELDS, is_project),
                **resource_states(saved, TASK_FIELDS, is_task),
            }
            checks.append(
                check_state(
                    f"state saved at firestore kill {outage.epoch}", calls, cuts, outage.cut, states
                )
            )
        checks.append(check_state("admin read-back at the end", calls, cuts, self.ended, api))
        mismatched = sorted(
            path for path in set(api) | set(stored) if api.get(path) != stored.get(path)
        )
        checks.append(
            Check(
                "admin read-back matches the store",
                not mismatched and not read_problems,
                f"{len(api)} projects and tasks read through the API as the admin",
                [
                    *read_problems,
                    *(f"{p}: API {api.get(p)} store {stored.get(p)}" for p in mismatched[:12]),
                ],
            )
        )
        checks.append(check_versions(calls, api))
        half, orphans = check_documents(documents, calls, cuts, self.ended, readable_orphans)
        self.final["orphans"] = orphans
        checks.append(half)
        checks.append(check_roles(calls, cuts, final_roles, audit))
        checks += check_restarts(self.outages, RECOVERY_LIMIT)
        alive = self.server.process.poll() is None
        tracebacks = self.server.log_path.read_text(errors="replace").count("Traceback")
        checks.append(
            Check(
                "backend process alive, no tracebacks in its log",
                alive and tracebacks == 0,
                f"alive: {alive}; {tracebacks} tracebacks in {self.server.log_path}",
            )
        )
        self.final.update(
            projects=sum(1 for p in stored if is_project(p)),
            tasks=sum(1 for p in stored if is_task(p)),
            documents=len(documents),
            final_roles=final_roles,
        )
        return checks

    def _read_back(
        self, documents: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], list[str], list[str]]:
        """Every project any request named or the store holds, and their tasks, as the admin."""
        assert self.shared is not None
        client = Client(self.shared.base_url, "root", self.users, self.readback)
        ids = {p.split("/")[1] for p in documents if is_project(p)}
        for call in self.recorder.snapshot():
            ids |= {path.split("/")[1] for path, _ in call.seen}
        states: dict[str, dict[str, Any]] = {}
        problems: list[str] = []
        for project_id in sorted(ids):
            call, body, _ = client.call("read_back", "GET", f"/projects/{project_id}")
            if call.status == 404:
                continue
            if not call.acknowledged:
                problems.append(f"GET /projects/{project_id}: {call.status} {call.code}")
                continue
            states[f"projects/{project_id}"] = _canonical(project_state(body))
            cursor = ""
            while True:
                path = f"/projects/{project_id}/tasks?limit=100{cursor}"
                call, page, _ = client.call("read_back", "GET", path)
                if not call.acknowledged:
                    problems.append(f"GET {path}: {call.status} {call.code}")
                    break
                for task in page["items"]:
                    states[f"projects/{project_id}/tasks/{task['id']}"] = _canonical(
                        task_state(task)
                    )
                if not page.get("nextCursor"):
                    break
                cursor = f"&cursor={page['nextCursor']}"
        readable = []
        for path in documents:
            if is_task(path) and f"projects/{path.split('/')[1]}" not in documents:
                call, _, _ = client.call("read_back", "GET", "/" + path)
                if call.status != 404:
                    readable.append(path)
        return states, readable, problems

    def _final_roles(self) -> list[str]:
        assert self.shared is not None
        client = Client(self.shared.base_url, "root", self.users, self.readback)
        target = self.users.uids[ROLE_TARGET]
        call, body, _ = client.call("read_back", "GET", f"/admin/users/{target}/roles")
        if not call.acknowledged:
            raise RuntimeError(f"reading {ROLE_TARGET}'s roles: {call.status} {call.code}")
        return list(body["roles"])

    # --- figures ------------------------------------------------------------------------------

    def results(self, checks: list[Check]) -> dict[str, Any]:
        calls = self.recorder.snapshot()
        cuts = [o.cut for o in self.outages]
        histogram = Counter(_status(c) for c in calls)
        acked_by_epoch: dict[str, Counter[str]] = {}
        for call in calls:
            if call.write and call.acknowledged:
                epoch = sum(1 for cut in cuts if cut < call.end)
                acked_by_epoch.setdefault(str(epoch), Counter())[call.write] += 1
        during = Counter(
            (o.epoch, c.code)
            for o in self.outages
            for c in calls
            if c.status == 503 and o.overlaps(c)
        )
        return {
            "command": f"bench/chaos --minutes {self.seconds / 60:g}",
            "seed": self.seed,
            "machine": env.machine(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self.started)),
            "seconds": self.ended - self.started,
            "backend_settings": BACKEND_SETTINGS,
            "requests": len(calls),
            "by_actor": dict(Counter(c.actor for c in calls)),
            "by_action": dict(Counter(c.action for c in calls).most_common()),
            "statuses": dict(sorted(histogram.items())),
            "acknowledged_writes_by_epoch": {k: dict(v) for k, v in acked_by_epoch.items()},
            "outages": [
                {
                    **asdict(o),
                    "at": o.cut - self.started,
                    "outage_seconds": o.back - o.cut,
                    "recover_seconds": None if o.recovered is None else o.recovered - o.back,
                    "first_traffic_success_seconds": None
                    if o.first_success is None
                    else o.first_success - o.back,
                    "503s": {code: n for (epoch, code), n in during.items() if epoch == o.epoch},
                }
                for o in self.outages
            ],
            "final": self.final,
            "checks": [asdict(c) for c in checks],
            "ok": all(c.ok for c in checks),
        }


def _status(call: Call) -> str:
    if call.status is None:
        return "no answer"
    return f"{call.status} {call.code}" if call.code else str(call.status)


def _canonical(state: dict[str, Any]) -> dict[str, Any]:
    from bench.chaos_check import canonical

    result = canonical(state)
    assert result is not None
    return result


def _compare(kind: str, before: dict[str, Any], after: dict[str, Any]) -> tuple[bool, str]:
    """Whether the restarted emulator holds what the killed one held. Auth: apart from
    ``validSince``, which the emulator's import always sets to the import time."""
    if kind == "auth":

        def comparable(users: dict[str, Any]) -> dict[str, Any]:
            return {
                uid: {k: (v or None) for k, v in fields.items() if k != "validSince"}
                for uid, fields in users.items()
            }

        before, after = comparable(before), comparable(after)
    if before == after:
        return True, f"{len(before)} identical"
    missing = sorted(set(before) - set(after))
    extra = sorted(set(after) - set(before))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return False, f"missing {missing[:5]}, extra {extra[:5]}, changed {changed[:5]}"


def render(results: dict[str, Any]) -> str:
    """The run as text: outages, traffic, statuses, then each check."""
    lines = [
        f"Chaos run: {results['command']} (seed {results['seed']}), "
        f"{results['seconds']:.0f} s of traffic, {results['requests']} requests "
        f"({results['requests'] / max(results['seconds'], 1):.0f}/s)",
        f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores,"
        f" load average at start {results['machine']['load average at start']}",
        f"backend settings: {results['backend_settings']}",
        "",
        "Restarts: at = the gate's cut (s into the run); docs = documents or accounts"
        " carried over; save = read + export; restart = new process to listening;"
        " verify = read back and compare; outage = cut to gate open; recover = to the"
        " first successful probe (traffic = first successful traffic request) after it:",
        f"  {'#':>2} {'emulator':<9} {'at':>5} {'docs':>5} {'save':>6} {'restart':>7}"
        f" {'verify':>6} {'outage':>6} {'recover':>7} {'traffic':>7}  503s during",
    ]
    for o in results["outages"]:
        recover = "never" if o["recover_seconds"] is None else f"{o['recover_seconds']:.2f}s"
        traffic = (
            "-"
            if o["first_traffic_success_seconds"] is None
            else f"{o['first_traffic_success_seconds']:.2f}s"
        )
        lines.append(
            f"  {o['epoch']:>2} {o['kind']:<9} {o['at']:>4.0f}s {o['documents']:>5}"
            f" {o['saved_in']:>5.1f}s {o['restarted_in']:>6.1f}s {o['verified_in']:>5.1f}s"
            f" {o['outage_seconds']:>5.1f}s {recover:>7} {traffic:>7}  {o['503s'] or '-'}"
        )
    lines += ["", "Statuses:"]
    lines += [f"  {status:<36} {n:>6}" for status, n in results["statuses"].items()]
    lines += ["", "Acknowledged writes by epoch (epoch k = after the k-th kill):"]
    for epoch, counts in sorted(results["acknowledged_writes_by_epoch"].items()):
        lines.append(f"  {epoch}: {counts}")
    final = results["final"]
    lines += [
        "",
        f"Final state: {final.get('projects')} projects, {final.get('tasks')} tasks,"
        f" {len(final.get('orphans', []))} tasks under a deleted project;"
        f" {ROLE_TARGET}'s roles {final.get('final_roles')}",
        "",
        "Checks:",
    ]
    for check in results["checks"]:
        mark = "PASS" if check["ok"] else "FAIL"
        lines.append(f"  {mark}  {check['name']}: {check['summary']}")
        lines += [f"          {problem}" for problem in check["problems"]]
    lines.append("")
    lines.append("chaos run: " + ("all checks passed" if results["ok"] else "FAILED"))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
