"""The AuthKey lifecycle operations of the JSON API (Latchkey's own, additive to the contract)."""

import json

import pytest

from accounts.models import Operator
from security import authkeys, roles
from security.models import AuditEntry, AuthKey
from tests.api.harness import call, error_of


def ops(principal) -> str:
    return f"/v1/operators/{principal.operator_id}"


def viewer(root, alice) -> None:
    """alice may read keys but not change them."""
    statement = {"effect": "allow", "api": ["User:listUserAuthKeys", "User:getUserAuthKey"]}
    roles.set_inline_permission(None, root, alice, json.dumps({"statements": [statement]}))


def test_it_refuses_a_viewer_the_deactivation_of_a_users_key(root, alice, alice_api):
    viewer(root, alice)
    key, _ = authkeys.generate(None, root, alice)
    base = f"{ops(alice)}/users/alice/auth_keys/{key.key_id}"
    assert call("PUT", base + "/deactivate", alice_api).status_code == 403
    assert call("POST", base + "/roll", alice_api, {"revokeAfterSeconds": 0}).status_code == 403
    key.refresh_from_db()
    assert key.deactivated_at is None and key.revoke_at is None
    assert AuthKey.objects.filter(principal=alice).count() == 1


def test_it_refuses_a_sam_user_the_root_keys_lifecycle(root, alice, alice_api):
    roles.set_inline_permission(
        None, root, alice, json.dumps({"statements": [{"effect": "allow", "api": ["*"]}]})
    )
    key, _ = authkeys.generate(None, root, root)
    path = f"{ops(root)}/auth_keys/{key.key_id}/deactivate"
    assert call("PUT", path, alice_api).status_code == 403
    key.refresh_from_db()
    assert key.deactivated_at is None


def test_it_deactivates_and_reactivates_a_root_key(root, root_api):
    key, _ = authkeys.generate(None, root, root)
    base = f"{ops(root)}/auth_keys/{key.key_id}"
    response = call("PUT", base + "/deactivate", root_api)
    assert response.status_code == 200
    assert response.json()["status"] == "inactive"
    key.refresh_from_db()
    assert key.deactivated_at is not None
    listed = call("GET", f"{ops(root)}/auth_keys", root_api).json()
    assert [k["status"] for k in listed] == ["inactive"]
    assert call("PUT", base + "/activate", root_api).json()["status"] == "active"
    key.refresh_from_db()
    assert key.deactivated_at is None


def test_it_deactivates_a_users_key(root, alice, root_api):
    key, _ = authkeys.generate(None, root, alice)
    path = f"{ops(alice)}/users/alice/auth_keys/{key.key_id}/deactivate"
    assert call("PUT", path, root_api).status_code == 200
    assert AuthKey.objects.get(pk=key.pk).deactivated_at is not None
    entry = AuditEntry.objects.get(action="User:deactivateUserAuthKey")
    assert entry.target == "alice"


def test_it_answers_404_for_another_operators_key(root, outsider, outsider_api):
    key, _ = authkeys.generate(None, root, root)
    path = f"{ops(root)}/auth_keys/{key.key_id}/deactivate"
    assert call("PUT", path, outsider_api).status_code == 404
    assert AuthKey.objects.get(pk=key.pk).deactivated_at is None


def test_it_generates_a_key_with_an_expiry(root, root_api):
    expiry = int(authkeys._now().timestamp()) + 3600
    response = call("POST", f"{ops(root)}/auth_keys", root_api, {"expiryDateTime": expiry})
    assert response.status_code == 201
    key = AuthKey.objects.get(key_id=response.json()["authKeyId"])
    assert int(key.expires_at.timestamp()) == expiry
    (listed,) = call("GET", f"{ops(root)}/auth_keys", root_api).json()
    assert listed["expiryDateTime"] == expiry


@pytest.mark.parametrize("expiry", [-1, "tomorrow", None, True, 10**20, 1])
def test_it_refuses_a_bad_expiry_with_400(root, root_api, expiry):
    response = call("POST", f"{ops(root)}/auth_keys", root_api, {"expiryDateTime": expiry})
    assert response.status_code == 400
    assert error_of(response)["code"] == "LKY0400"
    assert not AuthKey.objects.exists()


def test_it_refuses_a_generate_beyond_the_longest_lifetime_with_400(root, root_api):
    Operator.objects.filter(pk=root.operator_id).update(authkey_max_lifetime_days=30)
    expiry = int(authkeys._now().timestamp()) + 31 * 86400
    response = call("POST", f"{ops(root)}/auth_keys", root_api, {"expiryDateTime": expiry})
    assert response.status_code == 400
    assert "at most 30 days" in error_of(response)["message"]
    assert call("POST", f"{ops(root)}/auth_keys", root_api).status_code == 400  # no expiry
    assert not AuthKey.objects.exists()


def test_it_rolls_a_users_key_and_returns_the_secret_once(root, alice, root_api):
    old, _ = authkeys.generate(None, root, alice)
    path = f"{ops(alice)}/users/alice/auth_keys/{old.key_id}/roll"
    response = call("POST", path, root_api, {"revokeAfterSeconds": 3600})
    assert response.status_code == 201
    body = response.json()
    assert body["rolledAuthKey"] == old.key_id
    assert authkeys.looks_like_secret(body["authKey"])
    old.refresh_from_db()
    assert body["revokeDateTime"] == int(old.revoke_at.timestamp())
    listed = call("GET", f"{ops(alice)}/users/alice/auth_keys", root_api).json()
    assert {k["authKeyId"] for k in listed} == {old.key_id, body["authKeyId"]}
    assert all("authKey" not in k for k in listed)


def test_it_refuses_a_roll_without_a_delay_or_past_seven_days(root, root_api):
    old, _ = authkeys.generate(None, root, root)
    path = f"{ops(root)}/auth_keys/{old.key_id}/roll"
    assert call("POST", path, root_api).status_code == 400
    assert call("POST", path, root_api, {"revokeAfterSeconds": 604801}).status_code == 400
    assert AuthKey.objects.filter(principal=root).count() == 1


def test_it_answers_409_for_a_roll_with_both_slots_used(root, root_api):
    old, _ = authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    path = f"{ops(root)}/auth_keys/{old.key_id}/roll"
    response = call("POST", path, root_api, {"revokeAfterSeconds": 0})
    assert response.status_code == 409
    assert "rolling needs a free slot" in error_of(response)["message"]
    assert AuthKey.objects.filter(principal=root, slot__isnull=False).count() == 2


def test_it_cancels_a_scheduled_revocation(root, root_api):
    old, _ = authkeys.generate(None, root, root)
    path = f"{ops(root)}/auth_keys/{old.key_id}/roll"
    call("POST", path, root_api, {"revokeAfterSeconds": 86400})
    response = call("DELETE", path, root_api)
    assert response.status_code == 200
    assert "revokeDateTime" not in response.json()
    assert AuthKey.objects.get(pk=old.pk).revoke_at is None
    assert call("DELETE", path, root_api).status_code == 409
    assert AuditEntry.objects.filter(action="Operator:cancelOperatorAuthKeyRoll").count() == 1
