"""Credential secrets at rest and in every output: raw dump, logs, audit, pages, API; tamper."""

import json

import pytest
from django.core.management import call_command

from security import credentials
from security.models import AuditEntry, CredentialSet
from tests.security.credential_samples import make_cert

HX = {"HTTP_HX_REQUEST": "true"}

# Every test here ends with the canary scanner (tests/canary.py): the planted values must
# be nowhere, in any form, in any table, log, output, cache, session, audit entry or page.


@pytest.fixture
def planted(root, canary):
    """Register one set of each secret shape with canary values; return the canaries."""
    cert, key = make_cert("canary.example")
    canaries = {
        "aws": canary.plant("aws"),
        "psk": canary.plant("psk"),
        "json": canary.plant("json"),
        "password": canary.plant("pass") + " pass/word+with&odd=chars 42!",
        "pem": canary.add("\n".join(key.strip().splitlines()[2:-1]), label="pem"),
        "access key ID": canary.add("AKIAPUBLIC" + canary.plant("akid"), label="akid"),
    }
    canary.add(canaries["password"], label="password")
    c = credentials
    c.create_credential_set(
        None, root, "aws", "aws-credentials", "",
        {"accessKeyId": canaries["access key ID"], "secretAccessKey": canaries["aws"]},
    )  # fmt: skip
    c.create_credential_set(None, root, "psk", "psk", "", {"key": canaries["psk"]})
    c.create_credential_set(
        None, root, "gsa", "google-service-account-json", "",
        {"credentials": json.dumps({"private_key": canaries["json"]})},
    )  # fmt: skip
    c.create_credential_set(
        None, root, "up", "username-password-credentials", "",
        {"username": "device", "password": canaries["password"]},
    )  # fmt: skip
    c.create_credential_set(None, root, "x509", "x509", "", {"cert": cert, "key": key})
    return list(canaries.values())


def test_it_stores_no_plaintext_in_any_table(canary, planted):
    # Every field is sealed, the access key ID too: the database probe reads every table.
    assert canary.findings(["database"]) == []
    canary.assert_nowhere()


def test_it_stores_no_plaintext_in_a_dumpdata_export(canary, planted):
    call_command("dumpdata", "security", "accounts", "--format", "json")  # to stdout
    stdout = next(place for place in canary.output_places() if place.where == "stdout")
    assert b"security.credentialset" in stdout.data  # the export is what gets scanned
    canary.assert_nowhere()


def test_it_still_opens_what_it_stored(canary, root, planted):
    assert credentials.use_credential_set(root.operator, "psk") == {"key": planted[1]}
    canary.assert_nowhere()


def test_it_keeps_secrets_out_of_the_audit_trail(canary, planted):
    assert AuditEntry.objects.filter(action="Credential:createCredential").count() == 5
    assert canary.findings(["audit"]) == []
    canary.assert_nowhere()


def test_it_keeps_secrets_out_of_every_page(canary, root_client, root, planted):
    pages = [
        root_client.get("/security/credentials/"),
        root_client.get("/security/credentials/aws/update", **HX),
        root_client.get("/security/credentials/up/update"),
        root_client.get("/security/credentials/x509/update", **HX),
        root_client.get("/security/credentials/gsa/delete", **HX),
        root_client.get("/security/groups/new", **HX),
        root_client.get("/security/audit/"),
    ]
    assert all(page.status_code == 200 for page in pages)
    canary.assert_nowhere(revisit=root)


def test_it_keeps_secrets_out_of_an_update_error_page(canary, root_client, planted):
    response = root_client.post(
        "/security/credentials/aws/update",
        {"description": "x" * 1001, "c__secretAccessKey": canary.plant("new")},
        **HX,
    )
    assert response.status_code == 400
    canary.assert_nowhere()


def test_it_keeps_secrets_out_of_api_responses(canary, root, root_api, client, planted):
    listing = client.get("/v1/credentials", **root_api)
    assert listing.status_code == 200
    assert all(item["credentials"] == {} for item in listing.json())
    canary.assert_nowhere(revisit=root)


