"""security/authkeys.py: formats, storage, the limit, revocation, the exchange, throttles."""

import math
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiSession, Principal
from security import authkeys, users
from security.models import AuditEntry, AuthKey
from tests.statements import count_statements


def api_request(ip: str = "192.0.2.10"):
    return RequestFactory().post("/v1/auth", REMOTE_ADDR=ip)


def auth(key_id: str, secret: str, ip: str = "192.0.2.10"):
    return Client(REMOTE_ADDR=ip).post(
        "/v1/auth", {"authKeyId": key_id, "authKey": secret}, content_type="application/json"
    )


@pytest.fixture
def staff(db) -> Principal:
    return Principal.objects.create_staff(
        "support-sam", "Support-Password-123", Principal.StaffRole.SUPPORT
    )


# --- formats ---------------------------------------------------------------------------


def test_it_makes_key_ids_of_keyid_and_32_lowercase_alphanumerics():
    key_id = authkeys.new_key_id()
    assert key_id.startswith("keyId-")
    assert len(key_id) == 38
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789" for c in key_id[6:])


def test_it_makes_secrets_of_secret_and_64_base62_characters():
    secret = authkeys.new_secret()
    assert secret.startswith("secret-")
    assert len(secret) == 71
    assert all(c in authkeys.BASE62 for c in secret[7:])


def test_it_gives_secrets_at_least_128_bits_of_randomness():
    random_chars = authkeys.SECRET_LENGTH - authkeys.CHECKSUM_LENGTH
    assert random_chars * math.log2(62) >= 128


def test_it_never_repeats_ids_or_secrets():
    secrets_ = {authkeys.new_secret() for _ in range(20000)}
    ids = {authkeys.new_key_id() for _ in range(20000)}
    assert len(secrets_) == len(ids) == 20000


def test_it_recognises_its_own_secrets():
    assert all(authkeys.looks_like_secret(authkeys.new_secret()) for _ in range(1000))


def test_it_refuses_every_single_character_typo_by_its_checksum():
    secret = authkeys.new_secret()
    for position in range(7, len(secret)):
        for replacement in "0aZ":
            if secret[position] == replacement:
                continue
            typo = secret[:position] + replacement + secret[position + 1 :]
            assert not authkeys.looks_like_secret(typo), (position, replacement)


def test_it_refuses_swapped_neighbours_by_its_checksum():
    secret = authkeys.new_secret()
    for position in range(7, len(secret) - 1):
        a, b = secret[position], secret[position + 1]
        if a != b:
            swapped = secret[:position] + b + a + secret[position + 2 :]
            assert not authkeys.looks_like_secret(swapped)


@pytest.mark.parametrize(
    "value",
    [None, 7, b"secret-", "", "secret-", "secret-" + "a" * 63, "Secret-" + "a" * 64, "s" * 71],
)
def test_it_refuses_values_without_the_secret_shape(value):
    assert not authkeys.looks_like_secret(value)


def test_it_refuses_unicode_digits_in_a_secret():
    secret = authkeys.new_secret()
    assert not authkeys.looks_like_secret(secret[:-1] + "\u0661")  # ARABIC-INDIC DIGIT ONE


# --- storage ---------------------------------------------------------------------------


def test_it_stores_a_keyed_hash_never_the_secret(root):
    key, secret = authkeys.generate(None, root, root)
    key.refresh_from_db()
    assert key.secret_hash != secret
    assert len(key.secret_hash) == 64
    assert authkeys.verify_secret(key, secret)


def test_it_depends_on_the_pepper(root, settings):
    key, secret = authkeys.generate(None, root, root)
    settings.LATCHKEY_PEPPER = "another-pepper-entirely"
    assert not authkeys.verify_secret(key, secret)


def test_it_verifies_with_a_retired_pepper_and_rehashes_at_the_exchange(root, settings):
    key, secret = authkeys.generate(None, root, root)
    settings.LATCHKEY_PEPPER_FALLBACKS = [settings.LATCHKEY_PEPPER]
    settings.LATCHKEY_PEPPER = "a-new-pepper-" + "n" * 40
    assert authkeys.exchange(api_request(), key.key_id, secret)[0] == root
    settings.LATCHKEY_PEPPER_FALLBACKS = []
    key.refresh_from_db()
    assert authkeys.verify_secret(key, secret)


def test_it_refuses_a_secret_once_its_pepper_is_retired_for_good(root, settings):
    key, secret = authkeys.generate(None, root, root)
    settings.LATCHKEY_PEPPER = "a-new-pepper-" + "n" * 40
    assert authkeys.exchange(api_request(), key.key_id, secret)[0] is None


