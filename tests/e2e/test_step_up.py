"""Step-up in the browser: a backend that wants a second factor for project deletion
and transfer (``ADMIN_REQUIRE_SECOND_FACTOR``, ``STEP_UP_OPERATIONS``), and a user who
signed in with her password alone and has since enrolled an SMS factor (multi-factor
sign-in enabled on the Auth emulator's project).

Her first attempt is refused with ``401 step_up_required``; the app asks for her
password, then for the code the emulator "sent" to her phone (read from its REST API),
and retries the request once: the change is made exactly once. Cancelling either
prompt, or a wrong password or code, leaves the data as it was, says so, and keeps
her signed in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Response, expect

from tests.e2e.conftest import (
    DemoUser,
    OpenApp,
    Stack,
    Users,
    WebApp,
    web_and_backend,
)
from tests.integration.emulator import AuthEmulator, FirestoreEmulator

PHONE = "+15555550142"
#: The emulator's answer to the SDK's "send a code to the enrolled phone" call.
MFA_START = "accounts/mfaSignIn:start"


@pytest.fixture(scope="module")
def step_up_stack(
    project_id: str, tmp_path_factory: pytest.TempPathFactory, artifacts: Path
) -> Iterator[Stack]:
    """The web app against a backend that holds deletion and transfer to step-up."""
    dist = tmp_path_factory.mktemp("web-step-up")
    settings = {
        "ADMIN_REQUIRE_SECOND_FACTOR": "true",
        "STEP_UP_OPERATIONS": "delete_project,transfer_project",
    }
    with web_and_backend(
        project_id, {"web": (dist, {})}, log_name="backend-step-up.log", settings=settings
    ) as (urls, api_url):
        yield Stack(urls["web"], api_url, project_id)


@pytest.fixture(scope="module")
def stack(step_up_stack: Stack) -> Stack:
    """This module's apps and users use the step-up backend."""
    return step_up_stack


@pytest.fixture
def auth(project_id: str) -> Iterator[AuthEmulator]:
    """The Auth emulator, with multi-factor sign-in enabled for one test."""
    emulator = AuthEmulator(os.environ["FIREBASE_AUTH_EMULATOR_HOST"], project_id)
    emulator.set_mfa(True)
    try:
        yield emulator
    finally:
        emulator.set_mfa(False)


@pytest.fixture
def firestore(project_id: str) -> FirestoreEmulator:
    return FirestoreEmulator(os.environ["FIRESTORE_EMULATOR_HOST"], project_id)


class StepUp:
    """One tab's API answers and the two prompts of signing in again."""

    def __init__(self, app: WebApp, auth: AuthEmulator) -> None:
        self.app = app
        self.auth = auth
        self.answers: list[Response] = []
        app.page.on("response", self._record)

    def _record(self, response: Response) -> None:
        """Keeps the API's answers to changes (not reads, not CORS preflights)."""
        if response.url.startswith(self.app.stack.api_url) and response.request.method not in (
            "GET",
            "OPTIONS",
        ):
            self.answers.append(response)

    def answers_to(self, method: str, path_end: str = "") -> list[Response]:
        return [
            answer
            for answer in self.answers
            if answer.request.method == method and answer.url.endswith(path_end)
        ]

    def statuses(self, method: str, path_end: str = "") -> list[int]:
        return [answer.status for answer in self.answers_to(method, path_end)]

    @property
    def password_prompt(self) -> Locator:
        return self.app.page.get_by_role("dialog", name="Confirm it is you")

    @property
    def code_prompt(self) -> Locator:
        return self.app.page.get_by_role("dialog", name="Second factor")

    def enter_password(self, password: str) -> str:
        """Types the password and goes on; returns the SMS code the emulator "sent"."""
        expect(self.password_prompt).to_be_visible()
        self.password_prompt.get_by_label("Password").fill(password)
        with self.app.page.expect_response(lambda r: MFA_START in r.url) as started:
            self.password_prompt.get_by_role("button", name="Continue").click()
        session_info = started.value.json()["phoneResponseInfo"]["sessionInfo"]
        expect(self.code_prompt).to_be_visible()
        expect(self.code_prompt).to_contain_text(PHONE[-4:])
        return self.auth.verification_code(session_info)

    def enter_code(self, code: str) -> None:
        self.code_prompt.get_by_label("Code").fill(code)
        self.code_prompt.get_by_role("button", name="Continue").click()
        expect(self.code_prompt).to_have_count(0)