def test_it_keeps_secrets_out_of_the_logs(canary, root_client, root_api, client, root):
    secret = canary.plant("log")
    body = {"type": "psk", "credentials": {"key": secret}}
    client.post("/v1/credentials/p1", body, content_type="application/json", **root_api)
    bad = {"type": "psk", "credentials": {"key": secret, "extra": secret}}
    client.post("/v1/credentials/p2", bad, content_type="application/json", **root_api)
    client.put("/v1/credentials/p1", body, content_type="application/json", **root_api)
    root_client.post(
        "/security/credentials/new", {"credentials_id": "!", "type": "psk", "c__key": secret}
    )
    cs = CredentialSet.objects.get(credentials_id="p1")
    CredentialSet.objects.filter(pk=cs.pk).update(ciphertext=bytes(cs.ciphertext)[:-1] + b"\0")
    with pytest.raises(credentials.CredentialUnavailable):
        credentials.use_credential_set(root.operator, "p1")
    assert any("cannot be opened" in place.data.decode() for place in canary.logs_places())
    canary.assert_nowhere()


# --- tampering --------------------------------------------------------------------------


def test_it_fails_loudly_on_a_tampered_row(canary, root, planted, caplog):
    cs = CredentialSet.objects.get(credentials_id="psk")
    blob = bytearray(cs.ciphertext)
    blob[len(blob) // 2] ^= 0x04
    CredentialSet.objects.filter(pk=cs.pk).update(ciphertext=bytes(blob))
    with pytest.raises(credentials.CredentialUnavailable, match="cannot be read") as info:
        credentials.use_credential_set(root.operator, "psk")
    assert planted[1] not in str(info.value)
    assert "psk" in caplog.text and "DecryptionError" in caplog.text
    canary.assert_nowhere()


def test_it_refuses_a_ciphertext_copied_to_another_operators_row(root, outsider):
    credentials.create_credential_set(None, root, "same", "psk", "", {"key": "victim-secret-1"})
    credentials.create_credential_set(None, outsider, "same", "psk", "", {"key": "own-secret-2"})
    victim = CredentialSet.objects.get(operator=root.operator, credentials_id="same")
    CredentialSet.objects.filter(operator=outsider.operator, credentials_id="same").update(
        ciphertext=bytes(victim.ciphertext), wrapped_key=bytes(victim.wrapped_key)
    )
    with pytest.raises(credentials.CredentialUnavailable):
        credentials.use_credential_set(outsider.operator, "same")


def test_it_refuses_a_ciphertext_copied_to_another_id(root):
    credentials.create_credential_set(None, root, "a", "psk", "", {"key": "secret-aaaa"})
    credentials.create_credential_set(None, root, "b", "psk", "", {"key": "secret-bbbb"})
    a = CredentialSet.objects.get(credentials_id="a")
    CredentialSet.objects.filter(credentials_id="b").update(
        ciphertext=bytes(a.ciphertext), wrapped_key=bytes(a.wrapped_key)
    )
    with pytest.raises(credentials.CredentialUnavailable):
        credentials.use_credential_set(root.operator, "b")


def test_it_refuses_a_row_whose_type_was_changed(root):
    credentials.create_credential_set(None, root, "t", "psk", "", {"key": "secret-tttt"})
    CredentialSet.objects.filter(credentials_id="t").update(type="api-token-credentials")
    with pytest.raises(credentials.CredentialUnavailable):
        credentials.use_credential_set(root.operator, "t")


def test_it_shows_a_generic_error_when_a_tampered_set_is_updated(root_client, root):
    credentials.create_credential_set(
        None, root, "aws", "aws-credentials", "", {"accessKeyId": "A", "secretAccessKey": "S"}
    )
    CredentialSet.objects.filter(credentials_id="aws").update(wrapped_key=b"\0" * 60)
    response = root_client.post(
        "/security/credentials/aws/update", {"description": "", "c__accessKeyId": "B"}, **HX
    )
    assert response.status_code == 400
    assert "cannot be read" in response.content.decode()
