"""The Audit log tab in a browser: filters swap the list in place and the URL follows."""

import pytest
from playwright.sync_api import expect

from security import audit
from tests.browser.conftest import sign_in_root
from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.browser

HOSTILE = "\x1b[31mred\r\nFAKE allowed <img src=x onerror=alert(1)>"


@pytest.fixture
def trail(operator, root, alice):
    audit.record(None, "User:createUser", operator=operator, principal=root, target="bob")
    audit.record(None, "User:updateUser", operator=operator, principal=root, target=HOSTILE)
    audit.record(
        None, "User:deleteUser", operator=operator, principal=alice, target="bob", outcome="denied"
    )
    audit.record(None, "Role:createRole", operator=operator, principal=alice, outcome="denied")


def test_it_filters_the_audit_log_in_place(page, root, trail):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    page.click("nav.tabs >> text=Audit log")
    page.wait_for_url("**/security/audit/")
    assert page.locator("#audit-list tbody tr").count() >= 5  # + the sign-in itself
    page.select_option("#id_outcome", "denied")
    page.fill("#id_actor", "alice")
    page.click("#audit-filters button[type=submit]")
    expect(page.locator("#audit-list tbody tr")).to_have_count(2)
    assert "outcome=denied" in page.url
    actions = page.locator("#audit-list tbody td code").all_inner_texts()
    assert actions == ["Role:createRole", "User:deleteUser"]
    assert "match the filter" in page.inner_text("#audit-count")
    href = page.get_attribute("#audit-export", "href")
    assert "outcome=denied" in href and "actor=alice" in href


def test_it_narrows_by_action_and_clears(page, root, trail):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    page.goto("/security/audit/?action=User:*")
    assert page.locator("#audit-list tbody tr").count() == 3
    page.fill("#id_action", "Role:createRole")
    page.click("#audit-filters button[type=submit]")
    expect(page.locator("#audit-list tbody tr")).to_have_count(1)
    page.click("#audit-filters >> text=Clear")
    page.wait_for_url("**/security/audit/")
    assert page.locator("#audit-list tbody tr").count() >= 5


def test_it_shows_a_hostile_target_as_inert_text(page, root, trail):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    page.goto("/security/audit/?action=User:updateUser")
    cell = page.locator("#audit-list tbody tr td.mono").first.inner_text()
    assert "\\x1b[31mred\\r\\nFAKE allowed <img src=x onerror=alert(1)>" in cell
    assert page.locator("#audit-list img").count() == 0


def test_it_shows_a_date_range_error(page, root, trail, expect_answer):
    expect_answer(400, "/security/audit/")
    sign_in_root(page, root.email, ROOT_PASSWORD)
    page.goto("/security/audit/?since=2030-01-02&until=2030-01-01")
    assert "The end date is before the start date." in page.inner_text("#audit-filters")


def test_it_shows_the_credential_report_with_stale_keys(page, root, alice, robot):
    from datetime import timedelta

    from django.utils import timezone

    from security import authkeys
    from security.models import AuthKey

    old, _ = authkeys.generate(None, root, robot)
    authkeys.generate(None, root, alice)
    AuthKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=120))
    sign_in_root(page, root.email, ROOT_PASSWORD)
    page.click("nav.tabs >> text=Credential report")
    page.wait_for_selector("#credential-report")
    assert "1 stale AuthKey" in page.inner_text("#stale-summary")
    stale = page.locator("#credential-report tr.stale")
    assert stale.count() == 1
    assert old.key_id in stale.inner_text()
