"""The web app in headless Chromium against the backend and the emulators, as people
use it: sign in, create and share a project, see it as the other user, change a role
and see the admin page appear; and the messages for 401, 403, 404, 409 and 412."""

from __future__ import annotations

import os
import shutil

import requests
from playwright.sync_api import Request, expect

from tests.e2e.conftest import ALICE_EMAIL, ARTIFACTS, REPO_ROOT, OpenApp, Stack, Users

#: `UPDATE_SCREENSHOT=1 scripts/test tests/e2e` refreshes the README's picture.
README_SCREENSHOT = REPO_ROOT / "web" / "screenshot.png"


def test_backend_allows_the_web_apps_origin(stack: Stack) -> None:
    response = requests.options(
        f"{stack.api_url}/projects",
        headers={"Origin": stack.web_url, "Access-Control-Request-Method": "PATCH"},
        timeout=10,
    )
    assert response.headers.get("Access-Control-Allow-Origin") == stack.web_url


def test_share_a_project_then_a_role_change_shows_the_admin_page(
    open_app: OpenApp, users: Users
) -> None:
    admin = open_app("admin")
    admin.sign_in(users.admin)
    expect(admin.account.locator(".badge")).to_have_text("admin")
    expect(admin.admin_link).to_be_visible()

    admin.create_project("Launch plan", "Dates, owners and risks for the launch")
    expect(admin.message).to_have_text("Created “Launch plan”.")
    admin.create_project("Team offsite", "Venue and agenda")
    expect(admin.project("Team offsite")).to_be_visible()

    card = admin.manage("Launch plan")
    share = card.get_by_role("form", name="Share")
    share.get_by_label("Share with").fill(ALICE_EMAIL)
    share.get_by_label("as").select_option("editor")
    share.get_by_role("button", name="Share").click()
    expect(admin.message).to_have_text("Shared “Launch plan” with alice@example.com as editor.")
    expect(admin.project("Launch plan").locator(".members")).to_contain_text("alice@example.com")
    admin.manage("Launch plan")  # the picture shows the actions too
    admin.page.screenshot(path=str(ARTIFACTS / "projects.png"))
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(ARTIFACTS / "projects.png", README_SCREENSHOT)

    alice = open_app("alice")
    alice.sign_in(users.alice)
    shared = alice.project("Launch plan")
    expect(shared).to_be_visible()
    expect(shared.locator("header .badge")).to_have_text("editor")
    expect(alice.project("Team offsite")).to_have_count(0)
    expect(alice.admin_link).to_have_count(0)

    admin.admin_link.click()
    find = admin.page.get_by_role("form", name="Find user")
    find.get_by_label("Email").fill(ALICE_EMAIL)
    find.get_by_role("button", name="Find user").click()
    roles = admin.page.get_by_role("form", name="Roles")
    roles.get_by_label("admin").check()
    roles.get_by_role("button", name="Save roles").click()
    expect(admin.message).to_contain_text("Saved: alice@example.com now has admin.")
    audit = admin.page.get_by_role("table", name="Audit log")
    expect(audit).to_contain_text("alice@example.com")

    # Alice's token does not carry the role yet; refreshing the session picks it up.
    expect(alice.admin_link).to_have_count(0)
    alice.page.get_by_role("button", name="Refresh session").click()
    expect(alice.admin_link).to_be_visible()
    expect(alice.account.locator(".badge")).to_have_text("admin")
    alice.admin_link.click()
    expect(alice.page.get_by_role("heading", name="Users and roles")).to_be_visible()
    alice_audit = alice.page.get_by_role("table", name="Audit log")
    expect(alice_audit.locator("tbody tr").first).to_contain_text("roles.set")
    expect(alice_audit.locator("tbody tr").first).to_contain_text("you")
    alice.page.screenshot(path=str(ARTIFACTS / "admin.png"))


