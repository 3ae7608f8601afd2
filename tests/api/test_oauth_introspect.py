"""POST /oauth/introspect (RFC 7662) and POST /oauth/revoke (RFC 7009)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import apisessions
from accounts.models import ApiSession
from security import authkeys
from security.models import AuditEntry, AuthKey
from tests.api.harness import call
from tests.api.oauth_client import assert_oauth_error, basic, bearer, key_for, post, token
from tests.operations_table import OAUTH_OPERATIONS
from tests.routes import UNAUTHORIZED_ROUTES

INTROSPECTOR = [{"effect": "allow", "api": ["OAuth:introspectToken", "OAuth:revokeToken"]}]


@pytest.fixture
def gateway(root, alice):
    """A key of alice, allowed only introspection and revocation (the operator's gateway)."""
    return key_for(root, alice, INTROSPECTOR)


@pytest.fixture
def robot_token(root, robot):
    """An access token of robot's key, narrowed to User:listUsers."""
    key_id, secret = key_for(root, robot, [{"effect": "allow", "api": "User:*"}])
    return token(key_id, secret, scope="User:listUsers").json()["access_token"], key_id


def introspect(client_key, value: str):
    return post("/oauth/introspect", {"token": value}, headers=basic(*client_key))


def revoke(client_key, value: str):
    return post("/oauth/revoke", {"token": value}, headers=basic(*client_key))


def ops(principal) -> str:
    return f"/v1/operators/{principal.operator_id}"


# --- access ----------------------------------------------------------------------------------


def test_it_refuses_a_key_without_the_api_name(root, robot, robot_token):
    other = key_for(root, robot)  # robot may call User:*, not OAuth:*
    response = introspect(other, robot_token[0])
    assert_oauth_error(response, 403, "access_denied")
    denied = AuditEntry.objects.filter(action="OAuth:introspectToken", outcome="denied")
    assert denied.count() == 1


def test_it_refuses_revocation_to_a_key_without_the_api_name(root, robot, robot_token):
    other = key_for(root, robot)
    assert_oauth_error(revoke(other, robot_token[0]), 403, "access_denied")
    assert ApiSession.objects.filter(revoked_at__isnull=True).count() == 1


def test_it_refuses_a_wrong_client_secret(gateway, robot_token):
    response = introspect((gateway[0], authkeys.new_secret()), robot_token[0])
    assert_oauth_error(response, 401, "invalid_client")
    assert "WWW-Authenticate" in response


def test_it_accepts_the_client_credentials_in_the_body(gateway, robot_token):
    body = {"token": robot_token[0], "client_id": gateway[0], "client_secret": gateway[1]}
    assert post("/oauth/introspect", body).json()["active"] is True


def test_it_answers_invalid_request_without_a_token(gateway):
    assert_oauth_error(
        post("/oauth/introspect", {}, headers=basic(*gateway)), 400, "invalid_request"
    )


# --- introspection -----------------------------------------------------------------------------


def test_it_describes_an_active_token(robot, robot_token, gateway):
    response = introspect(gateway, robot_token[0])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    session = ApiSession.objects.get(auth_key_id=robot_token[1])
    assert body["active"] is True
    assert body["client_id"] == robot_token[1]
    assert body["sub"] == f"srn:soracom:{robot.operator_id}::User:robot"
    assert (body["operatorId"], body["userName"], body["username"]) == (
        robot.operator_id,
        "robot",
        "robot",
    )
    assert body["scope"] == "User:listUsers"
    assert (body["token_type"], body["iss"], body["jti"]) == (
        "Bearer",
        "http://localhost:8000",
        session.jti,
    )
    assert body["exp"] - body["iat"] == 3600


def test_it_answers_inactive_for_a_revoked_token(root, robot_token, gateway):
    authkeys.revoke(None, root, AuthKey.objects.get(key_id=robot_token[1]))
    assert introspect(gateway, robot_token[0]).json() == {"active": False}


def test_it_answers_inactive_for_an_expired_token(root, gateway, monkeypatch):
    past = timezone.now() - timedelta(hours=2)
    monkeypatch.setattr(apisessions, "_now", lambda: past)
    _, expired = apisessions.create_session(root, timeout=600)
    monkeypatch.undo()
    assert introspect(gateway, expired).json() == {"active": False}


def test_it_answers_inactive_for_another_operators_token(outsider, gateway):
    _, foreign = apisessions.create_session(outsider, timeout=600)
    assert introspect(gateway, foreign).json() == {"active": False}


@pytest.mark.parametrize("garbage", ["x", "a.b.c", "é" * 10, "eyJ" * 2000])
def test_it_answers_inactive_for_garbage(gateway, garbage):
    response = introspect(gateway, garbage)
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_it_describes_a_password_session_without_a_client_id(root, gateway):
    _, password_token = apisessions.create_session(root, timeout=600)
    body = introspect(gateway, password_token).json()
    assert body["active"] is True
    assert "client_id" not in body and "scope" not in body
    assert body["username"] == "root"


# --- revocation --------------------------------------------------------------------------------


def test_it_revokes_a_token_so_the_next_call_fails(robot, robot_token, gateway):
    assert call("GET", f"{ops(robot)}/users", bearer(robot_token[0])).status_code == 200
    response = revoke(gateway, robot_token[0])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert call("GET", f"{ops(robot)}/users", bearer(robot_token[0])).status_code == 401
    assert ApiSession.objects.get(auth_key_id=robot_token[1]).revoked_at is not None


def test_it_records_the_revocation(alice, robot_token, gateway):
    revoke(gateway, robot_token[0])
    entry = AuditEntry.objects.get(action="OAuth:revokeToken")
    assert (entry.auth_key_id, entry.target) == (gateway[0], "robot")
    assert entry.details["sessionsEnded"] == 1
    assert robot_token[0] not in str(entry.details)


def test_it_answers_200_for_an_unknown_token(gateway):
    assert revoke(gateway, "not-a-token").status_code == 200
    assert not AuditEntry.objects.filter(action="OAuth:revokeToken").exists()


def test_it_leaves_another_operators_token_alone(outsider, gateway):
    _, foreign = apisessions.create_session(outsider, timeout=600)
    assert revoke(gateway, foreign).status_code == 200
    assert ApiSession.objects.get(principal=outsider).revoked_at is None
    assert call("GET", f"{ops(outsider)}/auth_keys", bearer(foreign)).status_code == 200


def test_a_sam_users_key_cannot_end_roots_tokens(root, gateway):
    root_key = key_for(root, root)
    roots_token = token(*root_key).json()["access_token"]
    assert revoke(gateway, roots_token).status_code == 200
    assert call("GET", f"{ops(root)}/auth_keys", bearer(roots_token)).status_code == 200
    assert not AuditEntry.objects.filter(action="OAuth:revokeToken").exists()


def test_roots_key_ends_roots_token(root):
    root_key = key_for(root, root)
    roots_token = token(*root_key).json()["access_token"]
    assert revoke(root_key, roots_token).status_code == 200
    assert call("GET", f"{ops(root)}/auth_keys", bearer(roots_token)).status_code == 401


def test_it_answers_an_introspection_of_the_revoked_token_inactive(robot_token, gateway):
    revoke(gateway, robot_token[0])
    assert introspect(gateway, robot_token[0]).json() == {"active": False}


# --- the oracle table (tests/operations_table.py) ------------------------------------------

ORACLE = sorted(OAUTH_OPERATIONS.items())


@pytest.mark.parametrize(("route", "api"), ORACLE, ids=[a for _, a in ORACLE])
def test_it_allows_a_key_allowed_only_the_tables_name(root, robot, route, api):
    client = key_for(root, robot, [{"effect": "allow", "api": api}])
    assert post(route[1], {"token": "x"}, headers=basic(*client)).status_code == 200


@pytest.mark.parametrize(("route", "api"), ORACLE, ids=[a for _, a in ORACLE])
def test_it_refuses_a_key_allowed_everything_but_the_tables_name(root, robot, route, api):
    statements = [{"effect": "allow", "api": "*"}, {"effect": "deny", "api": api}]
    client = key_for(root, robot, statements)
    response = post(route[1], {"token": "x"}, headers=basic(*client))
    assert_oauth_error(response, 403, "access_denied")


@pytest.mark.parametrize(("route", "api"), ORACLE, ids=[a for _, a in ORACLE])
def test_it_refuses_a_key_of_a_user_with_nothing(root, robot, route, api):
    client = key_for(root, robot)
    assert_oauth_error(post(route[1], {"token": "x"}, headers=basic(*client)), 403, "access_denied")


def test_it_lets_root_keys_call_both(root):
    client = key_for(root, root)
    for route, _ in ORACLE:
        assert post(route[1], {"token": "x"}, headers=basic(*client)).status_code == 200


def test_it_keeps_the_table_to_routes_that_exist():
    assert {path.lstrip("/") for _, path in OAUTH_OPERATIONS} <= set(UNAUTHORIZED_ROUTES)
