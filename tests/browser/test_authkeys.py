"""AuthKeys in a real browser: generate, see the secret once, copy, CSV, limit, revoke."""

import pytest
from django.test import Client

from security import authkeys
from security.models import AuthKey
from tests.browser.conftest import SCREENSHOTS, sign_in_root
from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def keys_page(page, root, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in_root(page, root.email, ROOT_PASSWORD)
    page.goto("/security/authkeys/")
    return page


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"authkeys-{name}.png", full_page=True)


def generate(page) -> tuple[str, str]:
    page.click("button[data-generate-authkey]")
    page.click("dialog[open] [data-generate-submit]")  # the description is optional
    page.wait_for_selector("dialog[open] #new-key-secret")
    return (
        page.inner_text("dialog #new-key-id").strip(),
        page.inner_text("dialog #new-key-secret").strip(),
    )


def close_unsaved(page) -> None:
    """Done without copying: the dialog asks first; close it anyway."""
    page.click("text=Done: I saved the secret")
    page.click("dialog >> text=Close without the secret")
    page.wait_for_selector("dialog", state="detached")


def focused_key(page) -> str | None:
    return page.evaluate("document.activeElement.dataset.authkey || null")


def test_it_asks_before_an_unsaved_secret_is_closed_by_escape_backdrop_or_done(keys_page):
    page = keys_page
    key_id, _ = generate(page)
    confirm = page.locator("dialog [data-close-confirm]")
    assert confirm.is_hidden()
    page.keyboard.press("Escape")
    assert confirm.is_visible() and page.locator("dialog[open]").count() == 1
    shot(page, "close-confirm")
    page.keyboard.press("Escape")  # a second Escape keeps it open, it does not close
    assert confirm.is_hidden() and page.locator("dialog[open]").count() == 1
    page.mouse.click(3, 3)  # the backdrop
    assert confirm.is_visible() and page.locator("dialog[open]").count() == 1
    page.click("dialog >> text=Keep it open")
    assert confirm.is_hidden()
    page.click("text=Done: I saved the secret")
    assert confirm.is_visible() and page.locator("dialog[open]").count() == 1
    page.click("dialog >> text=Close without the secret")
    page.wait_for_selector("dialog", state="detached")
    page.wait_for_function("(id) => document.activeElement.dataset.authkey === id", arg=key_id)
    assert focused_key(page) == key_id


def test_it_closes_at_once_once_the_secret_is_copied_and_focuses_the_new_row(keys_page):
    page = keys_page
    key_id, _ = generate(page)
    page.click("dialog button[data-copy-target=new-key-secret]")
    page.wait_for_selector("dialog button[data-copy-target=new-key-secret][data-copied]")
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog", state="detached")
    page.wait_for_function("(id) => document.activeElement.dataset.authkey === id", arg=key_id)
    assert focused_key(page) == key_id


def test_it_closes_at_once_once_the_csv_is_downloaded(keys_page):
    page = keys_page
    key_id, _ = generate(page)
    with page.expect_download():
        page.click("dialog a[data-csv-download]")
    page.click("text=Done: I saved the secret")
    page.wait_for_selector("dialog", state="detached")
    page.wait_for_function("(id) => document.activeElement.dataset.authkey === id", arg=key_id)


def test_it_generates_shows_the_secret_once_and_copies_it(keys_page, root):
    page = keys_page
    assert "No AuthKeys" in page.inner_text("#authkey-list")
    key_id, secret = generate(page)
    shot(page, "secret-dialog")
    assert authkeys.looks_like_secret(secret)
    assert authkeys.verify_secret(AuthKey.objects.get(key_id=key_id), secret)
    assert "will not be shown again" in page.inner_text("dialog")

    page.click("dialog button[data-copy-target=new-key-secret]")
    page.wait_for_selector("dialog button[data-copy-target=new-key-secret][data-copied]")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    page.click("dialog button[data-copy-target=new-key-id]")
    page.wait_for_selector("dialog button[data-copy-target=new-key-id][data-copied]")
    assert page.evaluate("navigator.clipboard.readText()") == key_id

    page.click("text=Done: I saved the secret")
    page.wait_for_selector("dialog", state="detached")
    page.wait_for_selector(f"#authkey-list >> text={key_id}")
    assert secret not in page.content()
    assert "never" in page.inner_text("#authkey-list")

    page.reload()
    assert key_id in page.content() and secret not in page.content()
    page.go_back()
    page.go_forward()
    assert secret not in page.content()


def test_it_builds_the_csv_in_the_page(keys_page, tmp_path):
    page = keys_page
    key_id, secret = generate(page)
    link = page.locator("dialog a[data-csv-download]")
    assert link.is_visible()
    assert link.get_attribute("href").startswith("blob:")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == f"{key_id}.csv"
    target = tmp_path / "key.csv"
    download.save_as(target)
    expected = f"authKeyId,authKeySecret\r\n{key_id},{secret}\r\n"
    assert target.read_bytes() == expected.encode()


