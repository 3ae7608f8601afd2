"""Credential secrets at rest and in every output: raw dump, logs, audit, pages, API; tamper."""

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import pytest
from django.core.management import call_command
from django.db import connection

from security import credentials
from security.models import AuditEntry, CredentialSet
from tests.security.credential_samples import make_cert

HX = {"HTTP_HX_REQUEST": "true"}


def encodings(secret: str) -> list[bytes]:
    """Return the forms a leaked secret could take: raw, hex, URL-encoded, base64 at 3 offsets."""
    raw = secret.encode()
    forms = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    forms += [quote(secret, safe="").encode(), quote(secret).encode(), quote_plus(secret).encode()]
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + raw)
            # Skip the groups that mix with neighbouring bytes; the middle is position-exact.
            forms.append(encoded[4 if shift else 0 : -4])
    return [f for f in forms if len(f) >= 16]


def raw_dump() -> bytes:
    """Return every value of every table, as the database hands it out (bytes stay bytes)."""
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        chunks.append(bytes(value))
                    else:
                        chunks.append(str(value).encode())
    return b"\n".join(chunks)


def assert_absent(haystack: bytes | str, secrets: list[str]) -> None:
    data = haystack.encode() if isinstance(haystack, str) else haystack
    for secret in secrets:
        for form in encodings(secret):
            assert form not in data, f"a form of a planted secret leaked ({form[:6]!r}…)"


@pytest.fixture
def planted(root):
    """Register one set of each secret shape with canary values; return the canaries."""
    cert, key = make_cert("canary.example")
    key_body = "".join(key.splitlines()[1:-1])
    canaries = {
        "aws": "CANARYawsSECRETaccessKEY0123456789abcd",
        "psk": "CANARY-psk-0123456789-abcdefghij",
        "json": "CANARY-json-private-key-0123456789",
        "password": "CANARY pass/word+with&odd=chars 42!",
        "pem": key_body[20:80],
    }
    c = credentials
    c.create_credential_set(
        None, root, "aws", "aws-credentials", "",
        {"accessKeyId": "AKIAPUBLIC", "secretAccessKey": canaries["aws"]},
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


def test_it_stores_no_plaintext_in_any_table(planted):
    dump = raw_dump()
    assert b"AKIAPUBLIC" not in dump  # sealed too: every field is write-only
    assert_absent(dump, planted)


@pytest.mark.parametrize(
    "leak",
    [
        lambda s: s.encode(),
        lambda s: s.encode().hex().encode(),
        lambda s: quote(s).encode(),
        lambda s: base64.b64encode(b"x" + s.encode()),
        lambda s: base64.urlsafe_b64encode(b"xy" + s.encode()),
        lambda s: b"prefix" + base64.b64encode(s.encode()) + b"suffix",
    ],
)
def test_it_would_detect_a_leak_in_each_form(leak):
    secret = "CANARY pass/word+with&odd=chars 42!"
    with pytest.raises(AssertionError):
        assert_absent(b"..." + leak(secret) + b"...", [secret])


def test_it_stores_no_plaintext_in_a_dumpdata_export(planted, capsys):
    call_command("dumpdata", "security", "accounts", "--format", "json")
    assert_absent(capsys.readouterr().out, planted)


def test_it_still_opens_what_it_stored(root, planted):
    assert credentials.use_credential_set(root.operator, "psk") == {"key": planted[1]}


def test_it_keeps_secrets_out_of_the_audit_trail(planted):
    entries = list(AuditEntry.objects.values())
    assert entries
    assert_absent(repr(entries), planted)


def test_it_keeps_secrets_out_of_every_page(root_client, planted):
    pages = [
        root_client.get("/security/credentials/"),
        root_client.get("/security/credentials/aws/update", **HX),
        root_client.get("/security/credentials/up/update"),
        root_client.get("/security/credentials/x509/update", **HX),
        root_client.get("/security/credentials/gsa/delete", **HX),
        root_client.get("/security/groups/new", **HX),
        root_client.get("/security/audit/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert_absent(page.content, planted)


def test_it_keeps_secrets_out_of_an_update_error_page(root_client, planted):
    response = root_client.post(
        "/security/credentials/aws/update",
        {"description": "x" * 1001, "c__secretAccessKey": planted[0] + "-new"},
        **HX,
    )
    assert response.status_code == 400
    assert_absent(response.content, [planted[0]])


def test_it_keeps_secrets_out_of_api_responses(root_api, client, planted):
    listing = client.get("/v1/credentials", **root_api)
    assert listing.status_code == 200
    assert all(item["credentials"] == {} for item in listing.json())
    assert_absent(listing.content, planted)


def test_it_keeps_secrets_out_of_the_logs(root_client, root_api, client, root, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "CANARY-LOG-0123456789-abcdefghij"
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
    assert "cannot be opened" in caplog.text
    assert_absent(caplog.text, [secret])


# --- tampering --------------------------------------------------------------------------


def test_it_fails_loudly_on_a_tampered_row(root, planted, caplog):
    cs = CredentialSet.objects.get(credentials_id="psk")
    blob = bytearray(cs.ciphertext)
    blob[len(blob) // 2] ^= 0x04
    CredentialSet.objects.filter(pk=cs.pk).update(ciphertext=bytes(blob))
    with pytest.raises(credentials.CredentialUnavailable, match="cannot be read") as info:
        credentials.use_credential_set(root.operator, "psk")
    assert planted[1] not in str(info.value)
    assert "psk" in caplog.text and "DecryptionError" in caplog.text


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