def test_it_binds_each_hash_to_its_key_id(root):
    secret = authkeys.new_secret()
    assert authkeys.hash_secret("keyId-" + "a" * 32, secret) != authkeys.hash_secret(
        "keyId-" + "b" * 32, secret
    )


def test_it_keeps_the_secret_out_of_everything_through_the_service_calls(canary, root, staff):
    # The console and API flows are in tests/security/test_secret_flows.py; this one drives
    # the service functions directly, a staff revocation included.
    key, secret = authkeys.generate(api_request(), root, root)
    canary.add(secret, label="root AuthKey")
    assert authkeys.exchange(api_request(), key.key_id, secret)[0] == root
    assert auth(key.key_id, secret[:-1] + ("x" if secret[-1] != "x" else "y")).status_code == 401
    assert auth(secret, secret).status_code == 401
    authkeys.revoke(api_request(), staff, key, reason="reported leak")
    canary.assert_nowhere(revisit=root)


# --- the limit -------------------------------------------------------------------------


def test_it_allows_two_live_keys(root):
    first, _ = authkeys.generate(None, root, root)
    second, _ = authkeys.generate(None, root, root)
    assert {first.slot, second.slot} == {1, 2}


def test_it_refuses_a_third_key_and_writes_nothing(root):
    authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    before = list(AuthKey.objects.values_list("id", "slot"))
    with pytest.raises(authkeys.AuthKeyLimitReached, match="revoke one to generate a new one"):
        authkeys.generate(None, root, root)
    assert list(AuthKey.objects.values_list("id", "slot")) == before


def test_it_audits_a_refused_third_key(root, alice):
    authkeys.generate(None, root, alice)
    authkeys.generate(None, root, alice)
    with pytest.raises(authkeys.AuthKeyLimitReached):
        authkeys.generate(None, root, alice)
    entry = AuditEntry.objects.get(action="User:generateUserAuthKey", outcome="failed")
    assert entry.target == "alice"
    assert entry.details["reason"] == "limit"


def test_it_counts_the_limit_per_principal(root, alice):
    for holder in (root, root, alice, alice):
        authkeys.generate(None, root, holder)
    assert AuthKey.objects.filter(slot__isnull=False).count() == 4


def test_it_lets_the_database_refuse_a_third_live_slot(root):
    key, _ = authkeys.generate(None, root, root)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuthKey.objects.create(
            key_id=authkeys.new_key_id(),
            principal=root,
            operator=root.operator,
            holder="root",
            secret_hash="0" * 64,
            slot=key.slot,
        )


def test_it_lets_the_database_refuse_a_slot_other_than_1_or_2(root):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuthKey.objects.create(
            key_id=authkeys.new_key_id(),
            principal=root,
            operator=root.operator,
            holder="root",
            secret_hash="0" * 64,
            slot=3,
        )


def test_it_limits_generate_and_revoke_churn_per_hour(root, settings):
    settings.LATCHKEY_AUTHKEY_GENERATES_PER_HOUR = 3
    for _ in range(3):
        key, _ = authkeys.generate(None, root, root)
        authkeys.revoke(None, root, key)
    with pytest.raises(authkeys.GenerateRateLimited) as refused:
        authkeys.generate(None, root, root)
    assert 1 <= refused.value.retry_after <= 3600
    assert not authkeys.live_keys(root).exists()
    assert AuditEntry.objects.filter(outcome="failed", details__reason="rate").exists()


def test_it_lets_generate_resume_after_the_hour(root, settings):
    settings.LATCHKEY_AUTHKEY_GENERATES_PER_HOUR = 1
    key, _ = authkeys.generate(None, root, root)
    authkeys.revoke(None, root, key)
    AuthKey.objects.filter(pk=key.pk).update(created_at=timezone.now() - timedelta(minutes=61))
    assert authkeys.generate(None, root, root)[0].is_live


def test_it_refuses_keys_to_staff(staff):
    with pytest.raises(authkeys.NotAKeyHolder):
        authkeys.generate(None, staff, staff)


# --- revoke ----------------------------------------------------------------------------


def test_it_keeps_a_tombstone_of_a_revoked_key(root, alice):
    key, _ = authkeys.generate(None, root, alice)
    assert authkeys.revoke(None, root, key, reason="rotation")
    key.refresh_from_db()
    assert key.slot is None
    assert key.revoked_at is not None
    assert key.revoked_by == f"root:{root.email}"
    assert key.revoke_reason == "rotation"
    assert key.secret_hash  # the row stays; the audit trail can name it