def test_removing_a_role_ends_the_session_at_once(open_app: OpenApp, users: Users) -> None:
    admin = open_app("admin")
    admin.sign_in(users.admin)
    admin.admin_link.click()
    find = admin.page.get_by_role("form", name="Find user")
    find.get_by_label("Email").fill(ALICE_EMAIL)
    find.get_by_role("button", name="Find user").click()
    roles = admin.page.get_by_role("form", name="Roles")
    roles.get_by_label("auditor").check()
    roles.get_by_role("button", name="Save roles").click()
    expect(admin.message).to_contain_text("now has auditor")

    alice = open_app("alice")
    alice.sign_in(users.alice)
    alice.admin_link.click()
    expect(alice.page.get_by_role("table", name="Audit log")).to_contain_text("roles.set")
    expect(alice.page.get_by_role("heading", name="Users and roles")).to_have_count(0)

    roles.get_by_label("auditor").uncheck()
    roles.get_by_role("button", name="Save roles").click()
    expect(admin.message).to_contain_text("their sessions were revoked")

    # Her next request is refused (401 token_revoked): the app signs her out and says why.
    alice.page.get_by_role("button", name="Reload").click()
    expect(alice.message).to_contain_text("Please sign in again")
    expect(alice.page.get_by_role("button", name="Sign in")).to_be_visible()


def test_error_messages(open_app: OpenApp, users: Users) -> None:
    tab1 = open_app("alice-1")
    tab1.open()
    tab1.page.get_by_label("Email").fill(users.alice.email)
    tab1.page.get_by_label("Password").fill("not-her-password")
    tab1.page.get_by_role("button", name="Sign in").click()
    expect(tab1.message).to_have_text("Wrong email or password.")
    tab1.sign_in(users.alice)

    # Not an admin: transfer takes a member's email or a user id, no look-up of others.
    tab1.create_project("Draft", "Work in progress")
    card = tab1.manage("Draft")
    transfer = card.get_by_role("form", name="Transfer")
    transfer.get_by_label("New owner").fill("bob@example.com")
    transfer.get_by_role("button", name="Transfer").click()
    expect(tab1.message).to_contain_text("Only admins can look users up by email")
    # 400: sharing by user id checks that the user exists.
    share = card.get_by_role("form", name="Share")
    share.get_by_label("Share with").fill("no-such-user")
    share.get_by_role("button", name="Share").click()
    expect(tab1.message).to_contain_text("There is no user with that id. [400 unknown_user")

    # 412: a second tab renames from a stale copy.
    tab2 = open_app("alice-2")
    tab2.sign_in(users.alice)
    stale = tab2.manage("Draft").get_by_role("form", name="Rename")
    rename = tab1.manage("Draft").get_by_role("form", name="Rename")
    rename.get_by_label("New name").fill("Draft v2")
    rename.get_by_role("button", name="Rename").click()
    expect(tab1.message).to_have_text("Renamed “Draft” to “Draft v2”.")
    stale.get_by_label("New name").fill("Draft v3")
    stale.get_by_role("button", name="Rename").click()
    expect(tab2.message).to_contain_text("Someone else changed this project")
    expect(tab2.message).to_contain_text("[412 precondition_failed")
    expect(tab2.project("Draft v2")).to_be_visible()  # reloaded

    # 404: deleted in one tab, renamed in the other.
    stale = tab2.manage("Draft v2").get_by_role("form", name="Rename")
    card = tab1.manage("Draft v2")
    card.get_by_role("button", name="Delete project").click()
    card.get_by_role("button", name="Click again to delete").click()
    expect(tab1.message).to_have_text("Deleted “Draft v2”.")
    stale.get_by_label("New name").fill("Draft v4")
    stale.get_by_role("button", name="Rename").click()
    expect(tab2.message).to_contain_text("Not found: it was deleted, or you no longer have access")
    expect(tab2.message).to_contain_text("[404 not_found")

    # 409: an admin cannot drop their own admin role.
    admin = open_app("admin")
    admin.sign_in(users.admin)
    admin.admin_link.click()
    find = admin.page.get_by_role("form", name="Find user")
    find.get_by_label("Email").fill(users.admin.email)
    find.get_by_role("button", name="Find user").click()
    roles = admin.page.get_by_role("form", name="Roles")
    roles.get_by_label("admin").uncheck()
    roles.get_by_role("button", name="Save roles").click()
    expect(admin.message).to_contain_text("You cannot remove your own admin role")
    expect(admin.message).to_contain_text("[409 self_demotion")

    # 403: bob's page still offers "Rename", but alice made him a viewer meanwhile.
    tab1.create_project("Shared draft")
    share = tab1.manage("Shared draft").get_by_role("form", name="Share")
    share.get_by_label("Share with").fill(users.bob.uid)
    share.get_by_role("button", name="Share").click()
    expect(tab1.message).to_contain_text("as editor")
    bob = open_app("bob")
    bob.sign_in(users.bob)
    stale = bob.manage("Shared draft").get_by_role("form", name="Rename")
    share = tab1.manage("Shared draft").get_by_role("form", name="Share")
    share.get_by_label("Share with").fill(users.bob.uid)
    share.get_by_label("as").select_option("viewer")
    share.get_by_role("button", name="Share").click()
    expect(tab1.message).to_contain_text("as viewer")
    stale.get_by_label("New name").fill("Bob's name")
    stale.get_by_role("button", name="Rename").click()
    expect(bob.message).to_contain_text("You are not allowed to do that. [403 forbidden")
    card = bob.project("Shared draft")  # reloaded: now read-only
    expect(card.locator("header .badge")).to_have_text("viewer")
    expect(card.locator("details")).to_have_count(0)

    # Transfer: bob becomes the owner, alice stays on as an editor.
    transfer = tab1.manage("Shared draft").get_by_role("form", name="Transfer")
    transfer.get_by_label("New owner").fill(users.bob.uid)
    transfer.get_by_role("button", name="Transfer").click()
    expect(tab1.message).to_contain_text("you stay on it as an editor")
    expect(tab1.project("Shared draft").locator("header .badge")).to_have_text("editor")


