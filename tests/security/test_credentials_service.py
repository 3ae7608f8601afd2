"""Credential sets: per-type validation, the quota, updates, deletes, use and rotation."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from security import credential_rotation, credential_schemas, credentials, crypto
from security.models import AuditEntry, CredentialSet, Group, GroupServiceConfig
from tests.security.credential_samples import make_cert, sample_fields, weak_rsa_key_pem
from tests.security.test_crypto import key_entry


def create(actor, cid="set-1", kind="psk", fields=None, description=""):
    return credentials.create_credential_set(
        None, actor, cid, kind, description, sample_fields(kind) if fields is None else fields
    )


def errors_of(actor, kind, fields, cid="bad-1"):
    with pytest.raises(credentials.CredentialsInvalid) as info:
        create(actor, cid, kind, fields)
    assert not CredentialSet.objects.filter(credentials_id=cid).exists()
    return info.value.errors


@pytest.mark.parametrize("kind", sorted(credential_schemas.TYPES))
def test_it_accepts_every_contract_type(root, kind):
    fields = sample_fields(kind)
    cs = create(root, f"set-{kind}", kind, fields)
    assert cs.type == kind
    assert credentials.use_credential_set(root.operator, cs.credentials_id) == fields


def test_it_has_the_twenty_contract_types():
    assert len(credential_schemas.TYPES) == 20


def test_it_returns_exactly_the_stored_fields(root):
    fields = {"accessKeyId": "AKIAX", "secretAccessKey": "abc/def+ghi"}
    create(root, "aws", "aws-credentials", fields)
    assert credentials.use_credential_set(root.operator, "aws") == fields


def test_it_refuses_an_unknown_type(root):
    assert errors_of(root, "ftp-credentials", {"key": "x"}) == {
        "type": "is not a known credential set type."
    }


def test_it_refuses_fields_of_another_type(root):
    errors = errors_of(root, "psk", {"key": "long-enough-key", "secretAccessKey": "x"})
    assert errors == {"credentials.secretAccessKey": "is not a field of the psk type."}


def test_it_names_each_missing_required_field(root):
    errors = errors_of(root, "aws-credentials", {})
    assert set(errors) == {"credentials.accessKeyId", "credentials.secretAccessKey"}


def test_it_refuses_an_oversized_value_without_echoing_it(root):
    errors = errors_of(root, "api-token-credentials", {"token": "Q" * 5000})
    assert errors == {"credentials.token": "is too long (at most 4096 characters)."}
    assert "QQQ" not in str(errors)


@pytest.mark.parametrize("value", [None, 12, ["a"], {"a": "b"}, True])
def test_it_refuses_a_value_that_is_not_a_string(root, value):
    errors = errors_of(root, "psk", {"key": value})
    assert errors == {"credentials.key": "must be a string."}


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("short", "is too short (at least 8 characters)."),
        ("x" * 513, "is too long (at most 512 characters)."),
        ("has-a-\x00-nul", "contains a NUL character."),
        ("line\nbreak-psk", "contains control characters."),
    ],
)
def test_it_refuses_an_insane_psk(root, key, message):
    assert errors_of(root, "psk", {"key": key}) == {"credentials.key": message}


def test_it_refuses_json_that_does_not_parse(root):
    errors = errors_of(root, "google-service-account-json", {"credentials": "{not json"})
    assert errors == {"credentials.credentials": "is not valid JSON."}


def test_it_refuses_json_that_is_not_an_object(root):
    errors = errors_of(root, "google-service-account-json", {"credentials": "[1, 2]"})
    assert errors == {"credentials.credentials": "must be a JSON object."}


def test_it_refuses_an_invalid_pem_certificate(root):
    _, key = make_cert()
    errors = errors_of(root, "x509", {"cert": "-----BEGIN CERTIFICATE-----\nnope\n", "key": key})
    assert errors == {"credentials.cert": "is not a PEM certificate."}


def test_it_refuses_an_invalid_pem_key(root):
    cert, _ = make_cert()
    errors = errors_of(root, "x509", {"cert": cert, "key": "-----BEGIN PRIVATE KEY-----\nx\n"})
    assert errors == {"credentials.key": "is not a PEM private key."}


def test_it_refuses_a_key_that_does_not_match_the_certificate(root):
    cert, _ = make_cert()
    _, other_key = make_cert()
    errors = errors_of(root, "x509", {"cert": cert, "key": other_key})
    assert errors == {"credentials.key": "does not match the certificate's public key."}


def test_it_refuses_a_weak_rsa_key(root):
    errors = errors_of(root, "private-key-pem", {"privateKey": weak_rsa_key_pem()})
    assert errors == {"credentials.privateKey": "is an RSA key shorter than 2048 bits."}


def test_it_refuses_a_role_arn_that_is_not_one(root):
    errors = errors_of(
        root, "aws-iam-role-credentials", {"roleArn": "role/x", "externalId": "ext-id"}
    )
    assert set(errors) == {"credentials.roleArn"}


def test_it_normalises_crlf_line_endings(root):
    cert, key = make_cert()
    create(root, "x", "x509", {"cert": cert.replace("\n", "\r\n"), "key": key})
    assert credentials.use_credential_set(root.operator, "x")["cert"] == cert


def test_it_keeps_the_certificate_subject_and_expiry_in_clear(root):
    cert, key = make_cert("gateway.example", days=10)
    cs = create(root, "x", "x509", {"cert": cert, "key": key})
    assert cs.cert_subject == "CN=gateway.example"
    assert cs.cert_expires_at - dt.datetime.now(dt.UTC) < dt.timedelta(days=10)
    assert credentials.expiry_state(cs) == "expiring"


def test_it_marks_an_expired_certificate(root):
    cert, key = make_cert(days=-1)
    assert credentials.expiry_state(create(root, "x", "x509", {"cert": cert, "key": key})) == (
        "expired"
    )


@pytest.mark.parametrize("cid", ["", "-starts-with-dash", "a" * 101, "has space", "x/y"])
def test_it_refuses_an_invalid_credentials_id(root, cid):
    with pytest.raises(credentials.CredentialsInvalid) as info:
        create(root, cid)
    assert "credentialsId" in info.value.errors


def test_it_refuses_a_duplicate_id(root):
    create(root, "dup")
    with pytest.raises(credentials.CredentialExists):
        create(root, "dup")
    assert CredentialSet.objects.filter(credentials_id="dup").count() == 1


def test_it_allows_the_same_id_in_another_operator(root, outsider):
    create(root, "shared-name")
    create(outsider, "shared-name")
    assert CredentialSet.objects.filter(credentials_id="shared-name").count() == 2


def test_it_refuses_the_set_beyond_the_quota(root):
    root.operator.credential_quota = 2
    root.operator.save()
    create(root, "a")
    create(root, "b")
    with pytest.raises(credentials.QuotaExceeded, match="ask the administrator"):
        create(root, "c")
    assert credentials.count_for(root.operator) == 2


def test_it_audits_create_update_delete_without_secrets(canary, root):
    cs = create(root, "audited", fields={"key": canary.plant("psk1")})
    cs = credentials.update_credential_set(None, root, cs, fields={"key": canary.plant("psk2")})
    credentials.delete_credential_set(None, root, cs)
    entries = list(AuditEntry.objects.filter(target="audited").order_by("id"))
    assert [e.action for e in entries] == [
        "Credential:createCredential",
        "Credential:updateCredential",
        "Credential:deleteCredential",
    ]
    canary.assert_nowhere()


def test_it_keeps_fields_left_empty_on_update(root):
    cs = create(root, "aws", "aws-credentials", {"accessKeyId": "AKIA1", "secretAccessKey": "s1"})
    credentials.update_credential_set(None, root, cs, fields={"accessKeyId": "AKIA2"})
    assert credentials.use_credential_set(root.operator, "aws") == {
        "accessKeyId": "AKIA2",
        "secretAccessKey": "s1",
    }


def test_it_replaces_all_fields_when_not_keeping_missing_ones(root):
    cs = create(root, "aws", "aws-credentials", {"accessKeyId": "AKIA1", "secretAccessKey": "s1"})
    with pytest.raises(credentials.CredentialsInvalid) as info:
        credentials.update_credential_set(
            None, root, cs, fields={"accessKeyId": "AKIA2"}, keep_missing=False
        )
    assert set(info.value.errors) == {"credentials.secretAccessKey"}


def test_it_changes_only_the_description(root):
    cs = create(root, "d", description="old")
    before = bytes(cs.ciphertext)
    cs = credentials.update_credential_set(None, root, cs, description="new")
    assert cs.description == "new"
    assert bytes(CredentialSet.objects.get(pk=cs.pk).ciphertext) == before


def test_it_changes_the_type_with_complete_fields(root):
    cs = create(root, "t")
    credentials.update_credential_set(
        None, root, cs, kind="username-password-credentials",
        fields={"username": "u", "password": "p"}, keep_missing=False,
    )  # fmt: skip
    assert credentials.use_credential_set(root.operator, "t") == {"username": "u", "password": "p"}


def test_it_refuses_to_delete_a_set_a_group_uses(root):
    cs = create(root, "used")
    group = Group.objects.create(operator=root.operator, name="sensors")
    GroupServiceConfig.objects.create(
        group=group, service="beam", destination_url="https://x.example", credential_set=cs
    )
    with pytest.raises(credentials.CredentialInUse, match="sensors"):
        credentials.delete_credential_set(None, root, cs)
    assert CredentialSet.objects.filter(pk=cs.pk).exists()


def test_it_records_the_last_use(root):
    cs = create(root, "u")
    assert cs.last_used_at is None
    credentials.use_credential_set(root.operator, "u")
    cs.refresh_from_db()
    assert cs.last_used_at is not None


def test_it_never_finds_another_operators_set(root, outsider):
    create(outsider, "theirs")
    assert credentials.get_credential_set(root.operator, "theirs") is None
    with pytest.raises(credentials.CredentialUnavailable):
        credentials.use_credential_set(root.operator, "theirs")


def test_it_sets_the_quota_with_setquota(root, capsys):
    call_command("setquota", root.operator_id, "--credentials", "250")
    root.operator.refresh_from_db()
    assert root.operator.credential_quota == 250
    assert AuditEntry.objects.filter(action="Installation:setQuota").exists()


def test_it_refuses_setquota_for_a_missing_operator(db):
    with pytest.raises(CommandError, match="No operator"):
        call_command("setquota", "OP9999999999", "--credentials", "5")


def test_it_refuses_a_negative_quota(root):
    with pytest.raises(CommandError, match="between"):
        call_command("setquota", root.operator_id, "--credentials", "-1")


# --- rotation ---------------------------------------------------------------------------


@pytest.fixture
def old_records(root, settings):
    sets = [create(root, f"r{i}", fields={"key": f"rotation-secret-{i:04d}"}) for i in range(6)]
    settings.LATCHKEY_MASTER_KEYS = key_entry("k2") + "," + settings.LATCHKEY_MASTER_KEYS
    return sets


def test_it_rotates_every_record_and_keeps_it_readable(root, old_records, settings):
    call_command("rotate_master_key")
    assert set(CredentialSet.objects.values_list("master_key_id", flat=True)) == {"k2"}
    settings.LATCHKEY_MASTER_KEYS = settings.LATCHKEY_MASTER_KEYS.split(",")[0]  # retire test1
    for i in range(6):
        assert credentials.use_credential_set(root.operator, f"r{i}") == {
            "key": f"rotation-secret-{i:04d}"
        }


@pytest.fixture
def dies_after(monkeypatch):
    """Make the n+1-th re-wrap of a run raise KeyboardInterrupt (the operator pressed Ctrl-C)."""
    real = crypto.rewrap

    def arm(n: int) -> None:
        calls = {"n": 0}

        def rewrap(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] > n:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(crypto, "rewrap", rewrap)

    yield arm
    monkeypatch.setattr(crypto, "rewrap", real)


def audited_rows() -> list[int]:
    """Return the row IDs the rotation entries say were re-wrapped, in order."""
    entries = AuditEntry.objects.filter(action="Installation:rotateMasterKey").order_by("seq")
    return [pk for entry in entries for pk in entry.details["rewrappedRows"]]


def rows_on(key_id: str) -> list[int]:
    return sorted(CredentialSet.objects.filter(master_key_id=key_id).values_list("pk", flat=True))


def test_it_resumes_an_interrupted_rotation(root, old_records, dies_after, monkeypatch):
    dies_after(3)
    with pytest.raises(KeyboardInterrupt):
        call_command("rotate_master_key", "--batch-size", "2")
    assert credential_rotation.master_key_usage() == {"k2": 2, "test1": 4}
    monkeypatch.undo()
    call_command("rotate_master_key")
    assert credential_rotation.master_key_usage() == {"k2": 6}


def test_it_audits_exactly_the_rows_an_interrupted_run_rewrapped(root, old_records, dies_after):
    dies_after(5)  # two batches of two commit; the third dies after its first record
    with pytest.raises(KeyboardInterrupt):
        call_command("rotate_master_key", "--batch-size", "2")
    assert len(rows_on("k2")) == 4
    assert sorted(audited_rows()) == rows_on("k2")


def test_it_audits_each_batch_in_the_batchs_transaction(root, old_records):
    call_command("rotate_master_key", "--batch-size", "4")
    entries = list(AuditEntry.objects.filter(action="Installation:rotateMasterKey").order_by("seq"))
    assert [len(e.details["rewrappedRows"]) for e in entries] == [4, 2]
    assert entries[0].details["newestKeyId"] == "k2"
    assert entries[0].details["previousKeyIds"] == {"test1": 4}
    assert sorted(audited_rows()) == rows_on("k2") == sorted(cs.pk for cs in old_records)


def test_it_writes_no_rotation_entry_when_a_batch_cannot_be_audited(root, old_records, monkeypatch):
    from security import audit

    def refuse(*args, **kwargs):
        raise RuntimeError("the audit trail cannot be written")

    monkeypatch.setattr(audit, "record", refuse)
    with pytest.raises(RuntimeError):
        call_command("rotate_master_key")
    assert credential_rotation.master_key_usage() == {"test1": 6}


def test_it_refuses_a_batch_size_beyond_what_an_entry_can_list(root, old_records):
    with pytest.raises(CommandError, match="--batch-size must be 1-50"):
        call_command("rotate_master_key", "--batch-size", "51")
    assert credential_rotation.master_key_usage() == {"test1": 6}


def test_it_refuses_to_run_while_a_record_needs_a_retired_key(root, old_records, settings):
    settings.LATCHKEY_MASTER_KEYS = settings.LATCHKEY_MASTER_KEYS.split(",")[0]
    with pytest.raises(CommandError, match=r"test1 \(6 records\)"):
        call_command("rotate_master_key")


def test_it_reports_a_tampered_record_and_rotates_the_rest(root, old_records):
    victim = CredentialSet.objects.get(credentials_id="r2")
    blob = bytearray(victim.ciphertext)
    blob[-1] ^= 1
    CredentialSet.objects.filter(pk=victim.pk).update(ciphertext=bytes(blob))
    with pytest.raises(CommandError, match="1 records did not authenticate"):
        call_command("rotate_master_key")
    assert credential_rotation.master_key_usage() == {"k2": 5, "test1": 1}
    failed = [
        pk
        for e in AuditEntry.objects.filter(action="Installation:rotateMasterKey")
        for pk in e.details["failedRows"]
    ]
    assert failed == [victim.pk]
    assert victim.pk not in audited_rows()


def test_it_only_reports_with_check(root, old_records, capsys):
    call_command("rotate_master_key", "--check")
    assert "test1 (older): 6 records" in capsys.readouterr().out
    assert credential_rotation.master_key_usage() == {"test1": 6}


def test_it_answers_a_change_to_a_set_deleted_meanwhile_as_gone(root):
    cs = create(root, "gone")  # looked up by one request ...
    CredentialSet.objects.filter(pk=cs.pk).delete()  # ... deleted by another
    with pytest.raises(credentials.CredentialGone):
        credentials.update_credential_set(None, root, cs, description="too late")
    assert not CredentialSet.objects.filter(credentials_id="gone").exists()
    assert not AuditEntry.objects.filter(action="Credential:updateCredential").exists()
