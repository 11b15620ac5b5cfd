"""Identity Platform tenants, offline: who may enter (settings and the realm rule), where
a tenant user's records are read (the production token path with forged tokens), and
where a tenant's documents live. On the emulators: tests/integration/test_tenants.py."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator, Mapping

import firebase_admin
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from app import build_container
from auth.directory import UserDirectory, UserRecord
from auth.identity import Authenticator
from auth.principal import Principal
from auth.revocation import RevocationChecker
from auth.tenancy import require_allowed_tenant
from core.errors import (
    ApiError,
    TenantNotAllowed,
    TenantSessionUnsupported,
    TokenRevoked,
    UserNotFound,
)
from core.settings import ConfigError, Settings
from store.client import Firestore
from tests.unit import tokenforge as forge
from tests.unit.conftest import key_store, verified_cache

# --- who may enter ---------------------------------------------------------------------

TENANTS = frozenset({"acme-x1y2z", "globex-a1b2c"})

ENTRY = [
    # (tenants listed, project-level users allowed, the token's tenant, admitted)
    pytest.param(frozenset(), True, None, True, id="no tenants: project-level user enters"),
    pytest.param(frozenset(), True, "acme-x1y2z", False, id="no tenants: any tenant refused"),
    pytest.param(TENANTS, False, "acme-x1y2z", True, id="listed tenant enters"),
    pytest.param(TENANTS, False, "initech-q", False, id="unlisted tenant refused"),
    pytest.param(TENANTS, False, None, False, id="tenants only: project-level user refused"),
    pytest.param(TENANTS, True, None, True, id="tenants and project: project-level enters"),
    pytest.param(TENANTS, True, "globex-a1b2c", True, id="tenants and project: tenant enters"),
    pytest.param(TENANTS, True, "ACME-X1Y2Z", False, id="tenant ids are case-sensitive"),
]


@pytest.mark.parametrize(("tenants", "project_level", "tenant", "admitted"), ENTRY)
def test_realm_rule(
    tenants: frozenset[str], project_level: bool, tenant: str | None, admitted: bool
) -> None:
    principal = Principal(uid="u1", tenant=tenant)
    if admitted:
        require_allowed_tenant(principal, tenants, allow_project_level=project_level)
    else:
        with pytest.raises(TenantNotAllowed) as refused:
            require_allowed_tenant(principal, tenants, allow_project_level=project_level)
        assert (refused.value.status, refused.value.code) == (401, "tenant_not_allowed")


SETTINGS_TABLE = [
    # (environment, tenants, project-level users allowed)
    pytest.param({}, frozenset(), True, id="default: project-level users only"),
    pytest.param({"TENANTS": "acme-x1y2z"}, {"acme-x1y2z"}, False, id="tenants: only them"),
    pytest.param(
        {"TENANTS": " acme-x1y2z , globex-a1b2c ,"}, TENANTS, False, id="comma list, spaces"
    ),
    pytest.param(
        {"TENANTS": "acme-x1y2z", "ALLOW_PROJECT_LEVEL_USERS": "true"},
        {"acme-x1y2z"},
        True,
        id="tenants and project-level users",
    ),
    pytest.param(
        {"TENANTS": "IjnKQQn7fgaMdQNi9928E9rBlDsN"},
        {"IjnKQQn7fgaMdQNi9928E9rBlDsN"},
        False,
        id="the Auth emulator's tenant ids",
    ),
]


@pytest.mark.parametrize(("env", "tenants", "project_level"), SETTINGS_TABLE)
def test_settings(env: dict[str, str], tenants: set[str], project_level: bool) -> None:
    settings = Settings.from_env({"FIREBASE_PROJECT_ID": "demo-x", **env})
    assert settings.tenants == tenants
    assert settings.allow_project_level_users is project_level


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"TENANTS": "acme/x"}, "TENANTS", id="a slash would name another path"),
        pytest.param({"TENANTS": "-acme"}, "TENANTS", id="leading hyphen"),
        pytest.param({"TENANTS": "a" * 65}, "TENANTS", id="too long"),
        pytest.param(
            {"ALLOW_PROJECT_LEVEL_USERS": "false"},
            "nobody could sign in",
            id="nobody admitted",
        ),
        pytest.param(
            {"TENANTS": "acme-x1y2z", "ALLOW_PROJECT_LEVEL_USERS": "maybe"},
            "ALLOW_PROJECT_LEVEL_USERS",
            id="not a boolean",
        ),
    ],
)
def test_bad_settings_stop_the_instance(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"FIREBASE_PROJECT_ID": "demo-x", **env})


# --- a tenant user's records come from their tenant (production token path) ----------


class RealmDirectory(UserDirectory):
    """In-memory records of one realm; counts lookups."""

    def __init__(self, tenant: str | None, *records: UserRecord) -> None:
        self.tenant = tenant
        self.records = {record.uid: record for record in records}
        self.calls = 0

    def get(self, uid: str) -> UserRecord:
        self.calls += 1
        try:
            return self.records[uid]
        except KeyError:
            raise UserNotFound() from None


def record(uid: str = forge.DEFAULT_UID, **changes: object) -> UserRecord:
    base = UserRecord(
        uid=uid,
        email=forge.DEFAULT_EMAIL,
        disabled=False,
        valid_since=None,
        custom_claims={},
        email_verified=True,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def checker(directory: UserDirectory) -> RevocationChecker:
    return RevocationChecker(directory, max_age_seconds=60, max_entries=100)


@dataclasses.dataclass
class Realms:
    authenticator: Authenticator
    directories: Mapping[str | None, RealmDirectory]
    now: float

    def bearer(self, tenant: str | None, **claims: object) -> str:
        firebase: dict[str, object] = {"sign_in_provider": "password", "identities": {}}
        if tenant is not None:
            firebase["tenant"] = tenant
        return "Bearer " + forge.mint({"firebase": firebase, **claims}, now=self.now)


@pytest.fixture
def realms(production_app: firebase_admin.App) -> Realms:
    """Project-level users and two tenants, each with the same uid in its own records."""
    settings = Settings(
        project_id=forge.PROJECT_ID, tenants=TENANTS, allow_project_level_users=True
    )
    directories = {
        None: RealmDirectory(None, record()),
        "acme-x1y2z": RealmDirectory("acme-x1y2z", record(custom_claims={"roles": ["admin"]})),
        # In globex, this uid signed out everywhere a minute ago.
        "globex-a1b2c": RealmDirectory("globex-a1b2c", record(valid_since=int(time.time()))),
    }
    checkers = {tenant: checker(directory) for tenant, directory in directories.items()}
    now = time.time() - 30
    authenticator = Authenticator(
        settings,
        production_app,
        directories[None],
        checkers[None],
        clock=lambda: now,
        keys=key_store(production_app),
        verified_tokens=verified_cache(production_app),
        tenant_revocation=lambda tenant: checkers[tenant],
    )
    return Realms(authenticator, directories, now)


def test_each_realm_checks_its_own_user_records(realms: Realms) -> None:
    """The same uid in three realms is three users: each token is checked against the
    record of its own realm, never another's."""
    project_user = realms.authenticator.authenticate(realms.bearer(None))
    assert (project_user.tenant, project_user.roles) == (None, frozenset())
    acme = realms.authenticator.authenticate(
        realms.bearer("acme-x1y2z", roles=["admin"]), privileged=True
    )
    assert acme.tenant == "acme-x1y2z"
    assert acme.is_admin
    with pytest.raises(TokenRevoked):  # revoked in globex only
        realms.authenticator.authenticate(realms.bearer("globex-a1b2c"))
    calls = {tenant: directory.calls for tenant, directory in realms.directories.items()}
    assert calls == {None: 1, "acme-x1y2z": 1, "globex-a1b2c": 1}


