"""tools.deploy converges: the IAM plan is a pure function of the config and the
project's current state, and applying it leaves nothing to do.

Each case starts from a project that already matches the config, changes one thing,
and says which IAM changes the plan must make; every case also applies its plan to the
state (as gcloud would) and checks that a second plan is empty. The reader that asks
gcloud for the state is tested with a fake gcloud; nothing here calls the real one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tools.deploy import cli, plan, state
from tools.deploy.config import DeployConfig, parse
from tools.deploy.iam import (
    SESSION_ISSUER,
    SIGN_OUT_RECORDER,
    USER_ADMIN,
    USER_READER,
    CustomRole,
)
from tools.deploy.plan import (
    AddBinding,
    Change,
    CreateAccount,
    CreateRole,
    RemoveBinding,
    UndeleteRole,
    UpdateRole,
)
from tools.deploy.state import PROJECT, Binding, CurrentState, RoleState

P = "acme-prod"
FUNCTIONS = ("me", "projects", "admin", "session", "call", "admincall", "identity", "signouts")
SA = f"@{P}.iam.gserviceaccount.com"
ME = f"serviceAccount:backend-me{SA}"
SESSION = f"serviceAccount:backend-session{SA}"
PROJECTS = f"serviceAccount:backend-projects{SA}"
ACCESSOR = "roles/secretmanager.secretAccessor"


def config(**secrets: str) -> DeployConfig:
    """Every function; ``secrets``: SETTING="secret" mounted by every function."""
    function = {
        "memory": "512Mi",
        "cpu": 1,
        "timeout_seconds": 60,
        "min_instances": 0,
        "max_instances": 3,
        "concurrency": 10,
    }
    data: dict[str, Any] = {
        "project": P,
        "region": "europe-west1",
        "functions": {name: dict(function) for name in FUNCTIONS},
    }
    if secrets:
        data["secrets"] = secrets
    return parse(data, FUNCTIONS)


CONFIG = config(TOKEN_CLOCK_SKEW_SECONDS="clock-skew")


def role_state(role: CustomRole, **changes: Any) -> RoleState:
    current = RoleState(
        title=role.title,
        description=role.description,
        permissions=frozenset(role.permissions),
        stage=role.stage,
    )
    return dataclasses.replace(current, **changes)


def converged(cfg: DeployConfig = CONFIG) -> CurrentState:
    """The state a project is in once the deploy has run (what the plan declares)."""
    declared = plan.declare(cfg, cfg.functions.values())
    return CurrentState(
        roles={role.id: role_state(role) for role in declared.roles},
        service_accounts=frozenset(declared.accounts),
        bindings=declared.bindings,
        firestore_location="eur3",
    )


def custom(role: CustomRole) -> str:
    return role.name(P)


def with_bindings(
    current: CurrentState, *add: Binding, drop: Sequence[Binding] = ()
) -> CurrentState:
    return dataclasses.replace(current, bindings=(current.bindings | set(add)) - set(drop))


def with_role(current: CurrentState, role_id: str, value: RoleState | None) -> CurrentState:
    roles = dict(current.roles)
    if value is None:
        del roles[role_id]
    else:
        roles[role_id] = value
    return dataclasses.replace(current, roles=roles)


def apply(current: CurrentState, changes: Sequence[Change]) -> CurrentState:
    """What gcloud does with each change (the model the plan is written against)."""
    roles = dict(current.roles)
    accounts = set(current.service_accounts)
    bindings = set(current.bindings)
    for change in changes:
        match change:
            case CreateRole(role=role) | UpdateRole(role=role):
                roles[role.id] = role_state(role)
            case UndeleteRole(role=role):
                roles[role.id] = dataclasses.replace(roles[role.id], deleted=False)
            case CreateAccount(email=email):
                accounts.add(email)
            case AddBinding(binding=binding):
                bindings.add(binding)
            case RemoveBinding(binding=binding) if binding.condition is None:
                bindings.discard(binding)
            case RemoveBinding(binding=binding):  # --all: every condition, and none
                bindings = {
                    b
                    for b in bindings
                    if (b.resource, b.role, b.member)
                    != (binding.resource, binding.role, binding.member)
                }
    return dataclasses.replace(
        current, roles=roles, service_accounts=frozenset(accounts), bindings=frozenset(bindings)
    )


READER = Binding(PROJECT, custom(USER_READER), ME)
SECRET = Binding("secrets/clock-skew", ACCESSOR, ME)
EDITOR = Binding(PROJECT, "roles/editor", ME)
#: What the previous release granted me: a custom role that could set custom claims.
REVOKER = Binding(PROJECT, f"projects/{P}/roles/firebaseAuthSessionRevoker", ME)
BASE = converged()

#: (rule id, the project before, the targets, the changes the plan must make)
CASES: list[tuple[str, CurrentState, tuple[str, ...], list[Change]]] = [
    ("converged_project_needs_nothing", BASE, FUNCTIONS, []),
    (
        "extra_project_binding_is_removed",
        with_bindings(BASE, EDITOR),
        FUNCTIONS,
        [RemoveBinding(EDITOR)],
    ),
    (
        "role_of_the_previous_release_is_removed",
        with_bindings(BASE, REVOKER, Binding(PROJECT, REVOKER.role, SESSION)),
        FUNCTIONS,
        [RemoveBinding(REVOKER), RemoveBinding(Binding(PROJECT, REVOKER.role, SESSION))],
    ),
    (
        "firebase_wide_roles_of_the_previous_release_are_removed_from_call_and_projects",
        with_bindings(
            BASE,
            Binding(PROJECT, "roles/firebaseauth.admin", f"serviceAccount:backend-call{SA}"),
            Binding(PROJECT, "roles/firebaseauth.viewer", PROJECTS),
            Binding(PROJECT, REVOKER.role, f"serviceAccount:backend-call{SA}"),
        ),
        FUNCTIONS,
        [
            RemoveBinding(Binding(PROJECT, REVOKER.role, f"serviceAccount:backend-call{SA}")),
            RemoveBinding(
                Binding(PROJECT, "roles/firebaseauth.admin", f"serviceAccount:backend-call{SA}")
            ),
            RemoveBinding(Binding(PROJECT, "roles/firebaseauth.viewer", PROJECTS)),
        ],
    ),
    (
        "missing_binding_is_added",
        with_bindings(BASE, drop=[READER]),
        FUNCTIONS,
        [AddBinding(READER)],
    ),
    (
        "extra_secret_binding_is_removed",
        with_bindings(BASE, Binding("secrets/old-secret", ACCESSOR, ME)),
        FUNCTIONS,
        [RemoveBinding(Binding("secrets/old-secret", ACCESSOR, ME))],
    ),
    (
        "missing_secret_binding_is_added",
        with_bindings(BASE, drop=[SECRET]),
        FUNCTIONS,
        [AddBinding(SECRET)],
    ),
    (
        "custom_role_with_more_permissions_is_updated",
        with_role(
            BASE,
            SESSION_ISSUER.id,
            role_state(
                SESSION_ISSUER,
                permissions=frozenset({*SESSION_ISSUER.permissions, "firebaseauth.users.update"}),
            ),
        ),
        FUNCTIONS,
        [UpdateRole(SESSION_ISSUER)],
    ),
    (
        "custom_role_missing_a_permission_is_updated",
        with_role(BASE, USER_ADMIN.id, role_state(USER_ADMIN, permissions=frozenset())),
        FUNCTIONS,
        [UpdateRole(USER_ADMIN)],
    ),
    (
        "custom_role_with_another_title_is_updated",
        with_role(BASE, USER_READER.id, role_state(USER_READER, title="old")),
        FUNCTIONS,
        [UpdateRole(USER_READER)],
    ),
    (
        "missing_custom_role_is_created",
        with_role(BASE, SIGN_OUT_RECORDER.id, None),
        FUNCTIONS,
        [CreateRole(SIGN_OUT_RECORDER)],
    ),
    (
        "deleted_custom_role_is_undeleted",
        with_role(BASE, USER_READER.id, role_state(USER_READER, deleted=True)),
        FUNCTIONS,
        [UndeleteRole(USER_READER)],
    ),
    (
        "deleted_and_changed_custom_role_is_undeleted_then_updated",
        with_role(
            BASE, USER_READER.id, role_state(USER_READER, deleted=True, permissions=frozenset())
        ),
        FUNCTIONS,
        [UndeleteRole(USER_READER), UpdateRole(USER_READER)],
    ),
    (
        "missing_service_account_is_created",
        dataclasses.replace(BASE, service_accounts=BASE.service_accounts - {f"backend-me{SA}"}),
        FUNCTIONS,
        [CreateAccount("backend-me", f"backend-me{SA}", "Cloud Function me")],
    ),
    (
        "other_principals_are_never_touched",
        with_bindings(
            BASE,
            Binding(PROJECT, "roles/owner", "user:alice@example.com"),
            Binding(PROJECT, "roles/editor", f"serviceAccount:ci{SA}"),
            Binding(PROJECT, "roles/editor", f"serviceAccount:not-backend-me{SA}"),
            Binding(
                PROJECT, "roles/editor", "serviceAccount:backend-me@other.iam.gserviceaccount.com"
            ),
            Binding(PROJECT, "roles/editor", "group:backend-me@example.com"),
            Binding(
                "secrets/clock-skew", ACCESSOR, f"serviceAccount:{P}@appspot.gserviceaccount.com"
            ),
        ),
        FUNCTIONS,
        [],
    ),
    (
        "account_of_a_removed_function_is_stripped",
        with_bindings(
            BASE,
            Binding(PROJECT, "roles/datastore.user", f"serviceAccount:backend-billing{SA}"),
            Binding(PROJECT, "roles/viewer", f"deleted:serviceAccount:backend-old{SA}?uid=123"),
        ),
        FUNCTIONS,
        [
            RemoveBinding(
                Binding(PROJECT, "roles/viewer", f"deleted:serviceAccount:backend-old{SA}?uid=123")
            ),
            RemoveBinding(
                Binding(PROJECT, "roles/datastore.user", f"serviceAccount:backend-billing{SA}")
            ),
        ],
    ),
    (
        "deploying_one_function_converges_only_its_account",
        with_bindings(
            BASE,
            EDITOR,
            Binding(PROJECT, "roles/editor", PROJECTS),
            Binding(PROJECT, "roles/viewer", f"serviceAccount:backend-billing{SA}"),
        ),
        ("me",),
        [RemoveBinding(EDITOR)],
    ),
    (
        "conditional_binding_of_a_declared_role_is_replaced_by_the_plain_one",
        with_bindings(BASE, dataclasses.replace(READER, condition="until-friday")),
        FUNCTIONS,
        [RemoveBinding(dataclasses.replace(READER, condition="until-friday")), AddBinding(READER)],
    ),
    (
        "conditional_binding_of_an_undeclared_role_is_removed",
        with_bindings(BASE, dataclasses.replace(EDITOR, condition="break-glass")),
        FUNCTIONS,
        [RemoveBinding(dataclasses.replace(EDITOR, condition="break-glass"))],
    ),
    (
        "firestore_target_alone_touches_no_iam",
        with_bindings(BASE, EDITOR),
        ("firestore",),
        [],
    ),
]


@pytest.mark.parametrize(
    ("current", "targets", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_plan_converges(
    current: CurrentState, targets: tuple[str, ...], expected: list[Change]
) -> None:
    changes = plan.iam_changes(CONFIG, targets, current)
    assert changes == expected
    assert plan.iam_changes(CONFIG, targets, apply(current, changes)) == [], "idempotent"


def test_a_new_project_gets_everything_and_then_needs_nothing() -> None:
    changes = plan.iam_changes(CONFIG, FUNCTIONS, CurrentState(firestore_location="eur3"))
    assert apply(CurrentState(firestore_location="eur3"), changes) == BASE
    assert plan.iam_changes(CONFIG, FUNCTIONS, BASE) == []


def test_the_previous_release_migrates_and_me_can_no_longer_change_users() -> None:
    """The state the previous deploy left: me and session bound to custom roles with
    firebaseauth.users.update, admin to roles/firebaseauth.admin."""
    revoker = "firebaseAuthSessionRevoker"
    before = CurrentState(
        roles={
            revoker: RoleState(
                "Firebase Auth session revoker",
                "Read user records and revoke refresh tokens (POST /me/revoke-sessions).",
                frozenset({"firebaseauth.users.get", "firebaseauth.users.update"}),
            ),
            SESSION_ISSUER.id: role_state(
                SESSION_ISSUER,
                description="Read user records, create session cookies, revoke sessions.",
                permissions=frozenset({*SESSION_ISSUER.permissions, "firebaseauth.users.update"}),
            ),
        },
        service_accounts=frozenset(
            f"backend-{n}{SA}" for n in ("me", "projects", "admin", "session")
        ),
        bindings=frozenset(
            {
                Binding(PROJECT, f"projects/{P}/roles/{revoker}", ME),
                Binding(PROJECT, custom(SESSION_ISSUER), SESSION),
                Binding(PROJECT, "roles/datastore.user", SESSION),
                Binding(PROJECT, "roles/datastore.user", PROJECTS),
                Binding(PROJECT, "roles/firebaseauth.viewer", PROJECTS),
                Binding(PROJECT, "roles/datastore.user", f"serviceAccount:backend-admin{SA}"),
                Binding(PROJECT, "roles/firebaseauth.admin", f"serviceAccount:backend-admin{SA}"),
                Binding(PROJECT, "roles/owner", "user:owner@example.com"),
            }
        ),
        firestore_location="eur3",
    )
    cfg = config()
    changes = plan.iam_changes(cfg, FUNCTIONS, before)
    after = apply(before, changes)
    assert plan.iam_changes(cfg, FUNCTIONS, after) == []
    assert UpdateRole(SESSION_ISSUER) in changes
    assert {b for b in after.bindings if b.member in {ME, SESSION}} == {
        Binding(PROJECT, custom(USER_READER), ME),
        Binding(PROJECT, custom(SIGN_OUT_RECORDER), ME),
        Binding(PROJECT, custom(SESSION_ISSUER), SESSION),
        Binding(PROJECT, custom(SIGN_OUT_RECORDER), SESSION),
    }
    assert Binding(PROJECT, "roles/owner", "user:owner@example.com") in after.bindings
    # The retired role itself is left defined (others may use it), but nobody of ours holds it.
    assert revoker in after.roles
    assert not any(revoker in b.role for b in after.bindings)


# --- rendering ---------------------------------------------------------------------------

RENDERED: list[tuple[str, Change, str]] = [
    (
        "update_role_sets_exact_permissions",
        UpdateRole(USER_ADMIN),
        f"gcloud iam roles update firebaseAuthUserAdmin --project={P} "
        "'--title=Firebase Auth user admin' "
        "'--description=Read and update user records: custom claims, revocation (/admin).' "
        "--permissions=firebaseauth.users.get,firebaseauth.users.update --stage=GA --quiet",
    ),
    (
        "undelete_role",
        UndeleteRole(USER_READER),
        f"gcloud iam roles undelete firebaseAuthUserReader --project={P}",
    ),
    (
        "remove_project_binding",
        RemoveBinding(EDITOR),
        f"gcloud projects remove-iam-policy-binding {P} --member={ME} --role=roles/editor "
        "--condition=None",
    ),
    (
        "remove_secret_binding",
        RemoveBinding(SECRET),
        f"gcloud secrets remove-iam-policy-binding clock-skew --project={P} --member={ME} "
        f"--role={ACCESSOR} --condition=None",
    ),
    (
        "remove_conditional_binding_with_all",
        RemoveBinding(dataclasses.replace(EDITOR, condition="break-glass")),
        f"gcloud projects remove-iam-policy-binding {P} --member={ME} --role=roles/editor --all",
    ),
    (
        "add_secret_binding",
        AddBinding(SECRET),
        f"gcloud secrets add-iam-policy-binding clock-skew --project={P} --member={ME} "
        f"--role={ACCESSOR} --condition=None",
    ),
]


@pytest.mark.parametrize(
    ("change", "command"),
    [case[1:] for case in RENDERED],
    ids=[case[0] for case in RENDERED],
)
def test_each_change_is_one_gcloud_command(change: Change, command: str) -> None:
    import shlex

    assert shlex.join(plan._argv(change, P)) == command


def test_removals_run_after_the_functions_are_deployed() -> None:
    current = with_bindings(BASE, EDITOR, drop=[READER])
    commands = [step.render() for step in plan.build(CONFIG, FUNCTIONS, current)]
    add = next(i for i, c in enumerate(commands) if "add-iam-policy-binding" in c)
    remove = next(i for i, c in enumerate(commands) if "remove-iam-policy-binding" in c)
    deploys = [i for i, c in enumerate(commands) if c.startswith("gcloud functions deploy ")]
    assert add < min(deploys)
    assert max(deploys) < remove


# --- the dry run against a state file -------------------------------------------------------


class Recorder:
    """A runner that runs nothing and records what it was asked to run."""

    def __init__(self) -> None:
        self.commands: list[Sequence[str]] = []

    def __call__(self, argv: Sequence[str]) -> int:
        self.commands.append(argv)
        return 0


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    lines = [f'project = "{P}"', 'region = "europe-west1"', "", "[secrets]"]
    lines.append('TOKEN_CLOCK_SKEW_SECONDS = "clock-skew"')
    for name in FUNCTIONS:
        lines += [
            f"[functions.{name}]",
            'memory = "512Mi"',
            "cpu = 1",
            "timeout_seconds = 60",
            "min_instances = 0",
            "max_instances = 3",
            "concurrency = 10",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_dry_run_shows_removals_and_a_second_run_shows_no_iam(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "state.json"
    saved.write_text(state.dump(with_bindings(BASE, EDITOR)))
    assert cli.main(["--config", str(config_file), "--dry-run", "--state", str(saved)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].endswith("1 IAM change(s).")
    assert "# Roles no longer declared: remove (backend accounts only)" in out
    assert out[-3] == (
        f"gcloud projects remove-iam-policy-binding {P} --member={ME} --role=roles/editor "
        "--condition=None"
    )

    saved.write_text(state.dump(BASE))
    assert cli.main(["--config", str(config_file), "--dry-run", "--state", str(saved)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].endswith("IAM already matches the config.")
    commands = [line for line in out if not line.startswith("#")]
    assert [c for c in commands if " iam " in c or "-iam-policy-binding" in c] == []
    assert commands[-1].startswith("npx firebase deploy")


def test_a_state_file_round_trips() -> None:
    current = with_bindings(BASE, dataclasses.replace(EDITOR, condition="c"))
    current = dataclasses.replace(current, eventarc_triggers=frozenset({"signouts-tenants"}))
    current = with_role(current, USER_READER.id, role_state(USER_READER, deleted=True))
    assert state.load_file(state.dump(current)) == current


@pytest.mark.parametrize(
    "text", ["not json", "[]", '{"bindings": [{"role": "r"}]}'], ids=["garbage", "list", "partial"]
)
def test_a_bad_state_file_stops_the_deploy(
    text: str, config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "state.json"
    saved.write_text(text)
    assert cli.main(["--config", str(config_file), "--dry-run", "--state", str(saved)]) == 1
    assert capsys.readouterr().err.startswith("error state: cannot read the project's current IAM")


def test_an_unreadable_project_stops_the_deploy_before_anything_runs(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreadable(cfg: DeployConfig) -> CurrentState:
        raise state.StateReadError("gcloud projects get-iam-policy acme-prod: PERMISSION_DENIED")

    runner = Recorder()
    assert cli.main(["--config", str(config_file)], run=runner, read_state=unreadable) == 1
    assert runner.commands == []
    assert "PERMISSION_DENIED" in capsys.readouterr().err


# --- the reader ----------------------------------------------------------------------------


def policy(*bindings: tuple[str, list[str]], conditional: tuple[str, str] | None = None) -> str:
    items: list[dict[str, Any]] = [{"role": role, "members": members} for role, members in bindings]
    if conditional:
        items.append(
            {
                "role": conditional[0],
                "members": [conditional[1]],
                "condition": {"title": "temporary", "expression": "request.time < x"},
            }
        )
    return json.dumps({"bindings": items, "etag": "x", "version": 3})


def fake_gcloud(answers: dict[str, str]) -> tuple[Callable[[Sequence[str]], str], list[str]]:
    asked: list[str] = []

    def gcloud(args: Sequence[str]) -> str:
        command = " ".join(args)
        asked.append(command)
        if command not in answers:
            raise state.StateReadError(f"gcloud {command}: NOT_FOUND")
        return answers[command]

    return gcloud, asked


J = f"--project={P} --format=json"
ALL_SERVICES = json.dumps(
    [
        {"config": {"name": name}}
        for name in (
            "iam.googleapis.com",
            "secretmanager.googleapis.com",
            "firestore.googleapis.com",
            "eventarc.googleapis.com",
        )
    ]
)
ANSWERS = {
    f"services list --enabled {J}": ALL_SERVICES,
    f"projects get-iam-policy {P} --format=json": policy(
        ("roles/owner", ["user:alice@example.com", ME]),
        (custom(USER_READER), [ME, f"serviceAccount:ci{SA}"]),
        ("roles/viewer", [f"deleted:serviceAccount:backend-old{SA}?uid=42"]),
        conditional=("roles/editor", ME),
    ),
    f"iam roles list --show-deleted {J}": json.dumps(
        [
            {"name": f"projects/{P}/roles/{USER_READER.id}"},
            {"name": f"projects/{P}/roles/{USER_ADMIN.id}", "deleted": True},
            {"name": f"projects/{P}/roles/someoneElses"},
        ]
    ),
    f"iam roles describe {USER_READER.id} {J}": json.dumps(
        {
            "title": USER_READER.title,
            "description": USER_READER.description,
            "includedPermissions": ["firebaseauth.users.get"],
            "stage": "GA",
        }
    ),
    f"iam roles describe {USER_ADMIN.id} {J}": json.dumps(
        {"title": "t", "includedPermissions": ["firebaseauth.users.get"], "deleted": True}
    ),
    f"iam service-accounts list {J}": json.dumps(
        [
            {"email": f"backend-me{SA}"},
            {"email": f"ci{SA}"},
            {"email": f"{P}@appspot.gserviceaccount.com"},
        ]
    ),
    f"secrets list {J}": json.dumps([{"name": "projects/123/secrets/clock-skew"}]),
    f"secrets get-iam-policy clock-skew {J}": policy(
        (ACCESSOR, [ME, f"serviceAccount:{P}@appspot.gserviceaccount.com"])
    ),
    f"firestore databases describe --database=(default) {J}": json.dumps({"locationId": "eur3"}),
    f"eventarc triggers list --location=eur3 {J}": json.dumps(
        [{"name": f"projects/{P}/locations/eur3/triggers/signouts-tenants"}]
    ),
}


def test_the_reader_keeps_only_the_backends_principals() -> None:
    gcloud, asked = fake_gcloud(ANSWERS)
    current = state.read(
        P, "backend-", [USER_READER.id, USER_ADMIN.id, SIGN_OUT_RECORDER.id], gcloud
    )
    assert current == CurrentState(
        roles={
            USER_READER.id: role_state(USER_READER),
            USER_ADMIN.id: RoleState("t", "", frozenset({"firebaseauth.users.get"}), deleted=True),
        },
        service_accounts=frozenset({f"backend-me{SA}"}),
        bindings=frozenset(
            {
                Binding(PROJECT, "roles/owner", ME),
                Binding(PROJECT, custom(USER_READER), ME),
                Binding(PROJECT, "roles/viewer", f"deleted:serviceAccount:backend-old{SA}?uid=42"),
                Binding(PROJECT, "roles/editor", ME, condition="temporary"),
                Binding("secrets/clock-skew", ACCESSOR, ME),
            }
        ),
        firestore_location="eur3",
        eventarc_triggers=frozenset({"signouts-tenants"}),
    )
    assert not any("someoneElses" in command for command in asked), "only declared roles"
    assert all(("get-iam-policy" in c or " list" in c or "describe" in c) for c in asked), (
        "read-only calls"
    )


def test_the_reader_skips_apis_that_are_off() -> None:
    answers = {
        f"services list --enabled {J}": "[]",
        f"projects get-iam-policy {P} --format=json": policy((custom(USER_READER), [ME])),
    }
    gcloud, asked = fake_gcloud(answers)
    current = state.read(P, "backend-", [USER_READER.id], gcloud)
    assert current == CurrentState(bindings=frozenset({Binding(PROJECT, custom(USER_READER), ME)}))
    assert len(asked) == 2


def test_a_failing_read_is_an_error_not_an_empty_state() -> None:
    answers = dict(ANSWERS)
    del answers[f"secrets get-iam-policy clock-skew {J}"]
    gcloud, _ = fake_gcloud(answers)
    with pytest.raises(state.StateReadError, match="NOT_FOUND"):
        state.read(P, "backend-", [USER_READER.id], gcloud)


def test_a_non_json_answer_is_an_error() -> None:
    answers = {**ANSWERS, f"projects get-iam-policy {P} --format=json": "Updated policy:"}
    gcloud, _ = fake_gcloud(answers)
    with pytest.raises(state.StateReadError, match="expected JSON"):
        state.read(P, "backend-", [], gcloud)


def test_run_gcloud_reports_gclouds_own_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real runner, with a stand-in ``gcloud`` on PATH."""
    fake = tmp_path / "gcloud"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = ok ]; then echo \'{"a": 1}\'; exit 0; fi\n'
        'echo "ERROR: (gcloud.projects.get-iam-policy) PERMISSION_DENIED: no" >&2; exit 1\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert state.run_gcloud(["ok"]) == '{"a": 1}\n'
    with pytest.raises(state.StateReadError) as error:
        state.run_gcloud(["projects", "get-iam-policy", P])
    assert str(error.value) == (
        f"gcloud projects get-iam-policy {P}: "
        "ERROR: (gcloud.projects.get-iam-policy) PERMISSION_DENIED: no"
    )