def test_it_refuses_the_exchange_of_a_revoked_key(root):
    key, secret = authkeys.generate(None, root, root)
    authkeys.revoke(None, root, key)
    assert authkeys.exchange(api_request(), key.key_id, secret)[0] is None


def test_it_ends_every_session_made_from_a_revoked_key_at_once(root, alice):
    key, secret = authkeys.generate(None, root, alice)
    sessions = [auth(key.key_id, secret).json() for _ in range(3)]
    other, other_secret = authkeys.generate(None, root, alice)
    kept = auth(other.key_id, other_secret).json()
    authkeys.revoke(None, root, key)
    for session in sessions:
        response = Client().post(
            "/v1/auth/logout",
            HTTP_X_SORACOM_API_KEY=session["apiKey"],
            HTTP_X_SORACOM_TOKEN=session["token"],
        )
        assert response.status_code == 401
    assert ApiSession.objects.get(api_key=kept["apiKey"]).revoked_at is None


def test_it_answers_false_to_a_second_revoke(root):
    key, _ = authkeys.generate(None, root, root)
    assert authkeys.revoke(None, root, key)
    assert not authkeys.revoke(None, root, key)
    assert AuditEntry.objects.filter(action="Operator:deleteOperatorAuthKey").count() == 1


def test_it_lets_support_staff_revoke_with_a_reason_the_tenant_sees(root, staff):
    key, _ = authkeys.generate(None, root, root)
    authkeys.revoke(None, staff, key, reason="Found on a public paste site", api="Support:revoke")
    key.refresh_from_db()
    assert key.revoked_by == "staff:support-sam"
    entry = AuditEntry.objects.get(action="Support:revoke")
    assert entry.operator_id == root.operator_id
    assert entry.details["reason"] == "Found on a public paste site"


def test_it_frees_the_slot_of_a_revoked_key(root):
    first, _ = authkeys.generate(None, root, root)
    freed = first.slot
    authkeys.generate(None, root, root)
    authkeys.revoke(None, root, first)
    third, _ = authkeys.generate(None, root, root)
    assert third.slot == freed
    assert authkeys.live_keys(root).count() == 2


def test_it_revokes_keys_and_sessions_when_a_user_is_deleted(root, alice):
    key, secret = authkeys.generate(None, root, alice)
    session = auth(key.key_id, secret).json()
    users.delete_user(None, root, alice)
    assert auth(key.key_id, secret).status_code == 401
    response = Client().post(
        "/v1/auth/logout",
        HTTP_X_SORACOM_API_KEY=session["apiKey"],
        HTTP_X_SORACOM_TOKEN=session["token"],
    )
    assert response.status_code == 401
    tombstone = AuthKey.objects.get(pk=key.pk)
    assert tombstone.revoked_at is not None and tombstone.holder == "alice"


# --- the exchange ----------------------------------------------------------------------


def test_it_records_last_use_and_address_at_the_exchange(root):
    key, secret = authkeys.generate(None, root, root)
    principal, key_id, wait = authkeys.exchange(api_request("198.51.100.4"), key.key_id, secret)
    assert (principal, key_id, wait) == (root, key.key_id, 0)
    key.refresh_from_db()
    assert key.last_used_ip == "198.51.100.4"
    assert timezone.now() - key.last_used_at < timedelta(seconds=5)


def test_it_does_not_record_a_failed_exchange_as_a_use(root):
    key, _ = authkeys.generate(None, root, root)
    authkeys.exchange(api_request(), key.key_id, authkeys.new_secret())
    key.refresh_from_db()
    assert key.last_used_at is None and key.last_used_ip == ""


def test_it_does_not_write_last_use_on_other_api_calls(root):
    key, secret = authkeys.generate(None, root, root)
    session = auth(key.key_id, secret).json()
    key.refresh_from_db()
    used_at = key.last_used_at
    Client(REMOTE_ADDR="203.0.113.99").get(
        f"/v1/operators/{root.operator_id}/auth_keys",
        HTTP_X_SORACOM_API_KEY=session["apiKey"],
        HTTP_X_SORACOM_TOKEN=session["token"],
    )
    key.refresh_from_db()
    assert key.last_used_at == used_at
    assert key.last_used_ip == "192.0.2.10"


def test_it_never_moves_last_use_backwards(root):
    key, secret = authkeys.generate(None, root, root)
    future = timezone.now() + timedelta(minutes=5)
    AuthKey.objects.filter(pk=key.pk).update(last_used_at=future)
    assert authkeys.exchange(api_request(), key.key_id, secret)[0] == root
    key.refresh_from_db()
    assert key.last_used_at == future


