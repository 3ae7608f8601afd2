"""Helpers of the OAuth tests: form posts to /oauth/*, Basic headers, AuthKeys with rights."""

import base64
from urllib.parse import quote_plus, urlencode

from django.test import Client

from accounts.permissions import dumps
from security import authkeys, roles


def basic(client_id: str, secret: str) -> dict:
    """Return the HTTP Basic header of RFC 6749 §2.3.1 (form-encoded, then base64)."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(raw).decode()}


def post(path: str, params=None, *, headers=None, raw=None, content_type=None, ip="127.0.0.1"):
    """POST a form (a dict, or pairs to repeat a name) to an OAuth endpoint."""
    body = raw if raw is not None else urlencode(params or {})
    return Client(REMOTE_ADDR=ip).generic(
        "POST",
        path,
        body,
        content_type=content_type or "application/x-www-form-urlencoded",
        **(headers or {}),
    )


def token(key_id: str, secret: str, **extra):
    return post(
        "/oauth/token", {"grant_type": "client_credentials", **extra}, headers=basic(key_id, secret)
    )


def key_for(root, holder, statements=None):
    """Return (key ID, secret) of a new key of holder, its inline permission set first."""
    if statements is not None:
        roles.set_inline_permission(None, root, holder, dumps(statements))
    key, secret = authkeys.generate(None, root, holder)
    return key.key_id, secret


def bearer(access_token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {access_token}"}


def assert_oauth_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    body = response.json()
    assert body["error"] == error, body
    assert set(body) == {"error", "error_description"}
    return body
