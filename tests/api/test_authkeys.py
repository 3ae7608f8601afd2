"""The AuthKey API: operator keys (§4.2), user keys (§4.5), and the AuthKey exchange at /auth."""

import json

import pytest
from django.test import Client

from accounts.models import ApiSession
from security import authkeys, roles
from security.models import AuditEntry, AuthKey


def call(method: str, path: str, headers: dict, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return Client().generic(
        method, path, data, content_type="application/json" if data else None, **headers
    )


def ops(principal) -> str:
    return f"/v1/operators/{principal.operator_id}"


def exchange(key_id: str, secret: str, ip: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=ip).post(
        "/v1/auth", {"authKeyId": key_id, "authKey": secret}, content_type="application/json"
    )


def headers_of(response) -> dict:
    body = response.json()
    return {"HTTP_X_SORACOM_API_KEY": body["apiKey"], "HTTP_X_SORACOM_TOKEN": body["token"]}


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message"}
    return body


# --- access ----------------------------------------------------------------------------


def test_it_answers_an_outsider_like_a_missing_operator(root, outsider_api):
    response = call("GET", f"{ops(root)}/auth_keys", outsider_api)
    missing = call("GET", "/v1/operators/OP0000000000/auth_keys", outsider_api)
    assert_error(response, 404)
    assert response.json() == missing.json()


def test_it_refuses_an_outsider_revoking_a_foreign_key_like_a_missing_one(root, outsider_api):
    key, secret = authkeys.generate(None, root, root)
    response = call("DELETE", f"{ops(root)}/auth_keys/{key.key_id}", outsider_api)
    assert_error(response, 404)
    assert exchange(key.key_id, secret).status_code == 200


def test_it_refuses_an_outsider_user_keys_like_missing_ones(root, alice, outsider_api):
    key, _ = authkeys.generate(None, root, alice)
    path = f"{ops(alice)}/users/alice/auth_keys/{key.key_id}"
    assert_error(call("GET", path, outsider_api), 404)
    assert_error(call("DELETE", path, outsider_api), 404)
    assert_error(call("POST", f"{ops(alice)}/users/alice/auth_keys", outsider_api), 404)
    assert authkeys.live_keys(alice).count() == 1


def test_it_refuses_a_sam_user_the_root_keys(root, alice_api):
    assert_error(call("GET", f"{ops(root)}/auth_keys", alice_api), 403)
    assert_error(call("POST", f"{ops(root)}/auth_keys", alice_api), 403)
    assert not AuthKey.objects.exists()


def test_it_refuses_anonymous_callers(root):
    assert_error(call("GET", f"{ops(root)}/auth_keys", {}), 401)
    assert_error(call("POST", f"{ops(root)}/auth_keys", {}), 401)


def test_it_refuses_a_sam_user_without_permission_a_key_for_itself(alice, alice_api):
    response = call("POST", f"{ops(alice)}/users/alice/auth_keys", alice_api)
    assert_error(response, 403)
    assert not AuthKey.objects.exists()
    assert AuditEntry.objects.filter(action="User:generateUserAuthKey", outcome="denied").exists()


def _self_service(root, alice) -> None:
    statement = {
        "effect": "allow",
        "api": ["User:listUserAuthKeys", "User:generateUserAuthKey", "User:getUserAuthKey"],
        "condition": "pathVariable('user_name') == samUserName",
    }
    roles.set_inline_permission(None, root, alice, json.dumps({"statements": [statement]}))


def test_it_lets_a_sam_user_with_self_service_generate_its_own_key(root, alice, alice_api):
    _self_service(root, alice)
    response = call("POST", f"{ops(alice)}/users/alice/auth_keys", alice_api)
    assert response.status_code == 200
    key = AuthKey.objects.get(key_id=response.json()["authKeyId"])
    assert key.principal == alice
    entry = AuditEntry.objects.get(action="User:generateUserAuthKey", outcome="allowed")
    assert entry.actor == "alice" and entry.target == "alice"


def test_it_refuses_self_service_a_key_for_another_user(root, alice, robot, alice_api):
    _self_service(root, alice)
    assert_error(call("POST", f"{ops(alice)}/users/robot/auth_keys", alice_api), 403)
    assert not AuthKey.objects.filter(principal=robot).exists()


def test_it_audits_a_key_minted_for_another_user_with_actor_and_target(root, robot, root_api):
    call("POST", f"{ops(robot)}/users/robot/auth_keys", root_api)
    entry = AuditEntry.objects.get(action="User:generateUserAuthKey", outcome="allowed")
    assert (entry.actor, entry.target) == (root.email, "robot")


# --- operator keys (§4.2) --------------------------------------------------------------


def test_it_generates_an_operator_key_with_201_and_shows_the_secret_once(root, root_api):
    response = call("POST", f"{ops(root)}/auth_keys", root_api)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"authKeyId", "authKey"}
    assert authkeys.looks_like_key_id(body["authKeyId"])
    assert authkeys.looks_like_secret(body["authKey"])
    listing = call("GET", f"{ops(root)}/auth_keys", root_api)
    assert body["authKey"] not in listing.content.decode()


