"""The web client built for an Identity Platform tenant (``VITE_TENANT_ID``), against a
backend that accepts that tenant only (``TENANTS``).

The tenant is made on the Auth emulator through its REST API, and its users signed up
there. The build sets ``auth.tenantId`` before anyone signs in. So a tenant user signs
in through the sign-in form, and the projects they create land under
``tenants/{tenant}/``. A project-level account is refused by the Firebase SDK itself:
the tenant has no such user, or has one with another password. A tenant build stays in
bearer mode. Cookie mode is a build error, ``?mode=cookie`` is ignored with a message,
and a ``400 tenant_session_unsupported`` answer from ``POST /session`` is explained.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Request, Route, expect

from tests.e2e.conftest import (
    DemoUser,
    OpenApp,
    Stack,
    WebApp,
    build_web,
    serving,
    static_server,
    web_and_backend,
)
from tests.integration.emulator import AuthEmulator, FirestoreEmulator, TenantUsers

#: What the sign-in form says when the tenant has no account for those credentials.
WRONG_REALM = 'Wrong email or password. This page signs in accounts of the organisation "{}" only'


@dataclass(frozen=True)
class Tenancy:
    tenant: str
    #: The tenant build (bearer mode) and the backend that accepts that tenant.
    app: Stack
    #: A project-level build in cookie mode, against the same backend.
    cookie_app: Stack


@pytest.fixture(scope="module")
def tenants(project_id: str) -> TenantUsers:
    return TenantUsers(AuthEmulator(os.environ["FIREBASE_AUTH_EMULATOR_HOST"], project_id))


@pytest.fixture(scope="module")
def tenancy(
    project_id: str,
    tenants: TenantUsers,
    tmp_path_factory: pytest.TempPathFactory,
    artifacts: Path,
) -> Iterator[Tenancy]:
    """A new tenant, the web app built for it, and a backend with ``TENANTS`` = it."""
    tenant = tenants.create_tenant()
    builds = {
        "tenant": (tmp_path_factory.mktemp("web-tenant"), {"VITE_TENANT_ID": tenant}),
        "cookie": (tmp_path_factory.mktemp("web-cookie"), {"VITE_SESSION_MODE": "cookie"}),
    }
    with web_and_backend(
        project_id, builds, log_name="backend-tenant.log", settings={"TENANTS": tenant}
    ) as (urls, api_url):
        yield Tenancy(
            tenant,
            Stack(urls["tenant"], api_url, project_id),
            Stack(urls["cookie"], api_url, project_id),
        )


@pytest.fixture(scope="module")
def stack(tenancy: Tenancy) -> Stack:
    """This module's tabs open the tenant build."""
    return tenancy.app


@pytest.fixture
def firestore(project_id: str) -> FirestoreEmulator:
    """The Firestore emulator, emptied (other modules leave projects behind)."""
    emulator = FirestoreEmulator(os.environ["FIRESTORE_EMULATOR_HOST"], project_id)
    emulator.wipe()
    return emulator


@pytest.fixture
def tenant_user(tenancy: Tenancy, tenants: TenantUsers) -> DemoUser:
    """A verified password user of the tenant."""
    user = tenants.make(tenancy.tenant)
    return DemoUser(user.email, user.password, user.uid)


def api_requests(app: WebApp) -> list[Request]:
    """Every request the tab sends to the API from now on (preflights excepted)."""
    sent: list[Request] = []

    def record(request: Request) -> None:
        if request.url.startswith(app.stack.api_url) and request.method != "OPTIONS":
            sent.append(request)

    app.page.on("request", record)
    return sent


def test_a_tenant_user_signs_in_and_their_project_is_stored_in_the_tenant(
    open_app: OpenApp, tenancy: Tenancy, tenant_user: DemoUser, firestore: FirestoreEmulator
) -> None:
    app = open_app("tenant-user")
    app.open()
    expect(app.page.get_by_test_id("tenant")).to_contain_text(tenancy.tenant)
    # No session choice: tenant accounts have no cookie sessions.
    expect(app.page.get_by_role("radio")).to_have_count(0)
    with app.page.expect_response(
        lambda r: r.url == f"{tenancy.app.api_url}/me" and r.request.method == "GET"
    ) as me:
        app.sign_in(tenant_user)
    assert me.value.status == 200
    assert me.value.json()["tenant"] == tenancy.tenant
    assert me.value.json()["uid"] == tenant_user.uid
    expect(app.account.get_by_test_id("tenant")).to_contain_text(f"tenant {tenancy.tenant}")

    app.create_project("Tenant roadmap", "made by a tenant user")
    expect(app.project("Tenant roadmap")).to_be_visible()

    stored = firestore.list_documents(f"tenants/{tenancy.tenant}/projects")
    assert [(doc["name"], doc["ownerId"]) for doc in stored.values()] == [
        ("Tenant roadmap", tenant_user.uid)
    ]
    assert firestore.list_documents("projects") == {}


