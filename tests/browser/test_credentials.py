"""Credentials and Groups tabs in Chromium: register x509, update, delete, limit, groups."""

import pytest

from security import credentials, groups
from security.models import CredentialSet, Group
from tests.browser.conftest import sign_in_root
from tests.conftest import ROOT_PASSWORD
from tests.security.credential_samples import make_cert, sample_fields
from tests.security.fake_dns import fake_dns  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def public_names(fake_dns):  # noqa: F811
    """Destination host names resolve to a public address, without the network."""
    return fake_dns


@pytest.fixture
def page_root(page, root):
    sign_in_root(page, root.email, ROOT_PASSWORD)
    page.goto("/security/credentials/")
    return page


def test_it_registers_an_x509_set_and_shows_its_expiry(page_root, root):
    cert, key = make_cert("gw-17.devices.example", days=20)
    page_root.click("text=Register")
    page_root.fill("dialog #id_credentials_id", "gw-17-cert")
    page_root.fill("dialog #id_description", "Gateway 17 client certificate")
    page_root.select_option("dialog #id_type", "x509")
    page_root.wait_for_selector("dialog #id_c__cert")
    page_root.fill("dialog #id_c__cert", cert)
    page_root.fill("dialog #id_c__key", key)
    page_root.screenshot(path="screenshots/credentials_register_x509_dialog.png")
    page_root.click("dialog button[type=submit].primary")
    page_root.wait_for_selector("#credential-list >> text=gw-17-cert")
    row = page_root.inner_text("tr[data-credentials-id=gw-17-cert]")
    assert "CN=gw-17.devices.example" in row
    assert "expires within 30 days" in row
    assert "PRIVATE KEY" not in page_root.content()
    assert CredentialSet.objects.get(operator=root.operator, credentials_id="gw-17-cert")


def test_it_shows_field_errors_and_stores_nothing(page_root, root, expect_answer):
    expect_answer(400, "/security/credentials/new")
    cert, _ = make_cert()
    _, other_key = make_cert()
    page_root.click("text=Register")
    page_root.fill("dialog #id_credentials_id", "mismatch")
    page_root.select_option("dialog #id_type", "x509")
    page_root.wait_for_selector("dialog #id_c__cert")
    page_root.fill("dialog #id_c__cert", cert)
    page_root.fill("dialog #id_c__key", other_key)
    page_root.click("dialog button[type=submit].primary")
    page_root.wait_for_selector("dialog .field-error")
    assert "does not match the certificate" in page_root.inner_text("dialog")
    assert page_root.input_value("dialog #id_c__key") == ""  # the secret is not sent back
    assert not CredentialSet.objects.exists()


def test_it_updates_a_set_keeping_empty_secret_fields(page_root, root):
    credentials.create_credential_set(
        None, root, "aws-prod", "aws-credentials", "",
        {"accessKeyId": "AKIAOLD", "secretAccessKey": "old-secret"},
    )  # fmt: skip
    page_root.reload()
    page_root.click("tr[data-credentials-id=aws-prod] >> text=Update")
    page_root.wait_for_selector("dialog #id_c__secretAccessKey")
    assert page_root.input_value("dialog #id_c__secretAccessKey") == ""
    assert page_root.input_value("dialog #id_c__accessKeyId") == ""
    page_root.fill("dialog #id_description", "Production AWS account")
    page_root.fill("dialog #id_c__accessKeyId", "AKIANEW")
    page_root.screenshot(path="screenshots/credentials_update_dialog.png")
    page_root.click("dialog button[type=submit].primary")
    page_root.wait_for_selector("#credential-list >> text=Production AWS account")
    assert credentials.use_credential_set(root.operator, "aws-prod") == {
        "accessKeyId": "AKIANEW",
        "secretAccessKey": "old-secret",
    }


def test_it_deletes_a_set_after_confirmation(page_root, root):
    credentials.create_credential_set(None, root, "old-psk", "psk", "", sample_fields("psk"))
    page_root.reload()
    page_root.click("tr[data-credentials-id=old-psk] >> text=Delete")
    assert "Delete the credential set old-psk?" in page_root.inner_text("dialog")
    page_root.click("dialog button.danger")
    page_root.wait_for_selector("text=No credential sets yet")
    assert not CredentialSet.objects.exists()


def test_it_refuses_to_delete_a_set_a_group_uses(page_root, root):
    credentials.create_credential_set(None, root, "beam-psk", "psk", "", sample_fields("psk"))
    groups.create_group(None, root, "meters", {"beam": ("https://in.example", "beam-psk")})
    page_root.reload()
    assert "meters" in page_root.inner_text("tr[data-credentials-id=beam-psk]")
    page_root.click("tr[data-credentials-id=beam-psk] >> text=Delete")
    dialog = page_root.inner_text("dialog")
    assert "beam-psk is in use" in dialog and "meters" in dialog
    page_root.screenshot(path="screenshots/credentials_delete_in_use.png")
    assert CredentialSet.objects.filter(credentials_id="beam-psk").exists()


def test_it_disables_register_at_the_limit(page_root, root):
    root.operator.credential_quota = 2
    root.operator.save()
    for cid in ("one", "two"):
        credentials.create_credential_set(None, root, cid, "psk", "", sample_fields("psk"))
    page_root.reload()
    assert page_root.get_attribute(".panel-head [aria-disabled=true]", "aria-disabled") == "true"
    assert "ask the administrator" in page_root.inner_text("#credential-list")


def test_it_creates_a_group_that_uses_a_set(page_root, root):
    credentials.create_credential_set(None, root, "funnel-key", "aws-credentials", "",
                                      sample_fields("aws-credentials"))  # fmt: skip
    page_root.goto("/security/groups/")
    page_root.click("text=Create group")
    page_root.fill("dialog #id_name", "trackers")
    page_root.fill("dialog #id_funnel_url", "https://ingest.example/trackers")
    page_root.select_option("dialog #id_funnel_credentials", "funnel-key")
    page_root.click("dialog button[type=submit].primary")
    page_root.wait_for_selector("#group-list >> text=trackers")
    assert "funnel-key" in page_root.inner_text("#group-list")
    assert Group.objects.get(name="trackers").services.get().service == "funnel"
