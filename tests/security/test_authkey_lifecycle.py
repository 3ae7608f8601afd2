"""The AuthKey lifecycle (issue 15 items 4-6): deactivation, expiry, rolls, the cron command.

Time goes through the `_now` seams of security/authkeys.py and accounts/apisessions.py, as
the token tests do, so that "at the exact second" is tested without sleeping.
"""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts import apisessions
from accounts.models import ApiSession, Operator
from security import authkeys
from security.models import AuditEntry, AuthKey


def exchange(key_id: str, secret: str):
    return Client().post(
        "/v1/auth", {"authKeyId": key_id, "authKey": secret}, content_type="application/json"
    )


def session_of(key_id: str, secret: str) -> dict:
    response = exchange(key_id, secret)
    assert response.status_code == 200, response.content
    body = response.json()
    return {"HTTP_X_SORACOM_API_KEY": body["apiKey"], "HTTP_X_SORACOM_TOKEN": body["token"]}


def list_keys(root, headers: dict):
    return Client().get(f"/v1/operators/{root.operator_id}/auth_keys", **headers)


@pytest.fixture
def clock(monkeypatch):
    """A settable clock for both seams; starts at the real time (whole second)."""

    class Clock:
        now = timezone.now().replace(microsecond=0)

        def __call__(self):
            return self.now

    c = Clock()
    monkeypatch.setattr(authkeys, "_now", c)
    monkeypatch.setattr(apisessions, "_now", c)
    return c


# --- deactivate and reactivate -------------------------------------------------------------


def test_it_refuses_the_exchange_of_a_deactivated_key_like_a_wrong_secret(root):
    key, secret = authkeys.generate(None, root, root)
    wrong = exchange(key.key_id, authkeys.new_secret())
    authkeys.set_active(None, root, key, False)
    refused = exchange(key.key_id, secret)
    assert refused.status_code == wrong.status_code == 401
    assert refused.json() == wrong.json()


def test_it_ends_a_deactivated_keys_sessions_at_once(root):
    key, secret = authkeys.generate(None, root, root)
    other, other_secret = authkeys.generate(None, root, root)
    old = session_of(key.key_id, secret)
    assert list_keys(root, old).status_code == 200
    authkeys.set_active(None, root, key, False)
    assert list_keys(root, old).status_code == 401
    assert not ApiSession.objects.filter(auth_key_id=key.key_id, revoked_at=None).exists()
    assert list_keys(root, session_of(other.key_id, other_secret)).status_code == 200


def test_it_keeps_a_deactivated_key_listed_and_counting_toward_two(root):
    key, _ = authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    authkeys.set_active(None, root, key, False)
    key.refresh_from_db()
    assert key.slot is not None and key.deactivated_at is not None
    assert authkeys.as_response(key)["status"] == "inactive"
    with pytest.raises(authkeys.AuthKeyLimitReached):
        authkeys.generate(None, root, root)


def test_it_restores_the_exchange_on_reactivation_and_keeps_old_sessions_ended(root):
    key, secret = authkeys.generate(None, root, root)
    old = session_of(key.key_id, secret)
    authkeys.set_active(None, root, key, False)
    authkeys.set_active(None, root, key, True)
    key.refresh_from_db()
    assert key.deactivated_at is None
    assert list_keys(root, session_of(key.key_id, secret)).status_code == 200
    assert list_keys(root, old).status_code == 401


def test_it_audits_deactivation_and_reactivation_once_each(root):
    key, _ = authkeys.generate(None, root, root)
    authkeys.set_active(None, root, key, False)
    authkeys.set_active(None, root, key, False)  # already inactive: no change, no entry
    authkeys.set_active(None, root, key, True)
    actions = list(
        AuditEntry.objects.filter(action__contains="activateOperatorAuthKey")
        .order_by("id")
        .values_list("action", "details")
    )
    assert [a for a, _ in actions] == [
        "Operator:deactivateOperatorAuthKey",
        "Operator:activateOperatorAuthKey",
    ]
    assert actions[0][1]["authKeyId"] == key.key_id
    assert "sessionsEnded" in actions[0][1]


# --- expiry ----------------------------------------------------------------------------