def test_the_id_token_is_refreshed_before_it_expires(open_app: OpenApp, users: Users) -> None:
    app = open_app("alice")
    app.page.clock.install()  # the page's timers and Date, moved on by the test
    app.sign_in(users.alice)

    def token_refresh(request: Request) -> bool:
        return "securetoken.googleapis.com/v1/token" in request.url

    # ID tokens live an hour; the app renews them 5 minutes before they expire.
    # (Generous timeouts: the renewal is driven by the fake clock, not by waiting.)
    with app.page.expect_request(token_refresh, timeout=45_000):
        app.page.clock.fast_forward("55:30")
    expect(app.account).to_contain_text("alice@example.com")
    expect(app.page.get_by_role("heading", name="Your projects")).to_be_visible()
    # Renewal on focus is not driven here: the Firebase SDK's own timers run on the
    # fake clock too, so when the renewal is stamped raced the 30 s focus limit.


def test_own_role_changes_apply_at_once(open_app: OpenApp, users: Users) -> None:
    admin = open_app("admin")
    admin.sign_in(users.admin)
    admin.admin_link.click()
    find = admin.page.get_by_role("form", name="Find user")
    find.get_by_label("Email").fill(users.admin.email)
    find.get_by_role("button", name="Find user").click()
    roles = admin.page.get_by_role("form", name="Roles")

    # Granting: the app renews its own ID token at once, which carries the new claim.
    roles.get_by_label("auditor").check()
    roles.get_by_role("button", name="Save roles").click()
    expect(admin.message).to_have_text(
        "Your roles are now: admin, auditor. Your session was refreshed."
    )
    expect(admin.account.locator(".badge")).to_have_text(["admin", "auditor"])

    # Removing revokes the user's sessions, this one included: sign in again.
    roles.get_by_label("auditor").uncheck()
    roles.get_by_role("button", name="Save roles").click()
    expect(admin.message).to_contain_text("Your roles are now: admin.")
    expect(admin.message).to_contain_text("please sign in again")
    expect(admin.page.get_by_role("button", name="Sign in")).to_be_visible()