def test_it_refuses_a_mistyped_secret_without_touching_the_database(root):
    key, secret = authkeys.generate(None, root, root)
    typo = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    # Counted by the database on PostgreSQL: the exchange's queries are prepared there.
    with count_statements() as counted:
        assert authkeys.exchange(api_request(), key.key_id, typo) == (None, key.key_id, 0)
    assert counted.total == 0, counted.statements


@pytest.fixture
def keyed_hashes(monkeypatch) -> list[str]:
    """Count the keyed hashes (HMAC under a pepper) computed of AuthKey secrets."""
    calls: list[str] = []
    real = authkeys.hash_secret

    def counting(key_id, secret, pepper=None):
        calls.append(key_id)
        return real(key_id, secret, pepper)

    monkeypatch.setattr(authkeys, "hash_secret", counting)
    return calls


def test_it_does_the_same_work_for_an_unknown_id_as_for_a_wrong_secret(root, keyed_hashes):
    key, _ = authkeys.generate(None, root, root)
    keyed_hashes.clear()
    with CaptureQueriesContext(connection) as known:
        authkeys.exchange(api_request("192.0.2.1"), key.key_id, authkeys.new_secret())
    known_hashes = len(keyed_hashes)
    keyed_hashes.clear()
    with CaptureQueriesContext(connection) as unknown:
        authkeys.exchange(api_request("192.0.2.2"), authkeys.new_key_id(), authkeys.new_secret())
    # The work that costs time is the keyed hash: one per pepper, known ID or not.
    assert known_hashes == len(keyed_hashes) == 1
    assert [q["sql"].split()[0] for q in known] == [q["sql"].split()[0] for q in unknown]


def test_it_computes_one_keyed_hash_per_pepper_for_an_unknown_id_too(root, keyed_hashes, settings):
    settings.LATCHKEY_PEPPER_FALLBACKS = ["an-old-pepper-being-retired-0123456789"]
    key, _ = authkeys.generate(None, root, root)
    keyed_hashes.clear()
    authkeys.exchange(api_request("192.0.2.1"), key.key_id, authkeys.new_secret())
    known = len(keyed_hashes)
    keyed_hashes.clear()
    authkeys.exchange(api_request("192.0.2.2"), authkeys.new_key_id(), authkeys.new_secret())
    assert known == len(keyed_hashes) == 2


def test_it_refuses_a_key_of_a_deactivated_principal(root, alice):
    key, secret = authkeys.generate(None, root, alice)
    Principal.objects.filter(pk=alice.pk).update(is_active=False)
    assert authkeys.exchange(api_request(), key.key_id, secret)[0] is None


def test_it_returns_no_key_id_for_a_malformed_one(db):
    assert authkeys.exchange(api_request(), "keyId-<script>", authkeys.new_secret()) == (
        None,
        "",
        0,
    )


def test_it_throttles_one_source_guessing_one_key(root, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    key, secret = authkeys.generate(None, root, root)
    for _ in range(3):
        authkeys.exchange(api_request(), key.key_id, authkeys.new_secret())
    principal, _, wait = authkeys.exchange(api_request(), key.key_id, secret)
    assert principal is None and wait > 0


def test_it_throttles_one_source_across_keys(root, settings):
    settings.LATCHKEY_THROTTLE_PER_IP = 5
    key, secret = authkeys.generate(None, root, root)
    for _ in range(5):
        authkeys.exchange(api_request(), authkeys.new_key_id(), authkeys.new_secret())
    assert authkeys.exchange(api_request(), key.key_id, secret)[2] > 0
    assert authkeys.exchange(api_request("192.0.2.77"), key.key_id, secret)[0] == root


def test_it_throttles_wrong_secrets_for_a_key_from_everywhere(root, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT = 4
    key, _ = authkeys.generate(None, root, root)
    for n in range(4):
        authkeys.exchange(api_request(f"198.51.100.{n}"), key.key_id, authkeys.new_secret())
    _, _, wait = authkeys.exchange(api_request("198.51.100.200"), key.key_id, authkeys.new_secret())
    assert wait > 0


def test_it_lets_the_owner_in_while_strangers_flood_its_key(root, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT = 4
    key, secret = authkeys.generate(None, root, root)
    for n in range(10):
        authkeys.exchange(api_request(f"198.51.100.{n}"), key.key_id, authkeys.new_secret())
    assert authkeys.exchange(api_request("192.0.2.250"), key.key_id, secret)[0] == root


def test_it_answers_429_with_retry_after_over_http(root, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 2
    key, _ = authkeys.generate(None, root, root)
    for _ in range(2):
        auth(key.key_id, authkeys.new_secret())
    response = auth(key.key_id, authkeys.new_secret())
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