def signed_in_then_enrolled(open_app: OpenApp, user: DemoUser, auth: AuthEmulator) -> StepUp:
    """``user`` signs in with her password; then her phone becomes her second factor."""
    app = open_app(user.email.split("@")[0])
    app.sign_in(user)
    auth.enrol_phone_factor(user.uid, PHONE)
    return StepUp(app, auth)


def project_id_of(app: WebApp, name: str) -> str:
    expect(app.project(name)).to_be_visible()
    project_id = app.project(name).get_attribute("data-project-id")
    assert project_id
    return project_id


def transfers(firestore: FirestoreEmulator) -> list[dict[str, object]]:
    return [
        entry
        for entry in firestore.list_documents("auditLog").values()
        if entry.get("action") == "project.transferred"
    ]


def click_delete(app: WebApp, name: str) -> None:
    card = app.manage(name)
    card.get_by_role("button", name="Delete project").click()
    card.get_by_role("button", name="Click again to delete").click()


def test_a_transfer_is_refused_then_retried_after_password_and_sms_code(
    open_app: OpenApp, users: Users, auth: AuthEmulator, firestore: FirestoreEmulator
) -> None:
    alice = signed_in_then_enrolled(open_app, users.alice, auth)
    alice.app.create_project("Budget", "numbers for next year")
    project_id = project_id_of(alice.app, "Budget")
    before = firestore.get_document(f"projects/{project_id}")
    assert before is not None

    transfer = alice.app.manage("Budget").get_by_role("form", name="Transfer")
    transfer.get_by_label("New owner").fill(users.bob.uid)
    transfer.get_by_role("button", name="Transfer").click()
    code = alice.enter_password(users.alice.password)
    alice.enter_code(code)

    expect(alice.app.message).to_contain_text("Transferred “Budget”")
    expect(alice.app.project("Budget").locator("header .badge")).to_have_text("editor")
    assert alice.statuses("POST", "/transfer") == [401, 200], "refused, then retried once"
    first, retried = alice.answers_to("POST", "/transfer")
    assert first.json()["error"]["code"] == "step_up_required"
    assert first.headers["www-authenticate"].startswith(
        'Bearer error="insufficient_user_authentication"'
    )
    # The retry carries the new ID token (password and SMS code), not the refused one.
    assert retried.request.headers["authorization"] != first.request.headers["authorization"]

    stored = firestore.get_document(f"projects/{project_id}")
    assert stored is not None
    assert stored["ownerId"] == users.bob.uid
    assert stored["version"] == before["version"] + 1, "changed exactly once"
    assert len(transfers(firestore)) == 1
    expect(alice.app.account).to_contain_text(users.alice.email)  # still signed in


def test_cancelling_either_prompt_changes_nothing_and_says_so(
    open_app: OpenApp, users: Users, auth: AuthEmulator, firestore: FirestoreEmulator
) -> None:
    alice = signed_in_then_enrolled(open_app, users.alice, auth)
    alice.app.create_project("Keep me")
    project_id = project_id_of(alice.app, "Keep me")
    before = firestore.get_document(f"projects/{project_id}")

    click_delete(alice.app, "Keep me")
    expect(alice.password_prompt).to_be_visible()
    alice.password_prompt.get_by_role("button", name="Cancel").click()
    expect(alice.password_prompt).to_have_count(0)
    expect(alice.app.message).to_contain_text("Not done")
    expect(alice.app.message).to_contain_text("[401 step_up_required")
    expect(alice.app.account).to_contain_text(users.alice.email)  # not signed out
    expect(alice.app.project("Keep me")).to_be_visible()

    click_delete(alice.app, "Keep me")
    alice.enter_password(users.alice.password)
    alice.code_prompt.get_by_role("button", name="Cancel").click()
    expect(alice.code_prompt).to_have_count(0)
    expect(alice.app.message).to_contain_text("Not done")
    expect(alice.app.account).to_contain_text(users.alice.email)
    expect(alice.app.project("Keep me")).to_be_visible()

    assert alice.statuses("DELETE") == [401, 401], "never retried"
    assert firestore.get_document(f"projects/{project_id}") == before


