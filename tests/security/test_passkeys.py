"""Passkey ceremonies refused on the server side (the browser tests drive the good path)."""

import json

from django.test import Client

from security import passkeys
from security.models import AuditEntry, Passkey


def _post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def test_it_refuses_a_sign_in_without_a_challenge(db):
    client = Client()
    response = _post(client, "/login/passkey", {"credential": "{}"})
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_it_refuses_a_forged_assertion_and_spends_the_challenge(db):
    client = Client()
    options = json.loads(_post(client, "/login/passkey/options", {}).content)
    assert options["rpId"] == "testserver"
    assert options["userVerification"] == "required"
    forged = {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}
    response = _post(client, "/login/passkey", {"credential": json.dumps(forged)})
    assert response.status_code == 400
    assert passkeys.SESSION_KEY not in client.session
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="Console:signIn", outcome="failed").count() == 1


def test_it_refuses_to_register_a_passkey_for_another_user(root_client, alice):
    response = _post(root_client, "/security/users/alice/passkeys/options", {})
    assert response.status_code == 400
    assert not Passkey.objects.exists()


def test_it_refuses_a_registration_answer_that_does_not_verify(root, root_client):
    _post(root_client, "/security/account/passkeys/options", {})
    response = _post(
        root_client,
        "/security/account/passkeys/register",
        {"name": "Key", "credential": json.dumps({"id": "AAAA", "response": {}})},
    )
    assert response.status_code == 400
    assert not Passkey.objects.exists()


def test_it_refuses_an_unnamed_passkey(root, root_client):
    _post(root_client, "/security/account/passkeys/options", {})
    response = _post(
        root_client, "/security/account/passkeys/register", {"name": " ", "credential": "{}"}
    )
    assert response.status_code == 400
    assert not Passkey.objects.exists()