def test_print_state_shows_what_the_plan_sees_and_runs_nothing(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = with_bindings(BASE, EDITOR)
    runner = Recorder()
    argv = ["--config", str(config_file), "--print-state"]
    assert cli.main(argv, run=runner, read_state=lambda cfg: current) == 0
    assert runner.commands == []
    assert state.load_file(capsys.readouterr().out) == current


def test_a_saved_state_is_for_dry_runs_only(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "state.json"
    saved.write_text(state.dump(BASE))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--config", str(config_file), "--state", str(saved)])
    assert exit_info.value.code == 2
    assert "--state: only with --dry-run" in capsys.readouterr().err


# --- the event function's other triggers ------------------------------------------------


def test_the_tenants_trigger_is_created_once_then_updated() -> None:
    """The signouts function also gets each tenant's records: an Eventarc trigger of its
    own, created when the project lacks it and updated to the declared filters after."""

    def trigger_steps(current: CurrentState) -> list[str]:
        steps = plan.build(CONFIG, ["signouts"], current)
        return [step.render() for step in steps if "eventarc triggers" in step.render()]

    pattern = "document=tenants/{tenant}/signOuts/{user}/signOutEvents/{second}"
    (created,) = trigger_steps(converged())
    assert created.startswith("gcloud eventarc triggers create signouts-tenants --location=eur3")
    assert pattern in created
    assert "--destination-run-service=signouts" in created
    assert f"--service-account=backend-signouts{SA}" in created
    existing = dataclasses.replace(converged(), eventarc_triggers=frozenset({"signouts-tenants"}))
    (updated,) = trigger_steps(existing)
    assert updated.startswith("gcloud eventarc triggers update signouts-tenants --location=eur3")
    assert pattern in updated