def test_it_lists_operator_keys_without_nulls_or_secrets(root, alice, root_api):
    key, _ = authkeys.generate(None, root, root)
    authkeys.generate(None, root, alice)  # a user's key is not the operator's
    response = call("GET", f"{ops(root)}/auth_keys", root_api)
    assert response.status_code == 200
    assert response.json() == [
        {
            "authKeyId": key.key_id,
            "createDateTime": int(key.created_at.timestamp()),
            "status": "active",  # Latchkey's own, additive (docs/authkeys.md)
        }
    ]


def test_it_lists_last_used_time_in_epoch_seconds_after_an_exchange(root, root_api):
    key, secret = authkeys.generate(None, root, root)
    exchange(key.key_id, secret)
    key.refresh_from_db()
    (item,) = call("GET", f"{ops(root)}/auth_keys", root_api).json()
    assert item["lastUsedDateTime"] == int(key.last_used_at.timestamp())
    assert isinstance(item["lastUsedDateTime"], int)


def test_it_refuses_a_third_operator_key_with_409_and_writes_nothing(root, root_api):
    authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    before = AuthKey.objects.count()
    response = call("POST", f"{ops(root)}/auth_keys", root_api)
    body = assert_error(response, 409)
    assert "revoke one to generate a new one" in body["message"]
    assert AuthKey.objects.count() == before


def test_it_deletes_an_operator_key_with_204(root, root_api):
    key, _ = authkeys.generate(None, root, root)
    response = call("DELETE", f"{ops(root)}/auth_keys/{key.key_id}", root_api)
    assert response.status_code == 204
    assert response.content == b""
    key.refresh_from_db()
    assert key.revoked_at is not None and key.slot is None


def test_it_answers_404_to_a_second_delete(root, root_api):
    key, _ = authkeys.generate(None, root, root)
    call("DELETE", f"{ops(root)}/auth_keys/{key.key_id}", root_api)
    response = call("DELETE", f"{ops(root)}/auth_keys/{key.key_id}", root_api)
    assert assert_error(response, 404)["message"] == "AuthKey not found."


def test_it_does_not_let_root_delete_a_user_key_through_the_operator_path(root, alice, root_api):
    key, _ = authkeys.generate(None, root, alice)
    assert_error(call("DELETE", f"{ops(root)}/auth_keys/{key.key_id}", root_api), 404)
    assert authkeys.live_keys(alice).count() == 1


# --- user keys (§4.5) ------------------------------------------------------------------


def test_it_generates_a_user_key_with_200(root, alice, root_api):
    response = call("POST", f"{ops(alice)}/users/alice/auth_keys", root_api)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"authKeyId", "authKey"}
    key = AuthKey.objects.get(key_id=body["authKeyId"])
    assert key.principal == alice and key.holder == "alice"


