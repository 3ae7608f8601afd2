"""Dialog errors where the user looks, and a toast naming what each action did (issue 14).

Refused dialog submits are run in development mode (DEBUG on, what `make run` serves) and
in production mode: django-htmx's debug handler used to replace the document with every
4xx answer in development. Each action's confirmation is announced in the status region
(role="status") of base.html, from the server's HX-Trigger, or from a Django message on
the full page that follows a form posted without JavaScript.
"""

import json

import pytest

from accounts.models import Principal
from security import authkeys, roles
from security.models import AuthKey, CredentialSet
from tests.browser.conftest import sign_in_root, sign_in_sam
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD

pytestmark = pytest.mark.browser

MODES = {"development": True, "production": False}


@pytest.fixture(params=list(MODES))
def mode(request, settings) -> str:
    """Run the test with DEBUG on (development) and off (production)."""
    settings.DEBUG = MODES[request.param]
    return request.param


@pytest.fixture
def page_root(page, root):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    return page


def assert_in_mode(page, mode: str) -> None:
    """The page runs in that mode: the development error script is loaded only there."""
    loaded = page.locator("script[src*='dev-errors']").count()
    assert loaded == (1 if mode == "development" else 0)


def assert_page_intact(page) -> None:
    assert page.locator("header.topbar >> text=Sign out").is_visible()
    assert page.locator("h1.page-title").is_visible()
    assert page.locator("#status[role=status]").count() == 1


def test_a_refused_dialog_submit_shows_its_errors_in_the_dialog(mode, page_root, expect_answer):
    page = page_root
    expect_answer(400, "/security/users/new")
    page.goto("/security/users/")
    assert_in_mode(page, mode)
    page.click("text=Create user")
    page.fill("dialog #id_user_name", "no spaces allowed")
    page.click("dialog button[type=submit]")
    page.wait_for_selector("dialog[open] .field-error")
    assert page.locator("dialog[open] #id_user_name").is_visible()
    assert_page_intact(page)
    assert not Principal.objects.filter(user_name="no spaces allowed").exists()


def test_a_refused_role_check_stays_in_the_dialog(mode, page_root, expect_answer):
    page = page_root
    expect_answer(400, "/security/roles/new")
    page.goto("/security/roles/")
    assert_in_mode(page, mode)
    page.click("text=Create role")
    page.fill("dialog #id_role_id", "broken")
    page.fill("dialog #id_permission", '{"statements":[{"effect":"maybe","api":"*"}]}')
    page.click("dialog button[type=submit].primary")
    page.wait_for_selector("dialog[open] [role=alert]")
    assert_page_intact(page)


def test_not_allowed_is_said_in_a_dialog(mode, page, alice, root, expect_answer):
    """Permission taken away after the page was drawn: the dialog says so, the page stays."""
    expect_answer(403, "/security/users/new")
    allow = {"statements": [{"effect": "allow", "api": ["User:listUsers", "User:createUser"]}]}
    role = roles.create_role(None, root, "makers", json.dumps(allow))
    roles.attach_role(None, root, alice, role)
    sign_in_sam(page, alice.operator_id, "alice", SAM_PASSWORD)
    page.goto("/security/users/")
    assert_in_mode(page, mode)
    roles.detach_role(None, root, alice, role)
    page.click("text=Create user")
    page.wait_for_selector("dialog[open] >> text=Not allowed")
    assert "User:createUser" in page.inner_text("dialog[open]")
    assert_page_intact(page)


def test_a_key_revoked_in_another_tab_says_not_found_and_keeps_the_list(
    mode, page_root, root, expect_answer
):
    page = page_root
    key, _ = authkeys.generate(None, root, root)
    expect_answer(404, f"/security/authkeys/{key.key_id}/revoke")
    page.goto("/security/authkeys/")
    assert_in_mode(page, mode)
    authkeys.revoke(None, root, key)  # another tab, another administrator
    page.click(f"[data-authkey={key.key_id}] >> text=Revoke")
    page.wait_for_selector("dialog[open] >> text=Not found")
    assert page.locator("dialog[open] h2").inner_text() == "Not found"
    assert_page_intact(page)
    page.click("dialog[open] >> text=Close")
    assert page.locator("#authkey-list").is_visible()


def toast(page, text: str) -> None:
    page.wait_for_selector(f"#status[role=status][aria-live=polite] >> text={text}")


def test_creating_a_user_is_announced(page_root, root):
    page = page_root
    page.click("text=Create user")
    page.fill("dialog #id_user_name", "bob")
    page.click("dialog button[type=submit]")
    toast(page, "User bob created.")
    assert Principal.objects.filter(operator=root.operator, user_name="bob").exists()


def test_revoking_an_authkey_is_announced(page_root, root):
    page = page_root
    key, _ = authkeys.generate(None, root, root)
    page.goto("/security/authkeys/")
    page.click(f"[data-authkey={key.key_id}] >> text=Revoke")
    page.click("dialog button.danger")
    toast(page, f"AuthKey {key.key_id} revoked.")
    assert AuthKey.objects.get(pk=key.pk).slot is None


def test_an_announcement_under_a_modal_dialog_is_shown_in_it_and_comes_back(page_root, root):
    """The secret dialog is modal: the rest of the page is inert and covered, so the
    "generated" toast lives in the dialog's own status region, on top, until it closes."""
    page = page_root
    page.goto("/security/authkeys/")
    page.click("button[data-generate-authkey]")
    page.click("dialog[open] [data-generate-submit]")
    page.wait_for_selector("dialog[open] #new-key-secret")
    note = page.locator("dialog[open] [data-dialog-status][role=status] [data-toast]")
    note.wait_for()
    assert "generated" in note.inner_text()
    box = note.bounding_box()
    on_top = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).closest('[data-toast]') !== null",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert on_top
    page.click("dialog[open] [data-copy-target=new-key-secret]")
    page.click("dialog[open] >> text=Done: I saved the secret")
    toast(page, "generated")


def test_creating_and_attaching_a_role_is_announced(page_root, root, alice):
    page = page_root
    page.goto("/security/roles/")
    page.click("text=Create role")
    page.fill("dialog #id_role_id", "readers")
    page.click("dialog button[type=submit].primary")
    toast(page, "Role readers created.")
    page.goto("/security/users/alice/permissions")
    page.click("text=Attach role")
    page.select_option("dialog select", "readers")
    page.click("dialog button[type=submit]")
    toast(page, "Role readers attached to alice.")
    page.wait_for_selector("#user-roles >> text=readers")
    assert [r.role_id for r in roles.user_roles(alice)] == ["readers"]


def test_registering_a_credential_set_is_announced(page_root, root):
    page = page_root
    page.goto("/security/credentials/")
    page.click("text=Register")
    page.fill("dialog #id_credentials_id", "beam-psk")
    page.select_option("dialog #id_type", "psk")
    page.wait_for_selector("dialog #id_c__key")
    page.fill("dialog #id_c__key", "k" * 16)
    page.click("dialog button[type=submit].primary")
    toast(page, "Credential set beam-psk registered.")
    assert CredentialSet.objects.filter(operator=root.operator, credentials_id="beam-psk").exists()


def test_without_javascript_the_next_page_announces_it(browser, live_server, root):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in_root(page, root.email, ROOT_PASSWORD)
        page.click("text=Create user")
        page.fill("#id_user_name", "carol")
        page.click("button[type=submit].primary")
        page.wait_for_url("**/security/users/carol/")
        assert "User carol created." in page.inner_text("#status[role=status]")
        page.reload()  # a message is shown once
        assert "User carol created." not in page.inner_text("#status")
    finally:
        context.close()
