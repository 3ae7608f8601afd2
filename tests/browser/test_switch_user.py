"""Switch user in a browser: the trust-policy editor, the menu, the banner, switching back."""

import json
from pathlib import Path

import pytest

from accounts import apisessions
from accounts.models import Operator, Principal
from security import roles, switching
from tests.browser.conftest import sign_in_root, sign_in_sam
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots-cona")


SHOTS.mkdir(exist_ok=True)


def _shoot(page, name: str) -> None:
    """Screenshot the page at 1280x900, and afresh (same session) at 390x844."""
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=SHOTS / f"{name}-1280.png", full_page=True)
    small = page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=page.context.storage_state()
    )
    errors: list[str] = []
    phone = small.new_page()
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    phone.goto(page.url)
    phone.wait_for_load_state("networkidle")
    phone.screenshot(path=SHOTS / f"{name}-390.png", full_page=True)
    small.close()
    assert not errors, errors


@pytest.fixture
def bob(db, root, alice) -> Principal:
    roles.set_inline_permission(
        None, root, alice, '{"statements":[{"effect":"allow","api":"Auth:switchUser"}]}'
    )
    other = Principal.objects.create_root(Operator.create(), "r@other.example", "Other-Pass-12")
    user = Principal.objects.create_sam_user(other.operator, "bob")
    roles.set_inline_permission(
        None, other, user, '{"statements":[{"effect":"allow","api":"User:*"}]}'
    )
    policy = {
        "statements": [{"effect": "allow", "principal": {"soracom": [apisessions.srn(alice)]}}]
    }
    switching.set_trust_policy(None, other, user, json.dumps(policy))
    return user


def test_it_switches_to_a_trusting_user_and_back(page, alice, bob):
    sign_in_sam(page, alice.operator_id, "alice", SAM_PASSWORD)
    page.click("a.switch-menu")
    page.wait_for_url("**/security/switch-user/")
    _shoot(page, "switch-menu")
    page.click("#switch-user button:has-text('bob')")
    banner = page.wait_for_selector("#switch-banner")
    assert apisessions.srn(bob) in banner.inner_text()
    assert "bob" in page.inner_text(".whoami")
    page.goto("/security/users/")
    page.wait_for_selector("#switch-banner")
    _shoot(page, "switch-banner")
    page.click("#switch-banner button")
    page.wait_for_selector(".whoami >> text=alice")
    assert page.query_selector("#switch-banner") is None


def test_it_shows_where_a_trust_policy_is_wrong(page, root, alice, expect_answer):
    expect_answer(400, "/security/users/alice/trust-policy/update")
    sign_in_root(page, root.email, ROOT_PASSWORD)
    page.goto("/security/users/alice/trust-policy")
    bad = json.dumps(
        {"statements": [{"effect": "allow", "principal": {"soracom": ["srn:soracom:OP1::User:x"]}}]}
    )
    page.fill("#trust-editor textarea", bad)
    page.click("#trust-editor button.primary")
    error = page.wait_for_selector("#trust-editor .field-error")
    assert "Statement 1: SRN 1:" in error.inner_text()
    alice.refresh_from_db()
    assert alice.trust_policy == ""
    page.screenshot(path=SHOTS / "trust-policy-error-1280.png", full_page=True)


def test_it_saves_a_trust_policy_and_lists_who_is_trusted(page, root, alice):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    page.goto("/security/users/alice/trust-policy")
    good = json.dumps(
        {
            "statements": [
                {
                    "effect": "allow",
                    "principal": {"soracom": ["srn:soracom:OP0000000007::User:eve"]},
                }
            ]
        }
    )
    page.fill("#trust-editor textarea", good)
    page.click("#trust-editor button.primary")
    page.wait_for_selector("#trust-editor .saved")
    alice.refresh_from_db()
    assert "OP0000000007::User:eve" in alice.trust_policy
    page.goto("/security/users/alice/trust-policy")
    page.wait_for_selector("#trusted-principals >> text=srn:soracom:OP0000000007::User:eve")
    page.wait_for_selector("#user-switched >> text=No live switched session")
    _shoot(page, "trust-policy")
