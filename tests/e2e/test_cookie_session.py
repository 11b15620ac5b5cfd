"""The web app in cookie mode: after sign-in the fresh ID token is traded once for the
API's HttpOnly ``__session`` cookie (``POST /session``); API calls then carry the
cookie and no Authorization header; signing out ends the session on the server
(``DELETE /session``), and a revoked cookie sends the page back to sign-in."""

from __future__ import annotations

import re
from typing import Any

import requests
from playwright.sync_api import Page, Request, expect

from tests.e2e.conftest import OpenApp, Stack, Users

COOKIE = "__session"
FETCH_WITH_COOKIES = """async (url) => {
  const response = await fetch(url, { credentials: 'include', cache: 'no-store' });
  return { status: response.status, body: await response.json() };
}"""


def session_cookie(page: Page, stack: Stack) -> dict[str, Any] | None:
    """The browser's ``__session`` cookie for the API, as Playwright sees it (HttpOnly too)."""
    found = [c for c in page.context.cookies(stack.api_url) if c.get("name") == COOKIE]
    return dict(found[0]) if found else None


def path_of(request: Request, stack: Stack) -> str:
    return request.url.removeprefix(stack.api_url)


def test_backend_lets_the_web_app_send_credentials(stack: Stack) -> None:
    response = requests.options(
        f"{stack.api_url}/session",
        headers={"Origin": stack.web_url, "Access-Control-Request-Method": "DELETE"},
        timeout=10,
    )
    assert response.headers.get("Access-Control-Allow-Origin") == stack.web_url
    assert response.headers.get("Access-Control-Allow-Credentials") == "true"


def test_cookie_mode_signs_in_calls_the_api_and_signs_out(
    open_app: OpenApp, users: Users, stack: Stack
) -> None:
    app = open_app("alice")
    page = app.page
    app.open()
    cookie_mode = page.get_by_role("radio", name="Cookie")
    expect(page.get_by_role("radio", name="Bearer token")).to_be_checked()  # the build's default
    cookie_mode.check()
    expect(page).to_have_url(re.compile(r"\?mode=cookie$"))
    page.reload()  # the choice lives in the URL only
    expect(cookie_mode).to_be_checked()

    api_calls: list[Request] = []

    def record(request: Request) -> None:
        if request.url.startswith(stack.api_url):
            api_calls.append(request)

    page.on("request", record)
    page.get_by_label("Email").fill(users.alice.email)
    page.get_by_label("Password").fill(users.alice.password)
    page.get_by_role("button", name="Sign in").click()
    expect(app.account).to_contain_text(users.alice.email)
    expect(app.account).to_contain_text("cookie session")

    # The cookie: HttpOnly, Secure (accepted on http://127.0.0.1, a secure context),
    # SameSite=Strict, and invisible to the page's scripts.
    cookie = session_cookie(page, stack)
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Strict")
    assert cookie["domain"] == "127.0.0.1"
    assert cookie["path"] == "/"
    assert COOKIE not in page.evaluate("document.cookie")

    app.create_project("Cookie jar", "Made with a session cookie")
    expect(app.message).to_have_text("Created “Cookie jar”.")
    expect(app.project("Cookie jar")).to_be_visible()

    # POST /session alone carries the ID token; every call after it the cookie only.
    calls = [(r.method, path_of(r, stack), r.all_headers()) for r in api_calls]
    sent = [(method, path) for method, path, _ in calls]
    assert sent[:2] == [("POST", "/session"), ("GET", "/me")]
    assert calls[0][2]["authorization"].startswith("Bearer ")
    assert ("POST", "/projects") in sent
    assert any(method == "GET" and path.startswith("/projects") for method, path in sent)
    for method, path, headers in calls[1:]:
        assert "authorization" not in headers, f"{method} {path} sent an Authorization header"
        assert f"{COOKIE}=" in headers.get("cookie", ""), f"{method} {path} sent no cookie"

    # Signing out ends the session on the server (DELETE /session), then in Firebase.
    old_value = cookie["value"]
    api_calls.clear()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(cookie_mode).to_be_checked()
    assert [(r.method, path_of(r, stack)) for r in api_calls] == [("DELETE", "/session")]
    ended = api_calls[0].response()
    assert ended is not None
    assert ended.status == 204
    assert "authorization" not in api_calls[0].all_headers()
    assert session_cookie(page, stack) is None

    # The old cookie, put back, is refused: DELETE /session revoked the user's sessions.
    page.context.add_cookies(
        [
            {
                "name": COOKIE,
                "value": old_value,
                "url": stack.api_url,
                "httpOnly": True,
                "secure": True,
                "sameSite": "Strict",
            }
        ]
    )
    replay = page.evaluate(FETCH_WITH_COOKIES, f"{stack.api_url}/me")
    assert (replay["status"], replay["body"]["error"]["code"]) == (401, "token_revoked")


def test_a_revoked_cookie_session_returns_to_sign_in(open_app: OpenApp, users: Users) -> None:
    first = open_app("alice-1")
    first.sign_in(users.alice, mode="cookie")
    expect(first.page.get_by_role("heading", name="Your projects")).to_be_visible()

    # Signing out in another browser revokes all of Alice's sessions, this cookie too.
    second = open_app("alice-2")
    second.sign_in(users.alice, mode="cookie")
    second.page.get_by_role("button", name="Sign out").click()
    expect(second.page.get_by_role("button", name="Sign in")).to_be_visible()

    first.page.get_by_role("button", name="Refresh session").click()
    expect(first.message).to_contain_text("Please sign in again")
    expect(first.message).to_contain_text("[401 token_revoked")
    expect(first.page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(first.page.get_by_role("radio", name="Cookie")).to_be_checked()


def test_a_failed_cookie_exchange_leaves_you_signed_out(
    open_app: OpenApp, users: Users, stack: Stack
) -> None:
    app = open_app("alice")
    app.page.route(f"{stack.api_url}/session", lambda route: route.abort())
    app.open(mode="cookie")
    app.page.get_by_label("Email").fill(users.alice.email)
    app.page.get_by_label("Password").fill(users.alice.password)
    app.page.get_by_role("button", name="Sign in").click()
    expect(app.message).to_contain_text(f"Could not reach the backend at {stack.api_url}")
    expect(app.page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(app.account).to_have_count(0)
    assert session_cookie(app.page, stack) is None
