"""A session switched from another session never escapes what bounds its source (the
review of issue 15): the scope of a narrowed OAuth token, and the end of the key the source
session was opened with (its expiry, a roll's revocation, its deactivation)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import apisessions
from accounts.models import ApiSession, Operator, Principal
from security import roles, switching
from security.models import AuthKey
from tests.api.harness import call
from tests.api.oauth_client import basic, bearer, key_for, post, token

pytestmark = pytest.mark.django_db
EVERYTHING = [{"effect": "allow", "api": "*"}]


@pytest.fixture
def bob(alice):
    """A SAM user of another operator, allowed everything, who trusts alice."""
    other_root = Principal.objects.create_root(
        Operator.create(), "root@other.example", "Other-Pass-123"
    )
    user = Principal.objects.create_sam_user(other_root.operator, "bob", "trusts alice")
    roles.set_inline_permission(None, other_root, user, json.dumps({"statements": EVERYTHING}))
    statement = {"effect": "allow", "principal": {"soracom": [apisessions.srn(alice)]}}
    switching.set_trust_policy(None, other_root, user, json.dumps({"statements": [statement]}))
    user.refresh_from_db()
    return user


def headers(answer) -> dict:
    data = answer.json()
    return {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}


def switch(source: dict, target: Principal):
    body = {"operatorId": target.operator_id, "userName": target.user_name}
    answer = call("POST", "/v1/auth/switch_user", source, body)
    assert answer.status_code == 200, answer.content
    return answer


def key_session(root, alice) -> tuple[str, dict]:
    key_id, secret = key_for(root, alice, EVERYTHING)
    answer = call("POST", "/v1/auth", {}, {"authKeyId": key_id, "authKey": secret})
    return key_id, headers(answer)


def test_a_switched_session_keeps_the_scope_of_its_source(root, alice, bob):
    key_id, secret = key_for(root, alice, EVERYTHING)
    scoped = bearer(token(key_id, secret, scope="Auth:switchUser").json()["access_token"])
    switched = switch(scoped, bob)
    assert ApiSession.objects.get(api_key=switched.json()["apiKey"]).scope == "Auth:switchUser"
    listing = call("GET", f"/v1/operators/{bob.operator_id}/users", headers(switched))
    assert listing.status_code == 403
    body = {"description": "x"}
    made = call("POST", f"/v1/operators/{bob.operator_id}/users/newguy", headers(switched), body)
    assert made.status_code == 403
    assert not Principal.objects.filter(user_name="newguy").exists()


@pytest.mark.parametrize("deadline", ["expires_at", "revoke_at", "deactivated_at"])
def test_a_switched_session_ends_when_its_sources_key_does(root, alice, bob, deadline):
    key_id, source = key_session(root, alice)
    switched = headers(switch(source, bob))
    past = timezone.now() - timedelta(seconds=5)
    AuthKey.objects.filter(key_id=key_id).update(**{deadline: past})  # the cron has not run
    answer = call("GET", f"/v1/operators/{bob.operator_id}/users", switched)
    assert answer.status_code == 401


def test_a_switched_session_cannot_refresh_past_its_sources_key(root, alice, bob):
    key_id, source = key_session(root, alice)
    switched = headers(switch(source, bob))
    AuthKey.objects.filter(key_id=key_id).update(revoke_at=timezone.now() - timedelta(seconds=5))
    body = {"tokenTimeoutSeconds": 3600}
    assert call("POST", f"/v1/operators/{bob.operator_id}/token", switched, body).status_code == 401


def test_introspection_calls_a_switched_token_inactive_once_its_sources_key_ended(root, alice, bob):
    key_id, source = key_session(root, alice)
    switched = switch(source, bob).json()["token"]
    AuthKey.objects.filter(key_id=key_id).update(expires_at=timezone.now() - timedelta(seconds=5))
    bobs_root = Principal.objects.get(operator_id=bob.operator_id, kind=Principal.Kind.ROOT)
    gateway_id, gateway_secret = key_for(bobs_root, bobs_root)
    answer = post(
        "/oauth/introspect", {"token": switched}, headers=basic(gateway_id, gateway_secret)
    )
    assert answer.json() == {"active": False}
