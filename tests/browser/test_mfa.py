"""TOTP MFA in a real browser: enrol with the QR code's secret and a code, see the backup
codes once, sign in with a code, sign in with a backup code (which then no longer works)."""

from pathlib import Path

import pyotp
import pytest

from security import mfa
from security.models import BackupCode, TotpDevice
from tests.browser.conftest import sign_in_root
from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots-mfaa")
T0 = 1_800_000_000.0


def shot(page, name: str) -> None:
    """Screenshots at desktop and phone sizes (docs/testing.md)."""
    SHOTS.mkdir(exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture
def clock(monkeypatch):
    moment = {"t": T0}
    monkeypatch.setattr(mfa, "clock", lambda: moment["t"])
    return moment


def sign_out(page) -> None:
    page.click("form[action='/logout/'] button")
    page.wait_for_url("**/login/")


def password_step(page, email: str) -> None:
    page.goto("/login/?mode=root")
    page.fill("#id_root-email", email)
    page.fill("#id_root-password", ROOT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/verify/")


def enrol(page, clock) -> tuple[str, list[str]]:
    page.click("a.account-link")
    page.wait_for_url("**/security/account/mfa/")
    page.click("text=Set up an authenticator app")
    page.wait_for_selector("#mfa-qr svg")
    shot(page, "enrol-qr")
    secret = page.inner_text("#mfa-secret").strip()
    page.fill("#id_mfa_code", pyotp.TOTP(secret).at(clock["t"]))
    page.click("text=Confirm and turn on MFA")
    page.wait_for_selector("#backup-codes")
    shot(page, "backup-codes")
    codes = page.inner_text("#backup-codes").split()
    return secret, codes


def test_it_enrols_root_and_signs_in_with_a_code(page, root, live_server, clock):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in_root(page, root.email, ROOT_PASSWORD)
    secret, codes = enrol(page, clock)
    assert len(codes) == 10
    assert TotpDevice.objects.get(principal=root).status == "ACTIVE"
    assert page.is_visible("a[data-text-download]")
    page.click("button[data-copy-target=backup-codes]")
    page.wait_for_selector("button[data-copy-target=backup-codes][data-copied]")
    assert page.evaluate("navigator.clipboard.readText()").split() == codes
    page.click("text=Done: I saved the codes")
    page.wait_for_url("**/security/account/mfa/")
    assert "MFA active" in page.inner_text("#mfa-status")
    shot(page, "account-mfa-active")

    sign_out(page)
    clock["t"] += 30
    password_step(page, root.email)
    shot(page, "second-step")
    page.fill("#id_code", pyotp.TOTP(secret).at(clock["t"]))
    page.click("button[type=submit]")
    page.wait_for_url("**/security/users/")
    assert "root" in page.inner_text(".whoami")


def test_it_signs_in_with_a_backup_code_once(page, root, clock, expect_answer):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    _secret, codes = enrol(page, clock)
    sign_out(page)

    password_step(page, root.email)
    page.fill("#id_code", codes[3])
    page.click("button[type=submit]")
    page.wait_for_url("**/security/users/")
    assert BackupCode.objects.filter(principal=root, used_at__isnull=False).count() == 1
    sign_out(page)

    expect_answer(400, "/login/verify/")
    password_step(page, root.email)
    page.fill("#id_code", codes[3])
    page.click("button[type=submit]")
    page.wait_for_selector("p.error")
    assert "did not work" in page.inner_text("p.error")
    shot(page, "backup-code-reused")
    assert page.url.endswith("/login/verify/")
