"""App Check in the browser, with the real Firebase JS SDK: the web app built with a
``CustomProvider`` whose tokens come from a small token minter served here (signed with
the unit tier's App Check test key, whose JWKS a local server publishes in place of
App Check's), against a backend with ``APP_CHECK=enforce``.

Checked: every API call carries ``X-Firebase-AppCheck``; a role change (a single-use
operation) works twice in a row, each with a fresh limited-use token; and a build
without App Check gets ``401 app_check_failed``, shown as a message, still signed in.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Request, expect

from tests.e2e.conftest import (
    ALICE_EMAIL,
    OpenApp,
    Stack,
    Users,
    build_web,
    free_port,
    running_backend,
    serving,
    static_server,
)
from tests.unit import app_check_forge as forge
from tests.unit import tokenforge
from tests.unit.tokenforge import CertServer

HEADER = "x-firebase-appcheck"  # as Playwright reports request headers


class Minter:
    """A token endpoint for the app's ``CustomProvider``: each POST answers a new App
    Check token (a fresh ``jti``) as ``{"token", "expireTimeMillis"}``."""

    def __init__(self, project_id: str, allowed_origin: str) -> None:
        self.minted: list[str] = []
        audience = [f"projects/{forge.PROJECT_NUMBER}", f"projects/{project_id}"]
        minter = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                token = forge.mint({"aud": audience})
                minter.minted.append(token)
                expires = int((time.time() + forge.TOKEN_LIFETIME_SECONDS) * 1000)
                body = json.dumps({"token": token, "expireTimeMillis": expires}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Access-Control-Allow-Origin", allowed_origin)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/app-check-token"

    def __enter__(self) -> Minter:
        threading.Thread(target=self.server.serve_forever, name="minter", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclasses.dataclass(frozen=True)
class AppCheckStack:
    stack: Stack
    #: The same app built without App Check, against the same backend.
    plain_web_url: str
    minter: Minter


@pytest.fixture(scope="module")
def app_check_stack(
    project_id: str, tmp_path_factory: pytest.TempPathFactory, artifacts: Path
) -> Iterator[AppCheckStack]:
    with_app_check, without = (
        tmp_path_factory.mktemp("web-app-check"),
        tmp_path_factory.mktemp("web-plain"),
    )
    static, web_url = static_server(with_app_check)
    plain, plain_url = static_server(without)
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    with (
        CertServer(forge.jwks(tokenforge.signing_key())) as jwks,
        Minter(project_id, web_url) as minter,
    ):
        build_web(
            with_app_check,
            project_id,
            api_url,
            VITE_APP_CHECK_PROVIDER="custom",
            VITE_APP_CHECK_TOKEN_URL=minter.url,
        )
        build_web(without, project_id, api_url)
        settings = {
            "APP_CHECK": "enforce",
            "FIREBASE_PROJECT_NUMBER": forge.PROJECT_NUMBER,
            "APP_CHECK_JWKS_URL": jwks.url,
        }
        with (
            serving(static),
            serving(plain),
            running_backend(
                project_id,
                [web_url, plain_url],
                port=api_port,
                log_name="backend-app-check.log",
                settings=settings,
            ),
        ):
            yield AppCheckStack(Stack(web_url, api_url, project_id), plain_url, minter)


@pytest.fixture(scope="module")
def stack(app_check_stack: AppCheckStack) -> Stack:
    """This module's apps and users use the App Check backend."""
    return app_check_stack.stack


def test_every_call_carries_app_check_and_role_changes_get_fresh_tokens(
    open_app: OpenApp, users: Users, app_check_stack: AppCheckStack
) -> None:
    admin = open_app("admin")
    calls: list[Request] = []

    def record(request: Request) -> None:
        if request.url.startswith(app_check_stack.stack.api_url):
            calls.append(request)

    admin.page.on("request", record)
    admin.sign_in(users.admin)
    admin.create_project("Attested", "made with App Check")
    expect(admin.message).to_have_text("Created “Attested”.")
    expect(admin.project("Attested")).to_be_visible()

    admin.admin_link.click()
    find = admin.page.get_by_role("form", name="Find user")
    find.get_by_label("Email").fill(ALICE_EMAIL)
    find.get_by_role("button", name="Find user").click()
    roles = admin.page.get_by_role("form", name="Roles")
    roles.get_by_label("auditor").check()
    roles.get_by_role("button", name="Save roles").click()
    expect(admin.message).to_contain_text("Saved: alice@example.com now has auditor.")
    roles = admin.page.get_by_role("form", name="Roles")
    roles.get_by_label("admin").check()
    roles.get_by_role("button", name="Save roles").click()
    expect(admin.message).to_contain_text("Saved: alice@example.com now has admin, auditor.")

    sent = [call for call in calls if call.method != "OPTIONS"]
    assert sent, "the app called the API"
    missing = [f"{call.method} {call.url}" for call in sent if not call.headers.get(HEADER)]
    assert missing == [], "every API call carries X-Firebase-AppCheck"
    role_changes = [call.headers[HEADER] for call in sent if call.method == "PUT"]
    assert len(role_changes) == 2
    assert len(set(role_changes)) == 2, "a fresh limited-use token for each role change"
    ordinary = {call.headers[HEADER] for call in sent if call.method != "PUT"}
    assert not ordinary & set(role_changes), "single-use tokens are not the cached one"
    assert set(role_changes) <= set(app_check_stack.minter.minted)


def test_without_app_check_the_api_refusal_is_a_message(
    open_app: OpenApp, users: Users, app_check_stack: AppCheckStack
) -> None:
    app = open_app("plain")
    app.stack = dataclasses.replace(app_check_stack.stack, web_url=app_check_stack.plain_web_url)
    calls: list[Request] = []
    app.page.on(
        "request",
        lambda request: (
            calls.append(request) if request.url.startswith(app_check_stack.stack.api_url) else None
        ),
    )
    app.sign_in(users.alice)  # Firebase Auth works; the API refuses the app
    expect(app.message).to_contain_text("App Check")
    expect(app.message).to_contain_text("[401 app_check_failed")
    expect(app.message).to_contain_text("You are still signed in")
    expect(app.account).to_contain_text(users.alice.email)  # not signed out
    expect(app.page.get_by_text("Could not load your account from the backend.")).to_be_visible()
    assert calls
    assert all(not call.headers.get(HEADER) for call in calls)
