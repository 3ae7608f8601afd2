"""Support staff: the key look-up is a POST, a pasted secret is refused, and the operator
view revokes a key through the same service function as the look-up page."""

import pytest

from console import secretscan
from security import authkeys, support
from security.models import AuditEntry, AuthKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def leaked(root, alice):
    key, secret = authkeys.generate(None, root, alice)
    return key, secret


def test_the_look_up_form_posts_and_names_no_key_in_its_address(helpdesk_client):
    html = helpdesk_client.get("/staff/authkeys/").content.decode()
    assert '<form method="post" action="/staff/authkeys/" class="lookup" id="lookup-form">' in html


def test_the_look_up_by_post_finds_a_live_key(helpdesk_client, leaked):
    key, _ = leaked
    response = helpdesk_client.post("/staff/authkeys/", {"key_id": key.key_id})
    assert response.status_code == 200
    assert response.context["found"].key_id == key.key_id
    assert AuditEntry.objects.filter(action="Support:lookupAuthKey").count() == 1


def test_a_key_id_in_the_query_string_is_not_looked_up(helpdesk_client, leaked):
    key, _ = leaked
    response = helpdesk_client.get("/staff/authkeys/", {"key_id": key.key_id})
    assert response.status_code == 200
    assert response.context["found"] is None
    assert not AuditEntry.objects.filter(action="Support:lookupAuthKey").exists()


def test_a_pasted_secret_is_refused_with_a_clear_message_and_not_kept(
    canary, helpdesk_client, helpdesk, root, leaked
):
    _, secret = leaked
    canary.add(secret, label="leaked secret")
    response = helpdesk_client.post("/staff/authkeys/", {"key_id": f"  {secret} "})
    assert response.status_code == 400
    assert "That is an AuthKey secret" in response.content.decode()
    assert "not looked up or kept" in response.content.decode()
    assert not AuditEntry.objects.filter(action="Support:lookupAuthKey").exists()
    canary.assert_nowhere(revisit=root)


def test_a_pasted_api_token_is_refused_too(helpdesk_client):
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0." + "s" * 86
    assert secretscan.contains_secret(token)
    response = helpdesk_client.post("/staff/authkeys/", {"key_id": token})
    assert response.status_code == 400
    assert token not in response.content.decode()


def test_the_look_up_refuses_a_post_without_the_csrf_token(helpdesk, leaked):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(helpdesk, backend="accounts.backends.StaffBackend")
    key, _ = leaked
    assert client.post("/staff/authkeys/", {"key_id": key.key_id}).status_code == 403
    assert not AuditEntry.objects.filter(action="Support:lookupAuthKey").exists()


# The operator view ------------------------------------------------------------------------


def test_the_operator_view_offers_a_revoke_form_per_live_key(helpdesk_client, root, leaked):
    key, _ = leaked
    support.grant(None, root, 1)
    html = helpdesk_client.get(f"/staff/operators/{root.operator_id}/").content.decode()
    assert f'action="/staff/authkeys/{key.key_id}/revoke"' in html
    assert f'name="back" value="{root.operator_id}"' in html
    assert "?key_id=" not in html  # no look-up link that puts an ID into a URL


def test_the_operator_view_revokes_and_comes_back(helpdesk_client, root, leaked):
    key, _ = leaked
    support.grant(None, root, 1)
    response = helpdesk_client.post(
        f"/staff/authkeys/{key.key_id}/revoke",
        {"reason": "posted on a forum", "back": root.operator_id},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/staff/operators/{root.operator_id}/"
    key.refresh_from_db()
    assert not key.is_live
    entry = AuditEntry.objects.get(action="Support:revokeAuthKey")
    assert (entry.operator_id, entry.details["authKeyId"]) == (root.operator_id, key.key_id)
    assert entry.details["reason"] == "posted on a forum"


def test_the_operator_view_shows_a_refused_reason_in_place(helpdesk_client, root, leaked):
    key, _ = leaked
    support.grant(None, root, 1)
    response = helpdesk_client.post(
        f"/staff/authkeys/{key.key_id}/revoke", {"reason": "  ", "back": root.operator_id}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert '<details class="staff-revoke" open>' in html
    assert "Principals and AuthKeys" in html
    assert AuthKey.objects.get(pk=key.pk).is_live


def test_back_to_an_operator_is_honoured_only_under_its_grant(helpdesk_client, root, leaked):
    # Without a grant the answer must not tell staff which account held the key.
    key, _ = leaked
    response = helpdesk_client.post(
        f"/staff/authkeys/{key.key_id}/revoke",
        {"reason": "reported", "back": root.operator_id},
    )
    assert response["Location"] == "/staff/authkeys/"
    assert not AuthKey.objects.get(pk=key.pk).is_live


def test_back_to_another_operator_is_ignored(helpdesk_client, root, outsider, leaked):
    key, _ = leaked
    support.grant(None, root, 1)
    support.grant(None, outsider, 1)
    response = helpdesk_client.post(
        f"/staff/authkeys/{key.key_id}/revoke",
        {"reason": "reported", "back": outsider.operator_id},
    )
    assert response["Location"] == "/staff/authkeys/"


def test_an_installation_admin_cannot_revoke_from_there(ops_admin_client, root, leaked):
    key, _ = leaked
    support.grant(None, root, 1)
    response = ops_admin_client.post(
        f"/staff/authkeys/{key.key_id}/revoke", {"reason": "x", "back": root.operator_id}
    )
    assert response.status_code == 403
    assert AuthKey.objects.get(pk=key.pk).is_live


# The grant menu ---------------------------------------------------------------------------


def test_the_grant_menu_says_1_hour_not_1_hours(root_client):
    html = root_client.get("/security/support/").content.decode()
    assert ">1 hour<" in html
    assert "1 hours" not in html
    assert ">24 hours<" in html and ">7 days<" in html


@pytest.mark.parametrize(
    ("hours", "label"),
    [(1, "1 hour"), (4, "4 hours"), (24, "24 hours"), (72, "3 days"), (168, "7 days")],
)
def test_duration_label(hours, label):
    assert support.duration_label(hours) == label
