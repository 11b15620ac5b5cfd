"""The stale-claims signal in the browser: an admin grants a role to a user who is
signed in; the user's next action is answered with ``X-Claims-Stale: 1``, and the web
app renews the ID token once and shows the role, without signing in again."""

from __future__ import annotations

from playwright.sync_api import Request, Response, expect

from tests.e2e.conftest import ALICE_EMAIL, OpenApp, Stack, Users


def test_a_granted_role_shows_after_the_next_action(
    open_app: OpenApp, users: Users, stack: Stack
) -> None:
    alice = open_app("alice")
    alice.sign_in(users.alice)
    expect(alice.admin_link).to_have_count(0)
    expect(alice.account.locator(".badge")).to_have_count(0)

    marked: list[str] = []
    refreshes: list[str] = []

    def on_response(response: Response) -> None:
        if response.url.startswith(stack.api_url) and response.headers.get("x-claims-stale"):
            marked.append(f"{response.request.method} {response.url}")

    def on_request(request: Request) -> None:
        if "securetoken.googleapis.com/v1/token" in request.url:
            refreshes.append(request.url)

    alice.page.on("response", on_response)
    alice.page.on("request", on_request)

    admin = open_app("admin")
    admin.sign_in(users.admin)
    admin.admin_link.click()
    find = admin.page.get_by_role("form", name="Find user")
    find.get_by_label("Email").fill(ALICE_EMAIL)
    find.get_by_role("button", name="Find user").click()
    roles = admin.page.get_by_role("form", name="Roles")
    roles.get_by_label("auditor").check()
    roles.get_by_role("button", name="Save roles").click()
    expect(admin.message).to_contain_text("Saved: alice@example.com now has auditor.")
    assert marked == [], "alice has made no request since"

    # Alice's next action carries her old token: the answer is marked, and the app
    # renews the token and shows the role (no "Refresh session", no new sign-in).
    alice.create_project("Notes", "after the grant")
    expect(alice.account.locator(".badge")).to_have_text("auditor")
    expect(alice.admin_link).to_be_visible()
    expect(alice.message).to_contain_text("Roles: auditor.")
    assert marked, "the backend marked alice's first request after the grant"
    assert len(refreshes) == 1, "one renewal for the mark"

    # The new token carries the role: auditors read the audit log, and nothing is
    # marked any more, so nothing is renewed again.
    alice.admin_link.click()
    audit = alice.page.get_by_role("table", name="Audit log")
    expect(audit.locator("tbody tr").first).to_contain_text("roles.set")
    count = len(marked)
    alice.page.get_by_role("button", name="Reload").click()
    expect(audit.locator("tbody tr").first).to_contain_text("roles.set")
    alice.page.get_by_role("link", name="Projects").click()
    expect(alice.project("Notes")).to_be_visible()
    assert len(marked) == count
    assert len(refreshes) == 1
