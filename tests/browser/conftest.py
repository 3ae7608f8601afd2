"""Playwright against a live server, driving Debian's Chromium (no browser download)."""

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.servers.basehttp import WSGIServer
from pytest_django.live_server_helper import LiveServer

CHROMIUM = os.environ.get("LATCHKEY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


class _OneRequestAtATime(WSGIServer):
    """A live server that answers one request at a time, on the thread that serves.

    With SQLite the test database is in memory: one connection, shared by the test and the
    server (pytest-django passes it over). Django's threaded live server would run two
    requests of one page (htmx loads regions side by side) on that one connection at once,
    which corrupts the cursor under either. PostgreSQL gives each thread its own connection,
    so it keeps the threaded server.
    """

    def __init__(self, *args, connections_override=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, serial when the database is one shared connection."""
    addr = request.config.getvalue("liveserver") or "localhost"
    server = LiveServer(addr, start=False)
    if server.thread.connections_override:
        server.thread.server_class = _OneRequestAtATime
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


# Answers of the console itself (a page, an HTMX request) that a test may expect to be a
# 4xx; every other resource (stylesheet, script, image, font ...) must load, whatever it is.
APP_ANSWERS = {"document", "xhr", "fetch"}


def _is_error(message) -> bool:
    # Chromium logs every 4xx; the response listener below decides which ones are failures.
    expected = "Failed to load resource: the server responded with a status of 4"
    return message.type == "error" and not message.text.startswith(expected)


@pytest.fixture
def expected_answers() -> list[tuple[int, str]]:
    return []


@pytest.fixture
def expect_answer(expected_answers):
    """Declare a 4xx answer of the console the test provokes (a refused form): (status, path)."""

    def expect(status: int, path: str) -> None:
        assert 400 <= status < 500, "5xx answers are never expected"
        expected_answers.append((status, path))

    return expect


@pytest.fixture
def page(browser, live_server, request, expected_answers):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    seen: list[tuple[int, str]] = []

    def on_response(response) -> None:
        if response.status < 400:
            return
        kind = response.request.resource_type
        answer = (response.status, urlsplit(response.url).path)
        if kind in APP_ANSWERS and answer in expected_answers:
            seen.append(answer)
            return
        errors.append(f"{response.status} {kind} {response.request.method} {response.url}")

    page.on("console", lambda m: errors.append(m.text) if _is_error(m) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Any resource the page loads answering 4xx/5xx (a misspelt stylesheet, a missing
    # script, a 500 behind an HTMX swap) fails the test, unless the test declared it.
    page.on("response", on_response)
    yield page
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{request.node.name}.png", full_page=True)
    context.close()
    # CSP violations and script errors show up here; a clean console is part of the test.
    assert not errors, errors
    missing = [answer for answer in expected_answers if answer not in seen]
    assert not missing, f"declared answers that never came: {missing}"


def sign_in_root(page, email: str, password: str) -> None:
    page.goto("/login/?mode=root")
    page.fill("#id_root-email", email)
    page.fill("#id_root-password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/security/users/")


def sign_in_sam(page, operator_id: str, user_name: str, password: str) -> None:
    page.goto("/login/?mode=sam")
    page.fill("#id_sam-operator_id", operator_id)
    page.fill("#id_sam-user_name", user_name)
    page.fill("#id_sam-password", password)
    page.click("button[type=submit]")
