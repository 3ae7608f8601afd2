"""An action done with an API session opened by an AuthKey is the key's in the audit trail,
whichever service records it: auditors ask which key did what (a key leaks, its holder
does not). Some services passed the key to the trail and others did not; audit.record
now takes it from the request's API session itself."""

import json

import pytest
from django.test import Client

from security import authkeys
from security.models import AuditEntry
from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.django_db

DOC = json.dumps({"statements": [{"effect": "allow", "api": ["User:listUsers"]}]})
WRITES = [
    ("POST", "/users/carol", {"description": "c"}),
    ("PUT", "/users/carol", {"description": "d"}),
    ("POST", "/users/robot/password", {"password": "canary-New-Password-3318"}),
    ("DELETE", "/users/robot/password", None),
    ("POST", "/roles/readers", {"permission": DOC}),
    ("PUT", "/users/carol/permission", {"permission": DOC}),
    ("PUT", "/users/default_permissions", {"permissions": DOC}),
    ("POST", "/users/robot/auth_keys", None),
    ("DELETE", "/users/carol", None),
]


def _session(key, secret) -> dict:
    answer = Client().post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    data = answer.json()
    return {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_a_write_through_an_authkey_session_is_the_keys(root, robot, operator, method, path, body):
    key, secret = authkeys.generate(None, root, root)
    headers = _session(key, secret)
    base = f"/v1/operators/{operator.pk}"
    client = Client()
    for m, p, b in WRITES[: WRITES.index((method, path, body))]:  # what this call needs first
        client.generic(m, base + p, json.dumps(b) if b else "", "application/json", **headers)
    response = client.generic(
        method, base + path, json.dumps(body) if body else "", "application/json", **headers
    )
    assert response.status_code < 300, response.content
    entries = list(AuditEntry.objects.filter(request_id=response["X-Request-Id"]))
    assert entries
    for entry in entries:
        assert (entry.actor_kind, entry.actor, entry.auth_key_id) == (
            "authkey",
            key.key_id,
            key.key_id,
        )


def test_a_write_through_a_password_session_is_the_principals(root, operator):
    answer = Client().post(
        "/v1/auth", {"email": root.email, "password": ROOT_PASSWORD}, "application/json"
    )
    data = answer.json()
    headers = {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}
    response = Client().post(
        f"/v1/operators/{operator.pk}/users/carol", "{}", "application/json", **headers
    )
    entry = AuditEntry.objects.get(request_id=response["X-Request-Id"], action="User:createUser")
    assert (entry.actor_kind, entry.actor, entry.auth_key_id) == ("root", root.email, "")