def test_it_gets_one_user_key(root, alice, root_api):
    key, _ = authkeys.generate(None, root, alice)
    response = call("GET", f"{ops(alice)}/users/alice/auth_keys/{key.key_id}", root_api)
    assert response.status_code == 200
    assert response.json() == {
        "authKeyId": key.key_id,
        "createDateTime": int(key.created_at.timestamp()),
        "status": "active",
    }


def test_it_answers_404_for_another_users_key(root, alice, robot, root_api):
    key, _ = authkeys.generate(None, root, robot)
    response = call("GET", f"{ops(alice)}/users/alice/auth_keys/{key.key_id}", root_api)
    assert_error(response, 404)


def test_it_answers_404_for_a_missing_user(root, root_api):
    assert_error(call("GET", f"{ops(root)}/users/nobody/auth_keys", root_api), 404)
    assert_error(call("POST", f"{ops(root)}/users/nobody/auth_keys", root_api), 404)
    assert not AuthKey.objects.exists()


def test_it_deletes_a_user_key_and_its_sessions(root, robot, root_api):
    key, secret = authkeys.generate(None, root, robot)
    session = headers_of(exchange(key.key_id, secret))
    path = f"{ops(robot)}/users/robot/auth_keys"
    assert call("GET", path, session).status_code in (200, 403)
    assert call("DELETE", f"{path}/{key.key_id}", root_api).status_code == 204
    assert_error(call("GET", path, session), 401)
    assert_error(exchange(key.key_id, secret), 401)


def test_it_refuses_a_third_user_key_with_409(root, alice, root_api):
    path = f"{ops(alice)}/users/alice/auth_keys"
    assert call("POST", path, root_api).status_code == 200
    assert call("POST", path, root_api).status_code == 200
    assert_error(call("POST", path, root_api), 409)
    assert authkeys.live_keys(alice).count() == 2


def test_it_frees_a_slot_when_a_key_is_revoked(root, alice, root_api):
    path = f"{ops(alice)}/users/alice/auth_keys"
    first = call("POST", path, root_api).json()["authKeyId"]
    call("POST", path, root_api)
    call("DELETE", f"{path}/{first}", root_api)
    assert call("POST", path, root_api).status_code == 200
    assert AuthKey.objects.filter(principal=alice).count() == 3
    assert authkeys.live_keys(alice).count() == 2


def test_it_answers_429_with_retry_after_past_the_hourly_generate_limit(root, root_api, settings):
    settings.LATCHKEY_AUTHKEY_GENERATES_PER_HOUR = 2
    for _ in range(2):
        key_id = call("POST", f"{ops(root)}/auth_keys", root_api).json()["authKeyId"]
        call("DELETE", f"{ops(root)}/auth_keys/{key_id}", root_api)
    response = call("POST", f"{ops(root)}/auth_keys", root_api)
    assert_error(response, 429)
    assert int(response["Retry-After"]) >= 1
    assert not authkeys.live_keys(root).exists()


def test_it_ignores_a_body_on_generate(root, root_api):
    response = call("POST", f"{ops(root)}/auth_keys", root_api, body={"authKey": "mine"})
    assert response.status_code == 201
    assert response.json()["authKey"] != "mine"


# --- the exchange at /auth -------------------------------------------------------------


def test_it_exchanges_a_root_key_for_a_session(root):
    key, secret = authkeys.generate(None, root, root)
    response = exchange(key.key_id, secret)
    assert response.status_code == 200
    body = response.json()
    assert body["operatorId"] == root.operator_id
    assert "userName" not in body
    assert ApiSession.objects.get(api_key=body["apiKey"]).auth_key_id == key.key_id


def test_it_exchanges_a_passwordless_users_key_and_names_the_user(root, robot):
    key, secret = authkeys.generate(None, root, robot)
    body = exchange(key.key_id, secret).json()
    assert body["userName"] == "robot"


def test_it_refuses_a_wrong_secret_with_the_generic_body(root):
    key, _ = authkeys.generate(None, root, root)
    wrong = authkeys.new_secret()
    body = assert_error(exchange(key.key_id, wrong), 401)
    unknown = assert_error(exchange(authkeys.new_key_id(), wrong), 401)
    assert body == unknown == {"code": "LKY0401", "message": "Authentication failed."}


