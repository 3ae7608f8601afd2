"""Passkeys in a real browser, with Chromium's virtual authenticator (DevTools protocol):
register one, sign in with it alone, and use it as the second step after the password."""

import pytest

from security.models import AuditEntry, Passkey
from tests.browser.conftest import sign_in_root
from tests.browser.test_mfa import shot, sign_out
from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def authenticator(page):
    """A platform authenticator with user verification, that answers without a touch."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    found = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield cdp, found["authenticatorId"]


def register(page, name: str) -> None:
    page.goto("/security/account/mfa/")
    page.fill("#id_passkey_name", name)
    page.click("button[data-passkey-register]")
    page.wait_for_selector(f"li[data-passkey='{name}']")


def test_it_registers_a_passkey_and_signs_in_with_it_alone(page, root, authenticator):
    cdp, authenticator_id = authenticator
    sign_in_root(page, root.email, ROOT_PASSWORD)
    register(page, "Virtual key")
    shot(page, "passkeys-registered")
    passkey = Passkey.objects.get(principal=root)
    assert passkey.name == "Virtual key"
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert len(credentials["credentials"]) == 1
    assert credentials["credentials"][0]["rpId"] == "localhost"

    sign_out(page)
    page.click("#passkey-only")
    page.wait_for_url("**/security/users/")
    assert "root" in page.inner_text(".whoami")
    entry = AuditEntry.objects.filter(action="Console:signIn").order_by("seq").last()
    assert entry.details["secondFactor"] == "passkey"
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None


def test_it_uses_a_passkey_as_the_second_step(page, root, authenticator):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    register(page, "Laptop")
    sign_out(page)
    page.goto("/login/?mode=root")
    page.fill("#id_root-email", root.email)
    page.fill("#id_root-password", ROOT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/verify/")
    shot(page, "second-step-passkey")
    page.click("#passkey-sign-in")
    page.wait_for_url("**/security/users/")
    assert page.context.cookies()  # signed in: the console session cookie is set


def test_it_removes_a_passkey(page, root, authenticator):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    register(page, "Old key")
    page.click("li[data-passkey='Old key'] button[type=submit]")
    page.wait_for_url("**/security/account/mfa/")
    assert not Passkey.objects.filter(principal=root).exists()
    assert AuditEntry.objects.filter(action="Operator:deletePasskey").count() == 1
