"""Leak intake: GitHub secret scanning's signed reports revoke the AuthKeys they name.

The tests sign each payload with a P-256 key pair of their own, configured as trusted
(LATCHKEY_LEAK_PUBLIC_KEYS), as GitHub signs its reports (docs/authkeys.md "Leak intake").
"""

import base64
import json
import logging
import re
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client, RequestFactory

from accounts.models import ApiSession
from security import authkeys, leaks
from security.models import AuditEntry, AuthKey

URL = "/v1/leaks/github"
KEY_ID = "f9525bf080f75b3506ca1ead061add62b8633a346606dc5fe544e29231c6ee0d"
FOUND_AT = "https://github.com/octocat/Hello-World/blob/1234567/foo/bar.txt"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "authkeys.md"

pytestmark = pytest.mark.django_db


@pytest.fixture
def signer(settings):
    private = ec.generate_private_key(ec.SECP256R1())
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings.LATCHKEY_LEAK_PUBLIC_KEYS = {KEY_ID: pem}
    return private


def sign(private, body: bytes) -> str:
    return base64.b64encode(private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def report(tokens: list[str]) -> bytes:
    return json.dumps(
        [
            {"token": t, "type": "latchkey_authkey_secret", "url": FOUND_AT, "source": "content"}
            for t in tokens
        ]
    ).encode()


def post(body: bytes, signature: str | None, key_id: str | None = KEY_ID, ip="140.82.112.1"):
    headers = {}
    if key_id is not None:
        headers["HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER"] = key_id
    if signature is not None:
        headers["HTTP_GITHUB_PUBLIC_KEY_SIGNATURE"] = signature
    return Client(REMOTE_ADDR=ip).post(URL, body, content_type="application/json", **headers)


def send(private, tokens: list[str]):
    body = report(tokens)
    return post(body, sign(private, body))


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- a good report ---------------------------------------------------------------------


def test_a_signed_report_revokes_the_key(root, signer):
    key, secret = authkeys.generate(None, root, root)
    assert send(signer, [secret]).status_code == 200
    key.refresh_from_db()
    assert not key.is_live
    assert key.revoke_reason == "leaked"
    assert key.revoked_by == "leak:github"


def test_a_signed_report_ends_the_key_sessions(root, signer):
    key, secret = authkeys.generate(None, root, root)
    response = Client().post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    assert response.status_code == 200
    send(signer, [secret])
    assert not ApiSession.objects.filter(auth_key_id=key.key_id, revoked_at__isnull=True).exists()


def test_it_answers_github_labels_in_order(root, signer):
    _, secret = authkeys.generate(None, root, root)
    response = send(signer, [secret, "not-a-secret"])
    assert response.json() == [
        {
            "token_raw": secret,
            "token_type": "latchkey_authkey_secret",
            "label": "true_positive",
        },
        {
            "token_raw": "not-a-secret",
            "token_type": "latchkey_authkey_secret",
            "label": "false_positive",
        },
    ]


def test_it_records_the_report_in_the_tenant_trail_with_the_url(root, signer):
    key, secret = authkeys.generate(None, root, root)
    send(signer, [secret])
    entry = AuditEntry.objects.get(action=leaks.REPORT_ACTION)
    assert entry.operator_id == root.operator_id
    assert entry.details["authKeyId"] == key.key_id
    assert entry.details["url"] == FOUND_AT
    assert entry.actor_kind == "leak"
    assert secret not in json.dumps(entry.details)


def test_it_mails_root(root, signer, smtp_server, committed):
    key, secret = authkeys.generate(None, root, root)
    with committed():
        send(signer, [secret])
    (message,) = smtp_server.wait_for(1)
    assert "public code" in message.subject
    text = message.body
    assert key.key_id in text
    assert FOUND_AT in text
    assert secret not in text


def test_a_report_of_a_dead_key_is_audited_but_not_mailed(root, signer, smtp_server, committed):
    _, secret = authkeys.generate(None, root, root)
    with committed():
        send(signer, [secret])
    smtp_server.wait_for(1)
    with committed():
        assert send(signer, [secret]).json()[0]["label"] == "true_positive"
    time.sleep(0.5)  # a second mail would have arrived by now (it did, before the fix)
    assert len(smtp_server.messages) == 1
    assert AuditEntry.objects.filter(action=leaks.REPORT_ACTION).count() == 2


def test_a_signed_body_nested_too_deeply_is_refused_not_a_500(signer):
    body = b"[" * 30000 + b"]" * 30000
    response = post(body, sign(signer, body))
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(action=leaks.REPORT_ACTION).exists()


def test_a_sam_user_key_is_revoked_in_its_tenant(root, alice, signer):
    key, secret = authkeys.generate(None, alice, alice)
    send(signer, [secret])
    key.refresh_from_db()
    assert not key.is_live
    assert AuditEntry.objects.get(action=leaks.REPORT_ACTION).target == "alice"


def test_a_key_revoked_before_is_still_a_true_positive(root, signer):
    key, secret = authkeys.generate(None, root, root)
    authkeys.revoke(None, root, key, reason="rotated")
    response = send(signer, [secret])
    assert response.json()[0]["label"] == "true_positive"
    key.refresh_from_db()
    assert key.revoke_reason == "rotated"
    entry = AuditEntry.objects.get(action=leaks.REPORT_ACTION)
    assert entry.details["alreadyRevoked"] is True


def test_it_finds_a_key_made_before_lookup_hashes(root, signer):
    key, secret = authkeys.generate(None, root, root)
    AuthKey.objects.filter(pk=key.pk).update(secret_lookup="")
    assert send(signer, [secret]).json()[0]["label"] == "true_positive"
    key.refresh_from_db()
    assert not key.is_live


def test_an_exchange_fills_in_a_missing_lookup_hash(root):
    key, secret = authkeys.generate(None, root, root)
    AuthKey.objects.filter(pk=key.pk).update(secret_lookup="")
    Client().post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    key.refresh_from_db()
    assert key.secret_lookup == authkeys.lookup_hash(secret)


def test_an_unknown_well_formed_secret_is_a_false_positive(root, signer):
    key, _ = authkeys.generate(None, root, root)
    response = send(signer, [authkeys.new_secret()])
    assert response.json()[0]["label"] == "false_positive"
    key.refresh_from_db()
    assert key.is_live


def test_noise_costs_no_database_query(rf, django_assert_num_queries):
    noise = [
        "secret-" + "A" * 64,  # right shape, wrong checksum
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "hello",
    ]
    items = leaks.parse_report(json.loads(report(noise)))
    with django_assert_num_queries(0):
        labels = leaks.intake(rf.post(URL), items)
    assert {entry["label"] for entry in labels} == {"false_positive"}


def test_it_never_logs_the_token(root, signer, caplog):
    _, secret = authkeys.generate(None, root, root)
    with caplog.at_level(logging.DEBUG):
        send(signer, [secret])
    assert secret not in caplog.text


# --- refusals ---------------------------------------------------------------------------


def test_a_forged_signature_is_refused_and_revokes_nothing(root, signer):
    key, secret = authkeys.generate(None, root, root)
    forger = ec.generate_private_key(ec.SECP256R1())
    response = send(forger, [secret])
    assert response.status_code == 401
    key.refresh_from_db()
    assert key.is_live
    assert not AuditEntry.objects.filter(action=leaks.REPORT_ACTION).exists()


def test_a_signature_of_another_body_is_refused(root, signer):
    key, secret = authkeys.generate(None, root, root)
    response = post(report([secret]), sign(signer, report(["something else"])))
    assert response.status_code == 401
    key.refresh_from_db()
    assert key.is_live


def test_an_unknown_key_identifier_is_refused(root, signer):
    key, secret = authkeys.generate(None, root, root)
    body = report([secret])
    assert post(body, sign(signer, body), key_id="another-key").status_code == 401
    key.refresh_from_db()
    assert key.is_live


def test_missing_headers_are_refused(root, signer):
    key, secret = authkeys.generate(None, root, root)
    body = report([secret])
    assert post(body, None).status_code == 401
    assert post(body, sign(signer, body), key_id=None).status_code == 401
    key.refresh_from_db()
    assert key.is_live


def test_a_signature_that_is_not_base64_is_refused(signer):
    assert post(report(["x"]), "not base64 !!").status_code == 401


def test_with_no_trusted_keys_every_report_is_refused(root, settings):
    settings.LATCHKEY_LEAK_PUBLIC_KEYS = {}
    private = ec.generate_private_key(ec.SECP256R1())
    _, secret = authkeys.generate(None, root, root)
    assert send(private, [secret]).status_code == 401


def test_an_oversize_body_is_refused_before_its_signature(root, signer, settings):
    settings.LATCHKEY_LEAK_MAX_BODY_BYTES = 1024
    key, secret = authkeys.generate(None, root, root)
    body = report([secret] + ["x" * 200] * 10)
    response = post(body, sign(signer, body))
    assert response.status_code == 413
    key.refresh_from_db()
    assert key.is_live


def test_too_many_matches_are_refused(root, signer):
    key, secret = authkeys.generate(None, root, root)
    response = send(signer, [secret] + ["noise"] * leaks.MAX_ITEMS)
    assert response.status_code == 400
    key.refresh_from_db()
    assert key.is_live


@pytest.mark.parametrize(
    "payload", [b"not json", b"{}", b"[]", b'[{"type": "x"}]', b'[{"token": 5}]', b"[1]"]
)
def test_a_signed_body_that_is_not_a_report_is_400(signer, payload):
    assert post(payload, sign(signer, payload)).status_code == 400


def test_bad_signatures_are_throttled_per_source(signer, settings):
    settings.LATCHKEY_LEAK_BAD_SIGNATURES_PER_IP = 3
    codes = [post(report(["x"]), "AAAA").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_get_is_not_allowed(signer):
    assert Client().get(URL).status_code == 405


# --- the documented pattern for scanners ---------------------------------------------------


def documented_pattern() -> re.Pattern:
    text = DOCS.read_text()
    found = re.search(r"<!-- scanner-regex -->\s*```\s*\n(.+?)\n```", text, re.S)
    assert found, "docs/authkeys.md documents the scanner regex"
    return re.compile(found.group(1).strip())


def test_the_documented_regex_matches_a_fresh_secret():
    secret = authkeys.new_secret()
    assert documented_pattern().fullmatch(secret)
    assert documented_pattern().search(f"AUTHKEY={secret}\n").group(0) == secret


@pytest.mark.parametrize(
    "noise",
    ["secret-" + "A" * 63, "secret-" + "A" * 65 + "!", "secret_" + "A" * 64, "keyId-" + "a" * 32],
)
def test_the_documented_regex_does_not_match_noise(noise):
    assert not documented_pattern().fullmatch(noise)


@pytest.fixture
def rf():
    return RequestFactory()