def test_it_refuses_an_expired_key_at_the_exact_second_and_tombstones_it(root, clock):
    key, secret = authkeys.generate(None, root, root, expires_at=clock.now + timedelta(hours=1))
    clock.now = key.expires_at - timedelta(seconds=1)
    assert exchange(key.key_id, secret).status_code == 200
    clock.now = key.expires_at
    assert exchange(key.key_id, secret).status_code == 401
    key.refresh_from_db()
    assert key.slot is None
    assert key.revoke_reason == "expired"
    assert key.revoked_at == key.expires_at


def test_it_ends_an_expiring_keys_sessions_at_the_second_before_any_tombstone(root, clock):
    key, secret = authkeys.generate(None, root, root, expires_at=clock.now + timedelta(minutes=10))
    headers = session_of(key.key_id, secret)
    clock.now = key.expires_at - timedelta(seconds=1)
    assert list_keys(root, headers).status_code == 200
    clock.now = key.expires_at
    assert list_keys(root, headers).status_code == 401
    assert AuthKey.objects.get(pk=key.pk).slot is not None  # not yet tombstoned: refused anyway


def test_it_refuses_an_expiry_in_the_past(root, clock):
    with pytest.raises(ValidationError):
        authkeys.generate(None, root, root, expires_at=clock.now)
    assert not AuthKey.objects.exists()


def test_it_refuses_a_generate_beyond_the_operators_longest_lifetime(root, clock):
    Operator.objects.filter(pk=root.operator_id).update(authkey_max_lifetime_days=30)
    with pytest.raises(ValidationError, match="at most 30 days"):
        authkeys.generate(None, root, root, expires_at=clock.now + timedelta(days=31))
    with pytest.raises(ValidationError, match="choose an expiry"):
        authkeys.generate(None, root, root)
    assert not AuthKey.objects.exists()
    key, _ = authkeys.generate(None, root, root, expires_at=clock.now + timedelta(days=30))
    assert key.expires_at == clock.now + timedelta(days=30)


def test_it_sets_the_longest_lifetime_with_an_audit_entry(root):
    assert authkeys.set_max_lifetime(None, root, root.operator_id, 90)
    assert not authkeys.set_max_lifetime(None, root, root.operator_id, 90)
    assert authkeys.set_max_lifetime(None, root, root.operator_id, None)
    assert Operator.objects.get(pk=root.operator_id).authkey_max_lifetime_days is None
    entries = AuditEntry.objects.filter(action=authkeys.MAX_LIFETIME_API).order_by("id")
    assert [e.details["maxLifetimeDays"] for e in entries] == [90, None]


def test_the_cron_command_tombstones_due_keys_once(root, alice, clock):
    due, _ = authkeys.generate(None, root, alice, expires_at=clock.now + timedelta(hours=1))
    later, _ = authkeys.generate(None, root, alice, expires_at=clock.now + timedelta(days=2))
    clock.now += timedelta(hours=1)
    out = StringIO()
    call_command("expire_authkeys", stdout=out)
    call_command("expire_authkeys", stdout=StringIO())
    assert "1 AuthKey lapsed." in out.getvalue()
    assert AuthKey.objects.get(pk=due.pk).revoke_reason == "expired"
    assert AuthKey.objects.get(pk=later.pk).slot is not None
    entries = AuditEntry.objects.filter(details__authKeyId=due.key_id, details__reason="expired")
    assert entries.count() == 1


def test_it_flags_keys_expiring_within_14_days(root, clock):
    soon, _ = authkeys.generate(None, root, root, expires_at=clock.now + timedelta(days=14))
    far, _ = authkeys.generate(None, root, root, expires_at=clock.now + timedelta(days=15))
    assert authkeys.expires_soon(soon)
    assert not authkeys.expires_soon(far)


# --- roll ------------------------------------------------------------------------------


@pytest.mark.parametrize("delay", [timedelta(hours=1), timedelta(hours=24), timedelta(days=7)])
def test_a_roll_keeps_both_keys_working_until_the_delay(root, clock, delay):
    old, old_secret = authkeys.generate(None, root, root)
    new, new_secret = authkeys.roll(None, root, old, delay=delay)
    assert old.revoke_at == clock.now + delay and old.rolled_to == new.key_id
    clock.now += delay - timedelta(seconds=1)
    assert exchange(old.key_id, old_secret).status_code == 200
    assert exchange(new.key_id, new_secret).status_code == 200
    clock.now += timedelta(seconds=1)
    assert exchange(old.key_id, old_secret).status_code == 401
    assert exchange(new.key_id, new_secret).status_code == 200
    old.refresh_from_db()
    assert (old.slot, old.revoke_reason, old.revoked_at) == (None, "rolled", old.revoke_at)


