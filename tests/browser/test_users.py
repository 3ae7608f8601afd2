import pytest

from accounts.models import Principal
from tests.browser.conftest import sign_in_root, sign_in_sam
from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def page_root(page, root):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    return page


def test_it_signs_in_root_and_shows_the_operator(page_root, root):
    assert root.operator_id in page_root.inner_text("header")


def test_it_shows_a_failed_sign_in(page, root, expect_answer):
    expect_answer(400, "/login/")
    page.goto("/login/?mode=root")
    page.fill("#id_root-email", root.email)
    page.fill("#id_root-password", "wrong-password!")
    page.click("button[type=submit]")
    assert "Sign-in failed" in page.inner_text("[role=alert]")


def test_it_creates_a_user_through_the_dialog(page_root, root):
    page_root.click("text=Create user")
    page_root.fill("dialog #id_user_name", "bob")
    page_root.fill("dialog #id_description", "Bob from billing")
    page_root.click("dialog button[type=submit]")
    page_root.wait_for_selector("#user-list >> text=bob")
    assert Principal.objects.filter(operator=root.operator, user_name="bob").exists()


def test_it_refuses_a_duplicate_name_in_the_dialog(page_root, alice, expect_answer):
    expect_answer(400, "/security/users/new")
    page_root.click("text=Create user")
    page_root.fill("dialog #id_user_name", "alice")
    page_root.click("dialog button[type=submit]")
    assert "already exists" in page_root.inner_text("dialog .field-error")


def test_it_sets_a_password_then_the_user_signs_in_and_is_deleted(
    page_root, robot, browser, live_server
):
    page_root.goto(f"/security/users/{robot.user_name}/")
    page_root.click("text=Set password")
    page_root.fill("dialog #id_new_password", "Robots-Need-Passwords-2")
    page_root.fill("dialog #id_confirm_password", "Robots-Need-Passwords-2")
    page_root.click("dialog button[type=submit]")
    # The dialog now says what to send the user (link, user name, password apart).
    page_root.wait_for_selector("dialog[open] >> text=Password set for robot")
    page_root.click("dialog[open] >> text=Done")
    page_root.wait_for_selector("text=Change password")

    other = browser.new_context(base_url=live_server.url).new_page()
    sign_in_sam(other, robot.operator_id, "robot", "Robots-Need-Passwords-2")
    # robot holds no permission yet: it lands on the welcome page, signed in.
    other.wait_for_selector("text=Signed in as robot")
    assert "SAM user · robot" in other.inner_text("header")
    other.context.close()

    page_root.click("text=Delete user")
    page_root.click("dialog button.danger")
    page_root.wait_for_url("**/security/users/")
    assert not Principal.objects.filter(pk=robot.pk).exists()


def test_it_refuses_a_sam_user_without_password(page, robot, expect_answer):
    expect_answer(400, "/login/")
    sign_in_sam(page, robot.operator_id, "robot", "Any-Password-123")
    assert "Sign-in failed" in page.inner_text("[role=alert]")
    assert "/login/" in page.url


def test_it_signs_out(page_root):
    page_root.click("text=Sign out")
    page_root.wait_for_url("**/login/")
    page_root.goto("/security/users/")
    assert "/login/" in page_root.url
