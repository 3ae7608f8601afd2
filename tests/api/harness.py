"""Helpers for the JSON API tests: calls with the Django test client and table snapshots."""

import json

from django.test import Client

from accounts.models import ApiSession, Principal
from security.models import AuditEntry


def call(method: str, path: str, headers: dict, body=None, *, raw: str | bytes | None = None):
    """Send one API request; `body` is JSON-encoded, `raw` is sent as it is."""
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return Client().generic(
        method, path, data, content_type="application/json" if data else None, **headers
    )


def error_of(response) -> dict:
    """Return the error body after checking that it is a flat JSON error."""
    assert response["Content-Type"].startswith("application/json"), response.content
    body = response.json()
    assert set(body) == {"code", "message"}, body
    return body


def snapshot() -> tuple:
    """Return what a failed call must leave untouched: principals, sessions, audit (allowed)."""
    return (
        sorted(Principal.objects.values_list("id", "user_name", "description", "password")),
        sorted(ApiSession.objects.values_list("id", "revoked_at")),
        AuditEntry.objects.exclude(outcome__in=["denied", "failed"]).count(),
    )


def no_nulls(value) -> bool:
    """Return True when no null appears anywhere in a JSON value."""
    if value is None:
        return False
    if isinstance(value, dict):
        return all(no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(no_nulls(v) for v in value)
    return True
