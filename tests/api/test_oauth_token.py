"""POST /oauth/token: client credentials (RFC 6749 §4.4), its §5.2 errors, scope, throttle."""

import pytest
from django.test import Client

from accounts import tokens
from accounts.models import ApiSession
from security import authkeys, mfa
from security.models import AuditEntry, AuthKey
from tests.api.harness import call
from tests.api.oauth_client import (
    assert_oauth_error,
    basic,
    bearer,
    key_for,
    post,
    token,
)
from tests.api.test_mfa_api import clock, root_enrolled  # noqa: F401 (fixtures)

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def root_key(root):
    return key_for(root, root)


@pytest.fixture
def lister_key(root, alice):
    """A key of alice, who may list and create users."""
    return key_for(root, alice, [{"effect": "allow", "api": ["User:listUsers", "User:createUser"]}])


def ops(principal) -> str:
    return f"/v1/operators/{principal.operator_id}"


# --- success -------------------------------------------------------------------------------


def test_it_issues_a_bearer_token_with_basic_authentication(root_key):
    response = token(*root_key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


def test_it_issues_a_token_with_the_secret_in_the_body(root, root_key):
    key_id, secret = root_key
    response = post("/oauth/token", {**GRANT, "client_id": key_id, "client_secret": secret})
    assert response.status_code == 200, response.content
    assert (
        call("GET", f"{ops(root)}/auth_keys", bearer(response.json()["access_token"])).status_code
        == 200
    )


def test_it_opens_an_authkey_session_like_v1_auth(root, root_key):
    response = token(*root_key)
    session = ApiSession.objects.get()
    assert (session.auth_key_id, session.opened_by) == (root_key[0], ApiSession.OpenedBy.AUTHKEY)
    claims = tokens.verify_ignoring_time(response.json()["access_token"])
    assert claims["jti"] == session.jti
    assert claims["iss"] == "http://localhost:8000"


def test_it_records_the_exchange_as_v1_auth_does(root, root_key):
    token(*root_key)
    entry = AuditEntry.objects.get(action="Auth:auth")
    assert entry.outcome == AuditEntry.Outcome.ALLOWED
    assert entry.auth_key_id == root_key[0]
    assert entry.details["grant"] == "client_credentials"


def test_it_notes_the_keys_last_use(root_key):
    token(*root_key)
    assert AuthKey.objects.get(key_id=root_key[0]).last_used_at is not None


def test_it_refuses_the_token_once_the_key_is_revoked(root, root_key):
    access = token(*root_key).json()["access_token"]
    authkeys.revoke(None, root, AuthKey.objects.get(key_id=root_key[0]))
    assert call("GET", f"{ops(root)}/auth_keys", bearer(access)).status_code == 401


def test_it_accepts_the_client_id_repeated_in_the_body_with_basic(root_key):
    key_id, secret = root_key
    response = post("/oauth/token", {**GRANT, "client_id": key_id}, headers=basic(key_id, secret))
    assert response.status_code == 200, response.content


# --- RFC 6749 §5.2 errors ----------------------------------------------------------------------


def test_it_answers_invalid_client_for_a_wrong_secret_with_a_basic_challenge(root_key):
    response = token(root_key[0], authkeys.new_secret())
    assert_oauth_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"].startswith('Basic realm="latchkey"')
    assert not ApiSession.objects.exists()


def test_it_answers_invalid_client_for_an_unknown_key(db):
    response = token(authkeys.new_key_id(), authkeys.new_secret())
    assert_oauth_error(response, 401, "invalid_client")


def test_it_answers_invalid_client_without_any_client_authentication(db):
    response = post("/oauth/token", GRANT)
    assert_oauth_error(response, 401, "invalid_client")
    assert "WWW-Authenticate" in response


def test_it_answers_invalid_client_for_a_wrong_secret_in_the_body(root_key):
    body = {**GRANT, "client_id": root_key[0], "client_secret": authkeys.new_secret()}
    assert_oauth_error(post("/oauth/token", body), 401, "invalid_client")


def test_it_answers_invalid_client_for_malformed_basic_credentials(db):
    response = post("/oauth/token", GRANT, headers={"HTTP_AUTHORIZATION": "Basic %%%"})
    assert_oauth_error(response, 401, "invalid_client")


def test_it_answers_invalid_client_for_another_authentication_scheme(root_key):
    response = post("/oauth/token", GRANT, headers={"HTTP_AUTHORIZATION": "Bearer x.y.z"})
    assert_oauth_error(response, 401, "invalid_client")


def test_it_answers_invalid_request_for_both_authentication_methods(root_key):
    key_id, secret = root_key
    response = post(
        "/oauth/token", {**GRANT, "client_secret": secret}, headers=basic(key_id, secret)
    )
    assert_oauth_error(response, 400, "invalid_request")
    assert not ApiSession.objects.exists()


def test_it_answers_invalid_request_for_a_missing_grant_type(root_key):
    response = post("/oauth/token", {}, headers=basic(*root_key))
    assert_oauth_error(response, 400, "invalid_request")


def test_it_answers_invalid_request_for_a_repeated_parameter(root_key):
    raw = "grant_type=client_credentials&grant_type=client_credentials"
    response = post("/oauth/token", raw=raw, headers=basic(*root_key))
    assert_oauth_error(response, 400, "invalid_request")


def test_it_answers_invalid_request_for_a_json_body(root_key):
    response = post(
        "/oauth/token",
        raw='{"grant_type": "client_credentials"}',
        content_type="application/json",
        headers=basic(*root_key),
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_it_answers_invalid_request_for_parameters_in_the_url(root_key):
    key_id, secret = root_key
    response = Client().post(
        f"/oauth/token?client_secret={secret}",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        **basic(key_id, secret),
    )
    assert_oauth_error(response, 400, "invalid_request")
    assert secret not in response.content.decode()


def test_it_answers_invalid_request_for_an_oversized_body(root_key):
    raw = "grant_type=client_credentials&pad=" + "a" * 9000
    assert_oauth_error(
        post("/oauth/token", raw=raw, headers=basic(*root_key)), 400, "invalid_request"
    )


def test_it_answers_unsupported_grant_type(root_key):
    response = post("/oauth/token", {"grant_type": "password"}, headers=basic(*root_key))
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_it_answers_invalid_scope_for_an_unknown_api_name(root_key):
    assert_oauth_error(token(*root_key, scope="User:noSuchThing"), 400, "invalid_scope")


def test_it_answers_invalid_scope_for_a_malformed_scope(root_key):
    assert_oauth_error(token(*root_key, scope="User:listUsers  Role:*"), 400, "invalid_scope")


def test_it_answers_invalid_scope_for_too_many_entries(root_key):
    scope = " ".join(f"User:list*{'s' * i}" for i in range(21))
    assert_oauth_error(token(*root_key, scope=scope), 400, "invalid_scope")


def test_it_answers_invalid_scope_for_nothing_the_key_may_call(root, lister_key):
    response = token(*lister_key, scope="Role:*")
    assert_oauth_error(response, 400, "invalid_scope")
    assert not ApiSession.objects.exists()


def test_it_answers_405_to_a_get(db):
    assert Client().get("/oauth/token").status_code == 405


# --- scope -----------------------------------------------------------------------------------


def test_it_echoes_a_narrowed_scope(lister_key):
    response = token(*lister_key, scope="User:listUsers")
    assert response.json()["scope"] == "User:listUsers"
    assert ApiSession.objects.get().scope == "User:listUsers"


def test_it_lets_a_narrowed_token_call_inside_its_scope(alice, lister_key):
    access = token(*lister_key, scope="User:listUsers").json()["access_token"]
    assert call("GET", f"{ops(alice)}/users", bearer(access)).status_code == 200


def test_it_refuses_a_narrowed_token_outside_its_scope(alice, lister_key):
    access = token(*lister_key, scope="User:listUsers").json()["access_token"]
    response = call("POST", f"{ops(alice)}/users/bob", bearer(access), {})
    assert response.status_code == 403, response.content
    assert not alice.operator.principals.filter(user_name="bob").exists()


def test_it_lets_the_same_key_unnarrowed_create_a_user(alice, lister_key):
    access = token(*lister_key).json()["access_token"]
    assert call("POST", f"{ops(alice)}/users/bob", bearer(access), {}).status_code == 201


def test_it_still_needs_the_principals_permission_inside_the_scope(alice, lister_key):
    # The scope may name more than the principal may: the intersection decides.
    access = token(*lister_key, scope="User:*").json()["access_token"]
    assert call("DELETE", f"{ops(alice)}/users/alice", bearer(access)).status_code == 403


def test_it_narrows_root_too(root, root_key):
    access = token(*root_key, scope="User:listUsers").json()["access_token"]
    assert call("GET", f"{ops(root)}/auth_keys", bearer(access)).status_code == 403


# --- one throttle with /v1/auth -------------------------------------------------------------


def test_it_counts_failures_at_v1_auth_against_the_token_endpoint(settings, root_key):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    key_id, _ = root_key
    for _ in range(3):
        wrong = {"authKeyId": key_id, "authKey": authkeys.new_secret()}
        assert Client().post("/v1/auth", wrong, content_type="application/json").status_code == 401
    response = token(key_id, authkeys.new_secret())
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    assert response["Cache-Control"] == "no-store"


def test_it_counts_failures_at_the_token_endpoint_against_v1_auth(settings, root_key):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    key_id, secret = root_key
    for _ in range(3):
        assert token(key_id, authkeys.new_secret()).status_code == 401
    body = {"authKeyId": key_id, "authKey": secret}
    response = Client().post("/v1/auth", body, content_type="application/json")
    assert response.status_code == 429, response.content


# --- no secret anywhere ----------------------------------------------------------------------


def test_it_never_lets_the_client_secret_out(canary, root):
    key, secret = authkeys.generate(None, root, root)
    canary.add(secret, label="client_secret")
    assert token(key.key_id, secret).status_code == 200
    body = {**GRANT, "client_id": key.key_id, "client_secret": secret}
    assert post("/oauth/token", body).status_code == 200
    assert post("/oauth/token", {**body, "grant_type": "password"}).status_code == 400
    assert post("/oauth/token", {**body, "scope": "No:such"}).status_code == 400
    assert post("/oauth/token", body, headers=basic(key.key_id, secret)).status_code == 400
    canary.assert_nowhere(revisit=root)


def test_it_lets_a_narrowed_token_end_its_own_session(root, lister_key):
    access = token(*lister_key, scope="User:listUsers").json()["access_token"]
    assert call("POST", "/v1/auth/logout", bearer(access)).status_code == 204
    assert ApiSession.objects.get().revoked_at is not None


# --- MFA: as at /v1/auth, an AuthKey exchange needs no second factor ---------------------------


@pytest.mark.usefixtures("root_enrolled")
def test_it_issues_a_token_to_a_key_of_a_root_with_mfa_active_like_v1_auth(root):
    assert mfa.is_active(root)
    key_id, secret = key_for(root, root)
    body = {"authKeyId": key_id, "authKey": secret}
    assert Client().post("/v1/auth", body, content_type="application/json").status_code == 200
    assert token(key_id, secret).status_code == 200
    assert not ApiSession.objects.filter(auth_key_id=key_id, second_factor=True).exists()
