"""The API in a browser: the reference from the header, a misspelt API name, the key's curl."""

import json
from pathlib import Path

import pytest

from accounts.models import Role
from tests.browser.conftest import sign_in_root
from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots-conb")
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def shots(page, name: str, at: str | None = None) -> None:
    """Screenshot the viewport at both sizes (scrolled to `at` when given)."""
    SHOTS.mkdir(exist_ok=True)
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        if at:
            page.locator(at).scroll_into_view_if_needed()
        page.screenshot(path=SHOTS / f"{name}-{size}.png")
    page.set_viewport_size(SIZES["desktop"])


@pytest.fixture
def page_root(page, root, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in_root(page, root.email, ROOT_PASSWORD)
    return page


def test_it_opens_the_api_reference_from_the_console_header(page_root, root):
    page = page_root
    page.goto("/security/users/")
    page.click("header nav >> text=API")
    page.wait_for_url("**/api/")
    assert "curl -s -X POST" in page.inner_text("#curl-auth")
    assert root.operator_id in page.inner_text("#curl-call")
    page.click("#op-createUser summary")
    facts = page.inner_text("#op-createUser .op-facts")
    assert "User:createUser" in facts and "201" in facts
    page.click("button[data-copy-target=curl-auth]")
    clipboard = page.evaluate("navigator.clipboard.readText()")
    assert clipboard.startswith("curl -s -X POST http://") and "/v1/auth" in clipboard
    shots(page, "api-reference")
    shots(page, "api-reference-operation", at="#op-createUser")
    page.click("nav.tabs >> text=API names")
    page.wait_for_url("**/api/names/")
    assert "root only" in page.inner_text("#name-operatorgenerateoperatorauthkey")
    shots(page, "api-names")


def test_it_warns_about_a_misspelt_api_name_in_a_new_role(page_root):
    page = page_root
    page.goto("/security/roles/")
    page.click("text=Create role")
    page.fill("dialog #id_role_id", "readers")
    page.fill("dialog #id_permission", '{"statements": []}')
    page.fill("dialog #id_permission-api", "User:getUsr")
    page.click("dialog button[data-insert-api]")
    document = json.loads(page.input_value("dialog #id_permission"))
    assert document == {"statements": [{"effect": "allow", "api": "User:getUsr"}]}
    shots(page, "role-create-picker")
    page.click("dialog button[type=submit].primary")
    page.wait_for_url("**/security/roles/readers/")
    warning = page.wait_for_selector("li.statement.warn .warning")
    assert warning.inner_text() == (
        "Statement 1: 'User:getUsr' matches no known API operation. Did you mean 'User:getUser'?"
    )
    assert json.loads(Role.objects.get(role_id="readers").permission) == document
    shots(page, "role-misspelt-warning")


def test_it_shows_the_curl_calls_and_the_missing_permission_beside_a_new_key(page_root, alice):
    page = page_root
    page.goto("/security/users/alice/authentication")
    page.click("button[data-generate-authkey]")
    page.click("dialog[open] [data-generate-submit]")  # the description is optional
    page.wait_for_selector("dialog[open] #new-key-curl")
    curl = page.inner_text("dialog[open] #new-key-curl")
    assert page.inner_text("dialog[open] #new-key-secret") in curl
    assert "/v1/auth" in curl and f"/v1/operators/{alice.operator_id}/users/alice" in curl
    note = page.inner_text("dialog[open] [data-no-permission]")
    assert "alice has no permission yet" in note
    shots(page, "authkey-curl")
    page.click("dialog[open] [data-no-permission] a")
    page.wait_for_url("**/security/users/alice/permissions")
