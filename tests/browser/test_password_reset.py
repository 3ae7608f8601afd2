"""Forgot your password?: ask for a code, read it from the SMTP server, reset, sign in."""

from pathlib import Path

import pytest

from tests.api.test_password_reset_api import code_of
from tests.browser.conftest import sign_in_root

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots-mfab")
NEW_PASSWORD = "browser-Reset-Password-8"


def _shoot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_it_resets_a_forgotten_password_and_signs_in_with_the_new_one(page, root, smtp_server):
    page.goto("/login/?mode=root")
    page.click("text=Forgot your password?")
    page.wait_for_url("**/login/forgot/")
    _shoot(page, "forgot")
    page.fill("#id_email", root.email)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/reset/")
    assert "reset code is on its way" in page.inner_text("#status")
    (message,) = smtp_server.wait_for(1)
    page.fill("#id_token", code_of(message))
    page.fill("#id_new_password", NEW_PASSWORD)
    page.fill("#id_confirm_password", NEW_PASSWORD)
    _shoot(page, "reset")
    page.click("button[type=submit]")
    page.wait_for_url("**/login/")
    assert "Your password was reset" in page.inner_text("#status")
    sign_in_root(page, root.email, NEW_PASSWORD)


def test_it_shows_a_used_code_as_an_error_by_the_field(page, root, smtp_server, expect_answer):
    expect_answer(400, "/login/reset/")
    page.goto("/login/reset/")
    page.fill("#id_token", "n" * 43)
    page.fill("#id_new_password", NEW_PASSWORD)
    page.fill("#id_confirm_password", NEW_PASSWORD)
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text(".field-error")
    assert page.input_value("#id_token") == ""  # the code is never written back
    _shoot(page, "reset-refused")