def test_a_wrong_password_or_code_is_explained_and_changes_nothing(
    open_app: OpenApp, users: Users, auth: AuthEmulator, firestore: FirestoreEmulator
) -> None:
    alice = signed_in_then_enrolled(open_app, users.alice, auth)
    alice.app.create_project("Old plan")
    project_id = project_id_of(alice.app, "Old plan")
    before = firestore.get_document(f"projects/{project_id}")

    click_delete(alice.app, "Old plan")
    expect(alice.password_prompt).to_be_visible()
    alice.password_prompt.get_by_label("Password").fill("not-her-password")
    alice.password_prompt.get_by_role("button", name="Continue").click()
    expect(alice.app.message).to_contain_text("Wrong password")
    expect(alice.app.message).to_contain_text("Nothing was changed")
    expect(alice.code_prompt).to_have_count(0)

    click_delete(alice.app, "Old plan")
    code = alice.enter_password(users.alice.password)
    alice.enter_code("000000" if code != "000000" else "111111")
    expect(alice.app.message).to_contain_text("Wrong code")
    expect(alice.app.message).to_contain_text("Nothing was changed")
    expect(alice.app.account).to_contain_text(users.alice.email)
    expect(alice.app.project("Old plan")).to_be_visible()
    assert firestore.get_document(f"projects/{project_id}") == before

    # Trying again with the right code goes through, once.
    click_delete(alice.app, "Old plan")
    alice.enter_code(alice.enter_password(users.alice.password))
    expect(alice.app.message).to_have_text("Deleted “Old plan”.")
    expect(alice.app.project("Old plan")).to_have_count(0)
    assert alice.statuses("DELETE") == [401, 401, 401, 204]
    assert firestore.get_document(f"projects/{project_id}") is None


def test_a_sign_in_with_the_second_factor_needs_no_step_up(
    open_app: OpenApp, users: Users, auth: AuthEmulator, firestore: FirestoreEmulator
) -> None:
    """An enrolled user signs in with password and code; her token then meets the rule."""
    auth.enrol_phone_factor(users.alice.uid, PHONE)
    app = open_app("alice")
    alice = StepUp(app, auth)
    app.open()
    app.page.get_by_label("Email").fill(users.alice.email)
    app.page.get_by_label("Password").fill(users.alice.password)
    with app.page.expect_response(lambda r: MFA_START in r.url) as started:
        app.page.get_by_role("button", name="Sign in").click()
    code = auth.verification_code(started.value.json()["phoneResponseInfo"]["sessionInfo"])
    expect(alice.code_prompt).to_contain_text(PHONE[-4:])
    alice.enter_code(code)
    expect(app.account).to_contain_text(users.alice.email)

    app.create_project("Quick")
    project_id = project_id_of(app, "Quick")
    click_delete(app, "Quick")
    expect(app.message).to_have_text("Deleted “Quick”.")
    assert alice.statuses("DELETE") == [204], "no step-up asked"
    assert firestore.get_document(f"projects/{project_id}") is None


def test_cancelling_the_code_at_sign_in_leaves_her_signed_out(
    open_app: OpenApp, users: Users, auth: AuthEmulator
) -> None:
    auth.enrol_phone_factor(users.alice.uid, PHONE)
    app = open_app("alice")
    alice = StepUp(app, auth)
    app.open()
    app.page.get_by_label("Email").fill(users.alice.email)
    app.page.get_by_label("Password").fill(users.alice.password)
    app.page.get_by_role("button", name="Sign in").click()
    alice.code_prompt.get_by_role("button", name="Cancel").click()
    expect(app.message).to_contain_text("Not signed in")
    expect(app.page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(app.account).to_have_count(0)