def test_a_roll_now_revokes_the_old_key_at_once(root):
    old, old_secret = authkeys.generate(None, root, root)
    headers = session_of(old.key_id, old_secret)
    new, new_secret = authkeys.roll(None, root, old, delay=timedelta(0))
    assert old.slot is None and old.revoke_reason == "rolled"
    assert exchange(old.key_id, old_secret).status_code == 401
    assert list_keys(root, headers).status_code == 401
    assert exchange(new.key_id, new_secret).status_code == 200


def test_a_cancelled_roll_keeps_the_old_key(root, clock):
    old, old_secret = authkeys.generate(None, root, root)
    authkeys.roll(None, root, old, delay=timedelta(hours=1))
    assert authkeys.cancel_roll(None, root, old)
    assert old.revoke_at is None and old.rolled_to == ""
    clock.now += timedelta(hours=2)
    assert exchange(old.key_id, old_secret).status_code == 200
    assert not authkeys.cancel_roll(None, root, old)  # nothing scheduled any more


def test_a_roll_needs_a_free_slot(root):
    old, _ = authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    with pytest.raises(authkeys.RollNeedsFreeSlot, match="Both AuthKey slots are in use"):
        authkeys.roll(None, root, old, delay=timedelta(hours=1))
    old.refresh_from_db()
    assert old.revoke_at is None
    assert AuthKey.objects.filter(principal=root).count() == 2
    failed = AuditEntry.objects.get(action="Operator:rollOperatorAuthKey")
    assert failed.outcome == AuditEntry.Outcome.FAILED


def test_a_roll_refuses_a_delay_beyond_seven_days(root):
    old, _ = authkeys.generate(None, root, root)
    with pytest.raises(ValidationError):
        authkeys.roll(None, root, old, delay=timedelta(days=7, seconds=1))
    assert AuthKey.objects.filter(principal=root).count() == 1


def test_a_roll_is_audited_with_both_keys(root):
    old, _ = authkeys.generate(None, root, root)
    new, _ = authkeys.roll(None, root, old, delay=timedelta(hours=1))
    entry = AuditEntry.objects.get(action="Operator:rollOperatorAuthKey")
    assert entry.details["authKeyId"] == old.key_id
    assert entry.details["newAuthKeyId"] == new.key_id
    assert entry.details["revokeDateTime"] == int(old.revoke_at.timestamp())
    assert json.dumps(entry.details).count("secret-") == 0


def test_the_cron_command_applies_a_due_roll_once(root, clock):
    old, _ = authkeys.generate(None, root, root)
    authkeys.roll(None, root, old, delay=timedelta(hours=1))
    clock.now += timedelta(hours=1)
    assert authkeys.lapse_due() == 1
    assert authkeys.lapse_due() == 0
    old.refresh_from_db()
    assert old.revoke_reason == "rolled" and old.revoked_by == "lifecycle"
    rolled = AuditEntry.objects.filter(details__authKeyId=old.key_id, details__reason="rolled")
    assert rolled.count() == 1


def test_a_roll_refuses_an_expired_key(root, clock):
    old, _ = authkeys.generate(None, root, root, expires_at=clock.now + timedelta(hours=1))
    clock.now += timedelta(hours=1)
    with pytest.raises(authkeys.LifecycleConflict, match="expired"):
        authkeys.roll(None, root, old, delay=timedelta(hours=1))
    assert AuthKey.objects.filter(principal=root).count() == 1


def test_a_roll_refuses_an_inactive_key(root):
    old, _ = authkeys.generate(None, root, root)
    authkeys.set_active(None, root, old, False)
    with pytest.raises(authkeys.LifecycleConflict, match="Activate"):
        authkeys.roll(None, root, old, delay=timedelta(hours=1))
    assert AuthKey.objects.filter(principal=root).count() == 1