def test_it_refuses_a_revoked_key(root):
    key, secret = authkeys.generate(None, root, root)
    authkeys.revoke(None, root, key)
    assert_error(exchange(key.key_id, secret), 401)


def test_it_refuses_a_key_mixed_with_a_password(root):
    key, secret = authkeys.generate(None, root, root)
    response = Client().post(
        "/v1/auth",
        {"authKeyId": key.key_id, "authKey": secret, "email": root.email, "password": "x"},
        content_type="application/json",
    )
    assert_error(response, 400)
    assert not ApiSession.objects.exists()


def test_it_throttles_guessing_with_429_and_retry_after(root, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    key, secret = authkeys.generate(None, root, root)
    for _ in range(3):
        assert_error(exchange(key.key_id, authkeys.new_secret()), 401)
    response = exchange(key.key_id, secret)
    assert_error(response, 429)
    assert int(response["Retry-After"]) > 0


def test_it_lets_the_owner_in_from_elsewhere_while_a_stranger_is_throttled(root, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    key, secret = authkeys.generate(None, root, root)
    for _ in range(4):
        exchange(key.key_id, authkeys.new_secret(), ip="203.0.113.9")
    assert exchange(key.key_id, secret, ip="198.51.100.7").status_code == 200


def test_it_never_writes_a_secret_anywhere_but_its_one_response(canary, root, root_api):
    response = call("POST", f"{ops(root)}/auth_keys", root_api)
    secret = canary.add(response.json()["authKey"], label="root AuthKey", shown_in=response)
    exchange("keyId-" + "0" * 32, secret)
    Client().post(
        "/v1/auth", {"authKeyId": secret, "authKey": secret}, content_type="application/json"
    )
    canary.assert_nowhere(revisit=root)


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key_id",
    [
        "keyId-",
        "keyId-" + "A" * 32,
        "keyId-" + "a" * 33,
        "x" * 300,
        "keyId-%00" + "a" * 29,
        "keyId-" + "\uff41" * 32,  # fullwidth a
        "..",
        "%2e%2e",
    ],
)
def test_it_answers_404_for_malformed_key_ids(root, root_api, key_id):
    response = call("DELETE", f"{ops(root)}/auth_keys/{key_id}", root_api)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "user_name", ["no%20such", "%E2%80%AEevil", "a" * 101, "%00", "\uff41lice", "alice%0a"]
)
def test_it_answers_404_for_odd_user_names(root, alice, root_api, user_name):
    response = call("POST", f"{ops(root)}/users/{user_name}/auth_keys", root_api)
    assert response.status_code == 404
    assert not AuthKey.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"authKeyId": 1, "authKey": "secret-x"},
        {"authKeyId": None, "authKey": None},
        {"authKeyId": ["keyId-x"], "authKey": "s"},
        {"authKeyId": {"$ne": ""}, "authKey": "s"},
        {"authKeyId": "keyId-" + "a" * 32, "authKey": True},
        {"authKeyId": "keyId-" + "a" * 32, "authKey": "s" * 5000},
        {"authKeyId": "keyId-" + "a" * 32, "authKey": "secret-\u0000"},
        {"authKeyId": "keyId-\ud800", "authKey": "secret-x"},
        {"authKeyId": "keyId-" + "a" * 32, "authKey": "secret-x", "extra": 1},
    ],
)
def test_it_answers_bad_exchange_input_with_a_clean_4xx(root, body):
    raw = json.dumps(body)
    response = Client().post("/v1/auth", raw, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert not ApiSession.objects.exists()


def test_it_answers_401_for_a_mistyped_secret(root):
    key, secret = authkeys.generate(None, root, root)
    typo = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert_error(exchange(key.key_id, typo), 401)


def test_it_answers_413_to_an_oversized_exchange(db):
    raw = json.dumps({"authKeyId": "keyId-" + "a" * 32, "authKey": "s" * 70000})
    response = Client().post("/v1/auth", raw, content_type="application/json")
    assert response.status_code == 413
