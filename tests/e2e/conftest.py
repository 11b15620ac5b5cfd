"""Fixtures of the browser tier: the web app built for the emulators, the backend,
headless Chromium, and users.

The tier builds ``web/`` once (Vite, pointed at the Auth emulator and at a
backend port chosen here), serves it from a local static server, and starts the
backend (functions-framework, target ``local``) in a subprocess with CORS for the
web app's origin. Like the integration tier, it needs the emulators that
``scripts/test`` starts, and stops the run when they are absent.

Chromium is Debian's (``/usr/bin/chromium``, or ``CHROMIUM_PATH``), driven by the
Python ``playwright`` package; no browser is downloaded. Without it every test of
this tier fails with the command that installs it: never skipped.

On failure each open page is saved to ``test-artifacts/e2e/<test>-<page>.png`` with
its console log; the backend's log is ``test-artifacts/e2e/backend.log``.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.integration.emulator import AuthEmulator, FirestoreEmulator, stop_unless_emulators

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = REPO_ROOT / "web"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
CHROMIUM_DEFAULT = "/usr/bin/chromium"
#: The flags this machine kind needs (no sandbox as root; no calls to Google's hosts).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "the browser tests need Debian's Chromium at /usr/bin/chromium (or set CHROMIUM_PATH). "
    "Install it with: sudo apt-get update && sudo apt-get install -y chromium"
)
START_TIMEOUT_SECONDS = 60
#: Generous for a loaded 2-core CI machine; a passing run waits far less.
expect.set_options(timeout=10_000)
ADMIN_EMAIL, ALICE_EMAIL, BOB_EMAIL = "admin@example.com", "alice@example.com", "bob@example.com"

_phase_reports = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stop the run when browser tests are collected but the emulators are absent."""
    stop_unless_emulators(
        items,
        Path(__file__).parent,
        "browser tests",
        "Run them with `scripts/test tests/e2e` (it starts and stops the emulators).",
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can tell that a test failed."""
    report = yield
    item.stash.setdefault(_phase_reports, {})[report.when] = report
    return report


# --- the stack: web app, backend, browser ------------------------------------------


@dataclass(frozen=True)
class Stack:
    web_url: str
    api_url: str
    project_id: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the backend exited with {process.returncode}:\n{_tail(log)}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"the backend did not listen on port {port} within {START_TIMEOUT_SECONDS} s")


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class _StaticFiles(SimpleHTTPRequestHandler):
    """Serves the built app quietly (its requests are not test output)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _build_web(out_dir: Path, env: dict[str, str]) -> None:
    if not (WEB_DIR / "node_modules" / ".bin" / "vite").exists():
        pytest.fail(
            "web/node_modules is missing: run the tests with scripts/test (it installs them), "
            "or run `npm --prefix web ci`"
        )
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm not found: install Node.js >= 20")
    log = ARTIFACTS / "web-build.log"
    with log.open("wb") as output:
        result = subprocess.run(
            [npm, "run", "build", "--", "--outDir", str(out_dir), "--emptyOutDir"],
            cwd=WEB_DIR,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=300,
        )
    if result.returncode != 0:
        pytest.fail(f"building web/ failed (exit {result.returncode}):\n{_tail(log)}")


@pytest.fixture(scope="session")
def project_id() -> str:
    return os.environ.get("GCLOUD_PROJECT") or os.environ.get("PROJECT_ID") or "demo-backend"


def static_server(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    """A quiet static server for ``directory`` on a free local port, and its origin."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_StaticFiles, directory=str(directory))
    )
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def build_web(out_dir: Path, project_id: str, api_url: str, **extra: str) -> None:
    """``web/`` built for the emulators and the backend at ``api_url``; ``extra``: more
    VITE_ settings (App Check, say)."""
    _build_web(
        out_dir,
        {
            "VITE_FIREBASE_PROJECT_ID": project_id,
            "VITE_FIREBASE_API_KEY": "e2e-api-key",
            "VITE_AUTH_EMULATOR": os.environ["FIREBASE_AUTH_EMULATOR_HOST"],
            "VITE_API_BASE": api_url,
            # The default; cookie-mode tests choose it on the page (toggle or ?mode=cookie).
            "VITE_SESSION_MODE": "bearer",
            **extra,
        },
    )


@contextmanager
def running_backend(
    project_id: str,
    origins: list[str],
    *,
    port: int | None = None,
    log_name: str = "backend.log",
    settings: dict[str, str] | None = None,
) -> Iterator[str]:
    """The backend (``local``) on ``port`` (default: a free one), with CORS for
    ``origins`` and ``settings`` as extra environment variables; yields its base URL and
    stops it after."""
    api_port = port if port is not None else free_port()
    log = ARTIFACTS / log_name
    command = [sys.executable, "-m", "functions_framework", "--source", "main.py"]
    command += ["--target", "local", "--host", "127.0.0.1", "--port", str(api_port)]
    with log.open("wb") as output:
        backend = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={
                **os.environ,
                "GOOGLE_CLOUD_PROJECT": project_id,
                "CORS_ALLOWED_ORIGINS": ",".join(origins),
                "PYTHONUNBUFFERED": "1",
                **(settings or {}),
            },
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(api_port, backend, log)
        yield f"http://127.0.0.1:{api_port}"
    finally:
        backend.terminate()
        try:
            backend.wait(timeout=10)
        except subprocess.TimeoutExpired:
            backend.kill()
            backend.wait()


@contextmanager
def web_and_backend(
    project_id: str,
    builds: Mapping[str, tuple[Path, Mapping[str, str]]],
    *,
    log_name: str = "backend.log",
    settings: dict[str, str] | None = None,
) -> Iterator[tuple[dict[str, str], str]]:
    """Each named build of ``web/`` (its output directory and extra VITE_ settings) served
    on a port of its own, and one backend (``running_backend``, with ``settings``) that
    allows all their origins; yields each build's URL by name, and the backend's URL."""
    servers = {name: static_server(dist) for name, (dist, _) in builds.items()}
    api_port = free_port()
    for dist, extra in builds.values():
        build_web(dist, project_id, f"http://127.0.0.1:{api_port}", **extra)
    urls = {name: url for name, (_, url) in servers.items()}
    with ExitStack() as running:
        for server, _ in servers.values():
            running.enter_context(serving(server))
        api_url = running.enter_context(
            running_backend(
                project_id, list(urls.values()), port=api_port, log_name=log_name, settings=settings
            )
        )
        yield urls, api_url


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, name="web-static", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """This run's screenshots and logs (emptied once per run)."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def stack(
    project_id: str, tmp_path_factory: pytest.TempPathFactory, artifacts: Path
) -> Iterator[Stack]:
    """The built web app on one local port and the backend on another, CORS between them."""
    dist = tmp_path_factory.mktemp("web-dist")
    with web_and_backend(project_id, {"web": (dist, {})}) as (urls, api_url):
        yield Stack(web_url=urls["web"], api_url=api_url, project_id=project_id)


def chromium_path() -> str:
    """Debian's Chromium, or CHROMIUM_PATH; fails the test with how to install it."""
    configured = os.environ.get("CHROMIUM_PATH")
    candidates = [configured] if configured else [CHROMIUM_DEFAULT, shutil.which("chromium")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        INSTALL_HINT + (f" (CHROMIUM_PATH={configured} is not executable)" if configured else "")
    )


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Playwright gives every launch a new, empty profile directory.
    chromium = playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


# --- users --------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    uid: str


@dataclass(frozen=True)
class Users:
    admin: DemoUser
    alice: DemoUser
    bob: DemoUser


@pytest.fixture
def users(project_id: str, stack: Stack) -> Users:
    """Empty emulators, then three verified users; admin@example.com is made admin by
    ``tools.make_admin``, as scripts/dev does."""
    auth = AuthEmulator(os.environ["FIREBASE_AUTH_EMULATOR_HOST"], project_id)
    auth.wipe()
    FirestoreEmulator(os.environ["FIRESTORE_EMULATOR_HOST"], project_id).wipe()
    made = []
    for email in (ADMIN_EMAIL, ALICE_EMAIL, BOB_EMAIL):
        password = secrets.token_urlsafe(12)
        uid = auth.sign_up(email, password).uid
        auth.set_email_verified(uid, True)
        made.append(DemoUser(email, password, uid))
    from tools import make_admin

    assert make_admin.main(["--email", ADMIN_EMAIL]) == 0
    return Users(*made)


# --- pages --------------------------------------------------------------------------


@dataclass
class _OpenPage:
    name: str
    page: Page
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class WebApp:
    """One browser tab of the web app, as one person uses it."""

    def __init__(self, page: Page, stack: Stack) -> None:
        self.page = page
        self.stack = stack

    def open(self, mode: str | None = None) -> None:
        """The sign-in page; ``mode`` ("bearer" or "cookie") goes in the URL as ``?mode=``."""
        self.page.goto(self.stack.web_url + (f"/?mode={mode}" if mode else ""))

    def sign_in(self, user: DemoUser, mode: str | None = None) -> None:
        self.open(mode)
        self.page.get_by_label("Email").fill(user.email)
        self.page.get_by_label("Password").fill(user.password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.account).to_contain_text(user.email)

    @property
    def account(self) -> Locator:
        return self.page.get_by_test_id("account")

    @property
    def message(self) -> Locator:
        return self.page.locator("#message")

    @property
    def admin_link(self) -> Locator:
        return self.page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin")

    def project(self, name: str) -> Locator:
        return self.page.get_by_role("article", name=name, exact=True)

    def create_project(self, name: str, description: str = "") -> None:
        form = self.page.get_by_role("form", name="New project")
        form.get_by_label("Name").fill(name)
        form.get_by_label("Description").fill(description)
        form.get_by_role("button", name="Create project").click()

    def manage(self, name: str) -> Locator:
        """The project's card with its actions opened."""
        card = self.project(name)
        details = card.locator("details")
        if details.get_attribute("open") is None:
            card.locator("summary").click()
        return card


OpenApp = Callable[[str], WebApp]


@pytest.fixture
def open_app(browser: Browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[OpenApp]:
    """Factory: a new tab of the web app in its own browser context (its own session)."""
    opened: list[_OpenPage] = []
    contexts = []

    def open_app(name: str) -> WebApp:
        context = browser.new_context(viewport={"width": 1200, "height": 820})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        record = _OpenPage(name, page)

        def on_console(message: ConsoleMessage) -> None:
            record.console.append(f"{message.type}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: record.errors.append(str(error)))
        opened.append(record)
        return WebApp(page, stack)

    yield open_app

    reports = request.node.stash.get(_phase_reports, {})
    failed = any(report.failed for report in reports.values())
    if failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for record in opened:
            stem = f"{request.node.name}-{record.name}"
            try:
                record.page.screenshot(path=str(ARTIFACTS / f"{stem}.png"), full_page=True)
            except Exception as error:  # noqa: BLE001 - a screenshot must not hide the failure
                print(f"could not save a screenshot of {record.name}: {error}")
            (ARTIFACTS / f"{stem}.console.txt").write_text(
                "\n".join(record.console + [f"pageerror: {e}" for e in record.errors]) + "\n"
            )
        print(f"screenshots and console logs of the failed browser test: {ARTIFACTS}")
    for context in contexts:
        context.close()
    if not failed:
        problems = [
            f"{record.name}: {line}"
            for record in opened
            for line in record.errors
            + [c for c in record.console if "Content Security Policy" in c]
        ]
        assert not problems, "the page reported errors:\n" + "\n".join(problems)