def test_a_role_in_one_tenant_does_not_count_in_another(realms: Realms) -> None:
    """A token claiming admin in globex is checked against globex's record (no role)."""
    realms.directories["globex-a1b2c"].records[forge.DEFAULT_UID] = record()
    principal = realms.authenticator.authenticate(
        realms.bearer("globex-a1b2c", roles=["admin"]), privileged=True
    )
    assert principal.roles == frozenset()


@pytest.mark.parametrize(
    "tenant", [pytest.param("initech-q", id="unlisted"), pytest.param("", id="empty string")]
)
def test_a_refused_tenant_costs_no_auth_call(realms: Realms, tenant: str) -> None:
    with pytest.raises(TenantNotAllowed):
        realms.authenticator.authenticate(realms.bearer(tenant))
    assert all(directory.calls == 0 for directory in realms.directories.values())


def test_tenant_users_get_no_session_cookie(realms: Realms) -> None:
    principal = realms.authenticator.authenticate(realms.bearer("acme-x1y2z"))
    with pytest.raises(TenantSessionUnsupported) as refused:
        realms.authenticator.issue_session_cookie("unused", principal)
    assert (refused.value.status, refused.value.code) == (400, "tenant_session_unsupported")


def test_tenants_need_a_tenant_revocation(production_app: firebase_admin.App) -> None:
    settings = Settings(project_id=forge.PROJECT_ID, tenants=TENANTS)
    directory = RealmDirectory(None)
    with pytest.raises(ValueError, match="tenant_revocation"):
        Authenticator(
            settings,
            production_app,
            directory,
            checker(directory),
            keys=key_store(production_app),
        )


