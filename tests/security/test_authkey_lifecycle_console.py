"""The AuthKey lifecycle on the AuthKeys tabs: deactivate, activate, roll, cancel, expiry."""

import json
from datetime import timedelta

from django.utils import timezone

from accounts.models import Operator
from security import authkeys, roles
from security.models import AuditEntry, AuthKey

HX = {"HTTP_HX_REQUEST": "true"}


def secret_in(response) -> str:
    html = response.content.decode()
    start = html.index('id="new-key-secret"')
    start = html.index(">", start) + 1
    return html[start : html.index("<", start)].strip()


def viewer(root, alice) -> None:
    statement = {"effect": "allow", "api": ["User:listUserAuthKeys", "User:getUser"]}
    roles.set_inline_permission(None, root, alice, json.dumps({"statements": [statement]}))


def test_it_refuses_a_viewer_the_deactivation_and_shows_no_button(root, alice, alice_client):
    viewer(root, alice)
    key, _ = authkeys.generate(None, root, alice)
    page = alice_client.get("/security/users/alice/authentication").content.decode()
    assert key.key_id in page
    assert "Deactivate" not in page and ">Roll<" not in page
    url = f"/security/users/alice/authkeys/{key.key_id}/deactivate"
    assert alice_client.post(url).status_code == 403
    assert AuthKey.objects.get(pk=key.pk).deactivated_at is None


def test_it_deactivates_a_root_key_from_the_tab(root, root_client):
    key, _ = authkeys.generate(None, root, root)
    response = root_client.post(f"/security/authkeys/{key.key_id}/deactivate", **HX)
    assert response.status_code == 204
    assert "authkeysChanged" in response["HX-Trigger"]
    assert AuthKey.objects.get(pk=key.pk).deactivated_at is not None
    page = root_client.get("/security/authkeys/").content.decode()
    assert "data-badge-inactive" in page and ">Activate<" in page


def test_it_reactivates_a_users_key_without_javascript(root, alice, root_client):
    key, _ = authkeys.generate(None, root, alice)
    authkeys.set_active(None, root, key, False)
    response = root_client.post(f"/security/users/alice/authkeys/{key.key_id}/activate")
    assert response.status_code == 302
    assert AuthKey.objects.get(pk=key.pk).deactivated_at is None


def test_it_generates_a_key_with_an_expiry_from_the_dialog(root, root_client):
    response = root_client.post("/security/authkeys/generate", {"expiry": "90"}, **HX)
    assert response.status_code == 200
    key = AuthKey.objects.get(principal=root)
    assert timedelta(days=89) < key.expires_at - timezone.now() <= timedelta(days=90)
    page = root_client.get("/security/authkeys/").content.decode()
    assert "data-key-expiry" in page and "data-badge-expiring" not in page


def test_it_refuses_an_expiry_beyond_the_longest_lifetime_in_the_dialog(root, root_client):
    Operator.objects.filter(pk=root.operator_id).update(authkey_max_lifetime_days=30)
    response = root_client.post("/security/authkeys/generate", {"expiry": "90"}, **HX)
    assert response.status_code == 400
    assert "at most 30 days" in response.content.decode()
    assert not AuthKey.objects.exists()


def test_it_flags_a_key_expiring_within_14_days(root, root_client):
    authkeys.generate(None, root, root, expires_at=timezone.now() + timedelta(days=3))
    page = root_client.get("/security/authkeys/").content.decode()
    assert "data-badge-expiring" in page


def test_it_saves_the_longest_lifetime_setting(root, root_client):
    response = root_client.post("/security/authkeys/lifetime", {"max_lifetime_days": "60"})
    assert response.status_code == 302
    assert Operator.objects.get(pk=root.operator_id).authkey_max_lifetime_days == 60
    assert AuditEntry.objects.filter(action=authkeys.MAX_LIFETIME_API).count() == 1


def test_it_refuses_the_lifetime_setting_to_a_sam_user(root, alice, alice_client):
    roles.set_inline_permission(
        None, root, alice, json.dumps({"statements": [{"effect": "allow", "api": ["*"]}]})
    )
    response = alice_client.post("/security/authkeys/lifetime", {"max_lifetime_days": "1"})
    assert response.status_code == 403
    assert Operator.objects.get(pk=root.operator_id).authkey_max_lifetime_days is None


def test_it_rolls_a_key_showing_the_new_secret_once(root, root_client):
    old, _ = authkeys.generate(None, root, root)
    url = f"/security/authkeys/{old.key_id}/roll"
    assert "Roll the AuthKey" in root_client.get(url, **HX).content.decode()
    response = root_client.post(url, {"delay": "3600"}, **HX)
    assert response.status_code == 200
    new = AuthKey.objects.get(principal=root, rolled_to="")
    assert authkeys.verify_secret(new, secret_in(response))
    old.refresh_from_db()
    assert old.rolled_to == new.key_id and old.revoke_at is not None
    page = root_client.get("/security/authkeys/").content.decode()
    assert "data-roll-schedule" in page and "Cancel revocation" in page
    assert secret_in(response) not in page


def test_it_explains_a_roll_when_both_slots_are_used(root, root_client):
    old, _ = authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    page = root_client.get("/security/authkeys/").content.decode()
    assert "rolling needs a free slot" in page
    response = root_client.post(f"/security/authkeys/{old.key_id}/roll", {"delay": "0"}, **HX)
    assert response.status_code == 409
    assert "rolling needs a free slot" in response.content.decode()
    assert AuthKey.objects.filter(principal=root).count() == 2


def test_it_refuses_a_delay_that_is_not_offered(root, alice, root_client):
    old, _ = authkeys.generate(None, root, alice)
    url = f"/security/users/alice/authkeys/{old.key_id}/roll"
    assert root_client.post(url, {"delay": "999999"}, **HX).status_code == 400
    assert AuthKey.objects.filter(principal=alice).count() == 1


def test_it_cancels_a_roll_from_the_tab(root, alice, root_client):
    old, _ = authkeys.generate(None, root, alice)
    authkeys.roll(None, root, old, delay=timedelta(days=7))
    url = f"/security/users/alice/authkeys/{old.key_id}/cancel-roll"
    assert root_client.post(url, **HX).status_code == 204
    assert AuthKey.objects.get(pk=old.pk).revoke_at is None
