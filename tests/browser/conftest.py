"""Playwright against a live server, driving Debian's Chromium (no browser download)."""

import os
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


def _is_error(message) -> bool:
    # 4xx answers (a refused form, a 403 dialog) are expected; Chromium logs them anyway.
    expected = "Failed to load resource: the server responded with a status of 4"
    return message.type == "error" and not message.text.startswith(expected)


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if _is_error(m) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{request.node.name}.png", full_page=True)
    context.close()
    # CSP violations and script errors show up here; a clean console is part of the test.
    assert not errors, errors


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
