"""The tokens of generateAuthToken and switch user appear in their one answer, nowhere else.

A token's header and payload are shared with every other token or hold public claims; its
signature is the part no one else has, so that is what is registered.
"""

import json
from datetime import timedelta

import pytest
from django.test import Client

from accounts import apisessions
from accounts.models import Operator, Principal
from security import roles, switching
from tests.api.harness import call
from tests.conftest import SAM_PASSWORD

pytestmark = pytest.mark.django_db

EVERYTHING = '{"statements":[{"effect":"allow","api":"*"}]}'


def _headers(data: dict) -> dict:
    return {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}


def _signature(token: str) -> str:
    return token.rsplit(".", 1)[1]


def test_it_keeps_refreshed_and_switched_tokens_out_of_everything(canary, root, alice, monkeypatch):
    other_root = Principal.objects.create_root(Operator.create(), "r@other.example", "Other-Pass-1")
    roles.set_inline_permission(None, root, alice, EVERYTHING)
    bob = Principal.objects.create_sam_user(other_root.operator, "bob")
    roles.set_inline_permission(None, other_root, bob, EVERYTHING)
    policy = {
        "statements": [{"effect": "allow", "principal": {"soracom": [apisessions.srn(alice)]}}]
    }
    switching.set_trust_policy(None, other_root, bob, json.dumps(policy))

    signed_in = Client().post(
        "/v1/auth",
        {"operatorId": alice.operator_id, "userName": "alice", "password": SAM_PASSWORD},
        content_type="application/json",
    )
    canary.add(_signature(signed_in.json()["token"]), label="auth", shown_in=signed_in)
    source = _headers(signed_in.json())

    refreshed = call(
        "POST", f"/v1/operators/{alice.operator_id}/token", source, {"timeout_seconds": 900}
    )
    assert refreshed.status_code == 200
    canary.add(_signature(refreshed.json()["token"]), label="tok", shown_in=refreshed)

    switched = call(
        "POST", "/v1/auth/switch_user", source, {"operatorId": bob.operator_id, "userName": "bob"}
    )
    assert switched.status_code == 200
    canary.add(_signature(switched.json()["token"]), label="swt", shown_in=switched)
    as_bob = _headers(switched.json())

    # Use and refusals: the switched token works, cannot switch again, cannot reach home.
    assert call("GET", f"/v1/operators/{bob.operator_id}/users", as_bob).status_code == 200
    again = call(
        "POST", "/v1/auth/switch_user", as_bob, {"operatorId": bob.operator_id, "userName": "bob"}
    )
    assert again.status_code == 400
    assert call("GET", f"/v1/operators/{alice.operator_id}/users", as_bob).status_code == 404
    bob_refreshed = call(
        "POST", f"/v1/operators/{bob.operator_id}/token", as_bob, {"tokenTimeoutSeconds": 600}
    )
    assert bob_refreshed.status_code == 200
    canary.add(_signature(bob_refreshed.json()["token"]), label="swr", shown_in=bob_refreshed)
    # An expired token asks for a refresh: 400, nothing issued, nothing echoed.
    later = apisessions._now() + timedelta(days=3)
    monkeypatch.setattr(apisessions, "_now", lambda: later)
    expired = call("POST", f"/v1/operators/{alice.operator_id}/token", source)
    assert expired.status_code == 400
    monkeypatch.undo()
    canary.assert_nowhere(revisit=other_root)