# --- where a tenant's documents and records live ---------------------------------------


def offline_client() -> firestore.Client:
    return firestore.Client(project="demo-x", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("tenant", "path"),
    [
        pytest.param(None, "projects", id="project-level users: top-level collections"),
        pytest.param("acme-x1y2z", "tenants/acme-x1y2z/projects", id="a tenant: its subtree"),
    ],
)
def test_a_realm_names_only_its_own_collections(tenant: str | None, path: str) -> None:
    db = Firestore("demo-x", timeout_seconds=5, client=offline_client())
    view = db if tenant is None else db.for_tenant(tenant)
    assert view.collection("projects").document("p1").path == f"{path}/p1"
    tasks = view.collection("projects").document("p1").collection("tasks")
    assert tasks.document("t1").path == f"{path}/p1/tasks/t1"
    assert view.client is db.client  # one connection for every realm


@pytest.fixture
def offline_app() -> Iterator[firebase_admin.App]:
    app = firebase_admin.initialize_app(
        AnonymousCredentials(),  # type: ignore[no-untyped-call]
        options={"projectId": "demo-x"},
        name=f"tenancy-{uuid.uuid4().hex}",
    )
    yield app
    firebase_admin.delete_app(app)


def test_a_tenant_container_is_a_realm_of_its_own(offline_app: firebase_admin.App) -> None:
    settings = Settings(project_id="demo-x", tenants=TENANTS)
    root = build_container(
        settings,
        firebase_app=offline_app,
        firestore=Firestore("demo-x", timeout_seconds=5, client=offline_client()),
    )
    acme = root.for_tenant("acme-x1y2z")
    assert root.for_tenant(None) is root
    assert root.for_tenant("acme-x1y2z") is acme
    assert acme.tenant == "acme-x1y2z"
    assert acme.directory.tenant == "acme-x1y2z"
    assert acme.firestore.collection("auditLog").document("e").path == (
        "tenants/acme-x1y2z/auditLog/e"
    )
    # Shared: what knows no realm. Not shared: users, documents, revocation caches.
    assert acme.authenticator is root.authenticator
    assert acme.rate_limits is root.rate_limits
    assert acme.revocation is not root.revocation
    assert acme.directory is not root.directory
    assert root.authenticator.revocation_for("acme-x1y2z") is acme.revocation
    assert root.for_tenant("globex-a1b2c").revocation is not acme.revocation


@pytest.mark.parametrize(
    "tenant", [pytest.param("initech-q", id="unlisted"), pytest.param("../x", id="a path")]
)
def test_no_container_for_an_unlisted_tenant(tenant: str) -> None:
    root = build_container(Settings(project_id="demo-x", tenants=TENANTS))  # builds nothing
    with pytest.raises(TenantNotAllowed):
        root.for_tenant(tenant)


def test_a_tenant_realm_has_no_realms_of_its_own(offline_app: firebase_admin.App) -> None:
    root = build_container(Settings(project_id="demo-x", tenants=TENANTS), firebase_app=offline_app)
    with pytest.raises(ApiError):
        root.for_tenant("acme-x1y2z").for_tenant("globex-a1b2c")
