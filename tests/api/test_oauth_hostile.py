"""Hostile input at the OAuth endpoints: a clear RFC 6749 error, never a 500, nothing written."""

import pytest

from accounts.models import ApiSession
from security import authkeys
from security.models import AuthKey
from tests.api.oauth_client import basic, key_for, post

ENDPOINTS = ["/oauth/token", "/oauth/introspect", "/oauth/revoke"]
BODIES = {
    "nul in a value": "grant_type=client_credentials%00&token=a%00b",
    "not utf-8": b"grant_type=\xff\xfe",
    "too many fields": "&".join(f"f{i}=1" for i in range(40)),
    "bare ampersands": "&&&&",
    "huge scope": "grant_type=client_credentials&scope=" + "User:*%20" * 800,
    "stars scope": "grant_type=client_credentials&scope=" + "*" * 199,
    "empty": "",
}
HEADERS = {
    "basic without colon": {"HTTP_AUTHORIZATION": "Basic a2V5SWQ="},
    "basic not base64": {"HTTP_AUTHORIZATION": "Basic ***"},
    "basic not utf-8": {"HTTP_AUTHORIZATION": "Basic //79"},
    "basic empty": {"HTTP_AUTHORIZATION": "Basic "},
    "basic huge secret": basic("keyId-" + "a" * 32, "s" * 5000),
    "basic nul": basic("keyId-\x00", "secret-\x00"),
}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_it_answers_a_hostile_body_with_an_oauth_error(root, path, body):
    key_id, secret = key_for(root, root)
    response = post(path, raw=body, headers=basic(key_id, secret))
    assert response.status_code in (200, 400, 401), response.content
    if response.status_code != 200:
        assert "error" in response.json()
    assert not ApiSession.objects.exists()


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("headers", HEADERS.values(), ids=HEADERS.keys())
def test_it_answers_hostile_credentials_with_invalid_client(db, path, headers):
    body = {"grant_type": "client_credentials", "token": "x"}
    response = post(path, body, headers=headers)
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"


def test_it_leaves_the_key_unused_after_a_malformed_secret(root):
    key_id, _ = key_for(root, root)
    post("/oauth/token", {"grant_type": "client_credentials"}, headers=basic(key_id, "secret-x"))
    assert AuthKey.objects.get(key_id=key_id).last_used_at is None
    assert authkeys.live_keys(root).count() == 1