@pytest.mark.parametrize(
    "same_email_in_tenant",
    [
        pytest.param(True, id="same_email_as_a_tenant_user_other_password"),
        pytest.param(False, id="email_only_at_project_level"),
    ],
)
def test_a_project_level_user_cannot_sign_in_through_the_tenant_build(
    open_app: OpenApp,
    tenancy: Tenancy,
    tenants: TenantUsers,
    tenant_user: DemoUser,
    same_email_in_tenant: bool,
) -> None:
    email = tenant_user.email if same_email_in_tenant else f"pl-{uuid.uuid4().hex[:10]}@example.com"
    password = f"project-level-{uuid.uuid4().hex[:8]}"
    tenants.auth.sign_up(email, password)
    # The credentials are good in the project-level realm: only the realm is wrong.
    assert tenants.auth.sign_in(email, password).email == email

    app = open_app("project-level-user")
    app.open()
    app.page.get_by_label("Email").fill(email)
    app.page.get_by_label("Password").fill(password)
    app.page.get_by_role("button", name="Sign in").click()
    expect(app.message).to_contain_text(WRONG_REALM.format(tenancy.tenant))
    expect(app.page.get_by_role("button", name="Sign in")).to_be_enabled()
    expect(app.account).to_have_count(0)


def test_the_tenant_build_ignores_mode_cookie_and_signs_in_with_bearer_tokens(
    open_app: OpenApp, tenancy: Tenancy, tenant_user: DemoUser
) -> None:
    app = open_app("tenant-cookie-url")
    sent = api_requests(app)
    app.open(mode="cookie")
    expect(app.message).to_contain_text("Cookie mode (?mode=cookie) is not available here")
    expect(app.message).to_contain_text("Using bearer mode.")
    assert "mode=bearer" in app.page.url  # a reload does not ask again
    app.sign_in(tenant_user, mode="cookie")
    expect(app.account).not_to_contain_text("cookie session")
    assert sent, "signing in called no API"
    assert [r for r in sent if r.url.endswith("/session")] == []
    assert all(r.headers.get("authorization", "").startswith("Bearer ") for r in sent)


def test_a_tenant_session_unsupported_answer_is_explained(
    open_app: OpenApp, tenancy: Tenancy, tenants: TenantUsers, tenant_user: DemoUser
) -> None:
    """A page in cookie mode whose ``POST /session`` carries a tenant user's token: the
    real backend's ``400 tenant_session_unsupported`` is explained and nobody stays
    signed in.

    A tenant build cannot get there (it stays in bearer mode), so a project-level cookie
    build signs in and the tenant user's fresh token replaces its own on the way out.
    """
    password = f"project-level-{uuid.uuid4().hex[:8]}"
    project_level = tenants.auth.sign_up(f"pl-{uuid.uuid4().hex[:10]}@example.com", password)
    tenant_token = tenants.sign_in(tenancy.tenant, tenant_user.email).id_token
    answers: list[int] = []

    def as_tenant_user(route: Route) -> None:
        headers = {**route.request.all_headers(), "authorization": f"Bearer {tenant_token}"}
        response = route.fetch(headers=headers)
        answers.append(response.status)
        route.fulfill(response=response)

    app = WebApp(open_app("cookie-build").page, tenancy.cookie_app)
    app.page.route(f"{tenancy.cookie_app.api_url}/session", as_tenant_user)
    app.open()
    expect(app.page.get_by_role("radio", name="Cookie")).to_be_checked()
    app.page.get_by_label("Email").fill(project_level.email)
    app.page.get_by_label("Password").fill(password)
    app.page.get_by_role("button", name="Sign in").click()
    expect(app.message).to_contain_text("Cookie sessions are not available to this account")
    expect(app.message).to_contain_text("[400 tenant_session_unsupported")
    expect(app.page.get_by_role("button", name="Sign in")).to_be_enabled()
    expect(app.account).to_have_count(0)
    assert answers == [400]
    cookies = app.page.context.cookies(tenancy.cookie_app.api_url)
    assert [c for c in cookies if c["name"] == "__session"] == []


TOO_LONG = "a" * 65


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        pytest.param(
            {"VITE_TENANT_ID": "acme-1", "VITE_SESSION_MODE": "cookie"},
            "VITE_SESSION_MODE=cookie cannot be used with VITE_TENANT_ID",
            id="tenant_with_cookie_mode_is_refused",
        ),
        pytest.param(
            {"VITE_TENANT_ID": "-acme"},
            "VITE_TENANT_ID must be an Identity Platform tenant ID (letters, digits and '-', "
            "not starting with '-', at most 64 characters), got \"-acme\"",
            id="tenant_id_starting_with_hyphen_is_refused",
        ),
        pytest.param(
            {"VITE_TENANT_ID": "acme/projects"},
            'got "acme/projects"',
            id="tenant_id_with_slash_is_refused",
        ),
        pytest.param(
            {"VITE_TENANT_ID": TOO_LONG},
            f'got "{TOO_LONG}"',
            id="tenant_id_of_65_characters_is_refused",
        ),
        pytest.param(
            {"VITE_TENANT_ID": "a" * 64}, None, id="tenant_id_of_64_characters_is_accepted"
        ),
        pytest.param(
            {"VITE_TENANT_ID": "Acme-x1y2z"}, None, id="tenant_id_with_hyphen_is_accepted"
        ),
    ],
)
def test_tenant_build_settings(
    open_app: OpenApp,
    project_id: str,
    tmp_path: Path,
    settings: dict[str, str],
    problem: str | None,
) -> None:
    static, web_url = static_server(tmp_path)
    build_web(tmp_path, project_id, "http://127.0.0.1:9", **settings)
    page = open_app("build").page
    with serving(static):
        page.goto(web_url)
        if problem is None:
            expect(page.get_by_test_id("tenant")).to_contain_text(settings["VITE_TENANT_ID"])
            expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        else:
            expect(page.get_by_role("heading", name="This build is not configured")).to_be_visible()
            expect(page.get_by_role("listitem")).to_contain_text([problem])
