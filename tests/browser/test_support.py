"""Support staff revoke a leaked AuthKey in a browser; root sees it in the audit log."""

import pytest

from accounts.models import Principal
from security import authkeys
from tests.browser.conftest import sign_in_root
from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.browser

STAFF_PASSWORD = "staff-Password-4321"


@pytest.fixture
def staff(db) -> Principal:
    return Principal.objects.create_staff("helpdesk", STAFF_PASSWORD, Principal.StaffRole.SUPPORT)


def sign_in_staff(page) -> None:
    page.goto("/staff/login/?next=/staff/authkeys/")
    page.fill("#id_handle", "helpdesk")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/staff/authkeys/")


def test_it_lets_staff_look_up_and_revoke_a_key(page, staff, root, alice, browser, live_server):
    key, secret = authkeys.generate(None, root, alice)
    sign_in_staff(page)
    page.fill("#key_id", key.key_id)
    page.click("form.lookup button[type=submit]")
    page.wait_for_selector("#key-owner")
    owner = page.inner_text("#key-owner")
    # No grant: only that the key is live, nothing of who holds it.
    assert "live" in owner and "not granted support access" in owner
    assert root.operator_id not in owner and "alice" not in owner
    assert secret not in page.content()
    page.click("#revoke-button")  # no reason yet: the browser refuses (required)
    assert page.locator("#key-status >> text=live").count() == 1
    page.fill("#id_reason", "Posted in a public gist")
    page.click("#revoke-button")
    page.wait_for_selector("#status >> text=is revoked")
    key.refresh_from_db()
    assert not key.is_live
    assert key.revoked_by == "staff:helpdesk"

    other = browser.new_context(base_url=live_server.url).new_page()
    sign_in_root(other, root.email, ROOT_PASSWORD)
    other.goto("/security/audit/?action=Support:revokeAuthKey")
    row = other.inner_text("#audit-list tbody tr")
    assert "helpdesk" in row and "Posted in a public gist" in row
    other.screenshot(
        path="screenshots/test_it_lets_staff_look_up_and_revoke_a_key-root.png", full_page=True
    )
    other.context.close()


def test_it_lets_root_open_and_withdraw_support_access(page, root):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    page.click("nav.tabs >> text=Support access")
    page.wait_for_selector("#support-closed")
    page.select_option("#id_hours", "8")
    page.click("#support-grant")
    page.wait_for_selector("#support-open")
    assert "open" in page.inner_text("#support-open")
    page.click("#support-withdraw")
    page.wait_for_selector("#support-closed")


def test_it_shows_staff_an_account_only_during_a_grant(page, staff, root, alice):
    from security import support

    key, secret = authkeys.generate(None, root, alice)
    sign_in_staff(page)
    page.click("nav.tabs >> text=Accounts open to support")
    assert "No account has granted support access" in page.inner_text("main")
    support.grant(None, root, 4)
    page.reload()
    page.click(f"text={root.operator_id}")
    page.wait_for_selector(f"text={key.key_id}")
    assert "This view is recorded" in page.inner_text("main")
    assert secret not in page.content()


def test_it_shows_staff_who_holds_a_key_during_a_grant(page, staff, root, alice):
    from security import support

    key, _ = authkeys.generate(None, root, alice)
    support.grant(None, root, 1)
    sign_in_staff(page)
    page.fill("#key_id", key.key_id)
    page.click("form.lookup button[type=submit]")
    page.wait_for_selector("#key-owner")
    owner = page.inner_text("#key-owner")
    assert root.operator_id in owner and "alice" in owner


def test_it_signs_staff_out(page, staff):
    sign_in_staff(page)
    page.click(".staff-signout")
    page.wait_for_url("**/staff/login/")
    page.goto("/staff/authkeys/")
    page.wait_for_url("**/staff/login/**")