def test_it_disables_generate_at_two_keys_and_revokes_through_a_dialog(keys_page, root):
    page = keys_page
    first, _ = generate(page)
    page.keyboard.press("Escape")
    page.click("dialog >> text=Close without the secret")
    page.wait_for_selector("dialog", state="detached")
    second, _ = generate(page)
    close_unsaved(page)
    page.wait_for_selector(f"#authkey-list >> text={second}")
    button = page.locator("button[data-generate-authkey]")
    assert button.is_disabled()
    assert "revoke one to generate a new one" in page.inner_text("#authkey-list")
    shot(page, "limit")

    page.click(f"[data-authkey={first}] >> text=Revoke")
    page.wait_for_selector("dialog[open]")
    assert f"Revoke the AuthKey {first}?" in page.inner_text("dialog h2")
    shot(page, "revoke-dialog")
    page.fill("dialog #id_reason", "rotated")
    page.click("dialog button.danger")
    page.wait_for_selector(f"[data-authkey={first}]", state="detached")
    assert page.locator("button[data-generate-authkey]").is_enabled()
    revoked = AuthKey.objects.get(key_id=first)
    assert revoked.slot is None and revoked.revoke_reason == "rotated"


def test_it_manages_a_users_keys_on_its_authentication_tab(keys_page, robot):
    page = keys_page
    page.goto(f"/security/users/{robot.user_name}/")
    page.click("nav.tabs.sub >> text=Authentication")
    page.wait_for_url("**/authentication")
    key_id, secret = generate(page)
    close_unsaved(page)
    page.wait_for_selector(f"#authkey-list >> text={key_id}")
    assert AuthKey.objects.get(key_id=key_id).principal == robot
    assert secret not in page.content()

    Client(REMOTE_ADDR="203.0.113.7").post(
        "/v1/auth", {"authKeyId": key_id, "authKey": secret}, content_type="application/json"
    )
    page.reload()
    used = page.inner_text(f"[data-authkey={key_id}]")
    assert "just now" in used and "from 203.0.113.7" in used
    shot(page, "user-tab")


def test_it_generates_and_revokes_without_javascript(browser, live_server, root):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in_root(page, root.email, ROOT_PASSWORD)
        page.goto("/security/authkeys/")
        page.click("button[data-generate-authkey]")
        page.click("[data-generate-submit]")
        secret = page.inner_text("#new-key-secret").strip()
        key_id = page.inner_text("#new-key-id").strip()
        assert authkeys.verify_secret(AuthKey.objects.get(key_id=key_id), secret)
        assert not page.locator("a[data-csv-download]").is_visible()  # needs JavaScript
        assert not page.locator("[data-copy-target]").first.is_visible()
        shot(page, "no-js-secret")
        page.click("text=Done: I saved the secret")
        page.wait_for_url("**/security/authkeys/")
        assert key_id in page.content() and secret not in page.content()

        page.click(f"[data-authkey={key_id}] >> text=Revoke")
        page.click("button.danger")
        page.wait_for_url("**/security/authkeys/")
        assert "No AuthKeys" in page.inner_text("#authkey-list")
        assert AuthKey.objects.get(key_id=key_id).slot is None
    finally:
        context.close()


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_it_deactivates_reactivates_and_rolls_a_key(keys_page, root, width, height):
    page = keys_page
    page.set_viewport_size({"width": width, "height": height})
    page.on("dialog", lambda dialog: dialog.accept())  # the hx-confirm of Deactivate
    key, _ = authkeys.generate(None, root, root)
    page.reload()
    row = f"[data-authkey={key.key_id}]"
    page.click(f"{row} >> text=Deactivate")
    page.wait_for_selector(f"{row} [data-badge-inactive]")
    assert AuthKey.objects.get(pk=key.pk).deactivated_at is not None
    shot(page, f"inactive-{width}")
    page.click(f"{row} >> text=Activate")
    page.wait_for_selector(f"{row} [data-badge-inactive]", state="detached")
    assert AuthKey.objects.get(pk=key.pk).deactivated_at is None

    page.click(f"{row} >> text=Roll")
    page.wait_for_selector("dialog[open] [data-roll-submit]")
    page.select_option("dialog #id_delay", "86400")
    shot(page, f"roll-dialog-{width}")
    page.click("dialog [data-roll-submit]")
    page.wait_for_selector("dialog[open] #new-key-secret")
    new_id = page.inner_text("dialog #new-key-id").strip()
    close_unsaved(page)
    page.wait_for_selector(f"{row} [data-roll-schedule]")
    assert new_id in page.inner_text(f"{row} [data-roll-schedule]")
    page.wait_for_selector(f"[data-authkey={new_id}]")
    shot(page, f"roll-scheduled-{width}")
    page.click(f"{row} >> text=Cancel revocation")
    page.wait_for_selector(f"{row} [data-roll-schedule]", state="detached")
    assert AuthKey.objects.get(pk=key.pk).revoke_at is None
