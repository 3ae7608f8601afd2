import json

import pytest

from accounts.models import RoleAttachment
from security import roles
from tests.browser.conftest import sign_in_root
from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.browser

USERS = json.dumps({"statements": [{"effect": "allow", "api": "User:*"}]}, indent=2)


@pytest.fixture
def page_root(page, root):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    return page


def test_it_creates_a_role_and_attaches_it_to_a_user(page_root, root, alice):
    page = page_root
    page.goto("/security/roles/")
    page.click("text=Create role")
    page.fill("dialog #id_role_id", "user-admins")
    page.fill("dialog #id_description", "Manage SAM users")
    page.fill("dialog #id_permission", USERS)
    page.click("dialog button[type=submit].primary")
    page.wait_for_selector("#role-list >> text=user-admins")
    page.click("#role-list >> text=user-admins")
    page.wait_for_url("**/security/roles/user-admins/")
    assert "Manage SAM users" in page.input_value("#id_description")

    page.goto("/security/users/alice/permissions")
    page.wait_for_selector("#user-roles >> text=No role is attached")
    page.click("#user-roles >> text=Attach role")
    page.select_option("dialog #id_role", "user-admins")
    page.click("dialog button[type=submit]")
    page.wait_for_selector("#user-roles >> text=user-admins")
    page.wait_for_selector("#user-effective >> text=Role user-admins")
    assert RoleAttachment.objects.filter(principal=alice, role__role_id="user-admins").exists()


def test_it_shows_the_inline_editors_error_at_the_statement(page_root, alice, expect_answer):
    expect_answer(400, "/security/users/alice/permissions/update")
    page = page_root
    page.goto("/security/users/alice/permissions")
    bad = json.dumps(
        {
            "statements": [
                {"effect": "allow", "api": "User:getUser"},
                {"effect": "allow", "api": "*", "condition": "ipAddress('10.0.0.0/8') and ("},
            ]
        },
        indent=2,
    )
    page.fill("#permission-editor textarea", bad)
    page.click("#permission-editor button.primary")
    error = page.wait_for_selector('li.statement.bad[data-statement="2"] .field-error')
    assert "Statement 2: condition" in error.inner_text()
    assert page.is_visible('li.statement.ok[data-statement="1"]')
    alice.refresh_from_db()
    assert alice.inline_permission == ""


def test_it_adds_the_self_service_statement_and_saves_it(page_root, alice):
    page = page_root
    page.goto("/security/users/alice/permissions")
    page.click("#permission-editor >> text=own password and AuthKeys only")
    assert "samUserName" in page.input_value("#permission-editor textarea")
    page.click("#permission-editor button.primary")
    page.wait_for_selector("#permission-editor >> text=Applies from the next request")
    alice.refresh_from_db()
    assert "pathVariable('user_name') == samUserName" in alice.inline_permission


def test_it_simulates_a_call_and_shows_the_deciding_statement(page_root, root, alice):
    role = roles.create_role(
        None,
        root,
        "office-only",
        json.dumps(
            {
                "statements": [
                    {"effect": "allow", "api": "User:*", "condition": "ipAddress('10.0.0.0/8')"},
                    {"effect": "deny", "api": "User:deleteUser"},
                ]
            }
        ),
    )
    roles.attach_role(None, root, alice, role)
    page = page_root
    page.goto("/security/users/alice/permissions")
    page.select_option("#user-simulator #id_api", "User:listUsers")
    page.fill("#user-simulator #id_source_ip", "10.20.30.40")
    page.click("#user-simulator button[type=submit]")
    verdict = page.wait_for_selector("#user-simulator [data-decision]")
    assert verdict.get_attribute("data-decision") == "allowed"
    assert "Role office-only, statement 1" in verdict.inner_text()

    page.select_option("#user-simulator #id_api", "User:deleteUser")
    page.click("#user-simulator button[type=submit]")
    page.wait_for_selector('#user-simulator [data-decision="denied"]')
    assert "Role office-only, statement 2" in page.inner_text("#user-simulator .decision")


def test_it_refuses_to_delete_a_role_in_use_naming_the_user(page_root, root, alice):
    role = roles.create_role(None, root, "held", USERS)
    roles.attach_role(None, root, alice, role)
    page = page_root
    page.goto("/security/roles/held/")
    page.wait_for_selector("#role-users >> text=alice")
    page.click("text=Delete role")
    assert "Detach it first from: alice" in page.inner_text("dialog")


def test_it_saves_default_permissions_and_warns_about_an_unknown_operation(page_root, operator):
    page = page_root
    page.goto("/security/default-permissions/")
    document = json.dumps(
        {
            "statements": [
                {
                    "effect": "allow",
                    "api": "User:updateUserPassword",
                    "condition": "pathVariable('user_name') == samUserName",
                },
                {"effect": "allow", "api": "User:lisUsers"},
            ]
        },
        indent=2,
    )
    page.fill("#permission-editor textarea", document)
    page.click("#permission-editor button.primary")
    page.wait_for_selector("#permission-editor >> text=Saved with warnings")
    warning = page.inner_text('li.statement.warn[data-statement="2"]')
    assert "matches no known API operation" in warning
    operator.refresh_from_db()
    assert operator.default_permissions == document


def test_it_lists_roles(page_root, root, alice):
    role = roles.create_role(None, root, "auditors", USERS, "Read-only review")
    roles.attach_role(None, root, alice, role)
    roles.create_role(None, root, "billing", USERS)
    page_root.goto("/security/roles/")
    rows = page_root.locator("#role-list tbody tr")
    assert rows.count() == 2
    assert "Read-only review" in rows.first.inner_text()
