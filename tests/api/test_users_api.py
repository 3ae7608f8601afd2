"""SAM users and the operator over the JSON API (soracom-api.md §4.2, §4.3)."""

import json

import pytest

from accounts.models import ApiSession, Principal
from security import authkeys
from security.models import AuditEntry
from tests.api.harness import call, error_of, no_nulls, snapshot


def users_path(principal, name: str = "") -> str:
    base = f"/v1/operators/{principal.operator_id}/users"
    return f"{base}/{name}" if name else base


def user_routes(operator_id: str, name: str) -> list[tuple[str, str, dict | None]]:
    base = f"/v1/operators/{operator_id}/users"
    return [
        ("GET", base, None),
        ("POST", f"{base}/{name}-new", {"description": "x"}),
        ("GET", f"{base}/{name}", None),
        ("PUT", f"{base}/{name}", {"description": "x"}),
        ("DELETE", f"{base}/{name}", None),
        ("DELETE", f"{base}/{name}/tokens", None),
        ("POST", f"{base}/{name}/password", {"password": "a-Fresh-passw0rd"}),
        ("GET", f"{base}/{name}/password", None),
        ("PUT", f"{base}/{name}/password", {"currentPassword": "x", "newPassword": "y"}),
        ("DELETE", f"{base}/{name}/password", None),
        ("GET", f"/v1/operators/{operator_id}", None),
        (
            "POST",
            f"/v1/operators/{operator_id}/password",
            {"currentPassword": "x", "newPassword": "y"},
        ),
        ("DELETE", f"/v1/operators/{operator_id}/tokens", None),
    ]


# Access ------------------------------------------------------------------------------------


def test_it_answers_another_operators_ids_exactly_like_missing_ones(root, alice, outsider_api):
    """BOLA: the outsider's answer for alice equals the answer for a user nobody has."""
    before = snapshot()
    for method, path, body in user_routes(root.operator_id, "alice"):
        foreign = call(method, path, outsider_api, body)
        missing = call(method, path.replace(root.operator_id, "OP0000000000"), outsider_api, body)
        assert foreign.status_code == 404, (method, path)
        assert foreign.content == missing.content, (method, path)
    assert snapshot() == before


def test_it_refuses_a_sam_user_without_permission_with_403(alice, robot, alice_api):
    before = snapshot()
    for method, path, body in user_routes(alice.operator_id, "robot"):
        response = call(method, path, alice_api, body)
        assert response.status_code == 403, (method, path, response.content)
        assert error_of(response)["code"] == "LKY0403"
    assert snapshot() == before


def test_it_records_each_refusal_in_the_audit_trail(alice, robot, alice_api):
    call("DELETE", users_path(alice, "robot"), alice_api)
    entry = AuditEntry.objects.get(action="User:deleteUser")
    assert entry.outcome == "denied"
    assert entry.target == "robot"


def test_it_refuses_calls_without_a_token_with_401(root, alice):
    for method, path, body in user_routes(root.operator_id, "alice"):
        response = call(method, path, {}, body)
        assert response.status_code == 401, (method, path)
        assert error_of(response) == {"code": "LKY0401", "message": "Authentication failed."}


def grant(user: Principal, *apis: str, own: bool = True) -> None:
    """Give a SAM user an inline permission for these APIs (only on itself when `own`)."""
    statement = {"effect": "allow", "api": list(apis)}
    if own:
        statement["condition"] = "pathVariable('user_name') == samUserName"
    user.inline_permission = json.dumps({"statements": [statement]})
    user.save()
    user.operator.bump_policy_version()


def test_it_lets_a_sam_user_with_permission_read_itself(alice, robot, alice_api):
    grant(alice, "User:getUser")
    assert call("GET", users_path(alice, "alice"), alice_api).json()["userName"] == "alice"
    assert call("GET", users_path(alice, "robot"), alice_api).status_code == 403


def test_it_lets_a_sam_user_with_user_rights_manage_users(alice, alice_api):
    grant(alice, "User:*", own=False)
    assert call("POST", users_path(alice, "carol"), alice_api).status_code == 201
    entry = AuditEntry.objects.get(action="User:createUser")
    assert (entry.actor_kind, entry.actor) == ("sam", "alice")


# listUsers / getUser ---------------------------------------------------------------------


def test_it_lists_the_operators_users_with_the_contracts_fields(root, alice, robot, root_api):
    response = call("GET", users_path(root), root_api)
    assert response.status_code == 200
    listed = response.json()
    assert [u["userName"] for u in listed] == ["alice", "robot"]
    alice_detail = listed[0]
    assert set(alice_detail) >= {
        "userName", "createDateTime", "updateDateTime", "hasPassword", "authKeyList", "roleList"
    }  # fmt: skip
    assert alice_detail["hasPassword"] is True
    assert listed[1]["hasPassword"] is False
    assert alice_detail["description"] == "Alice in ops"
    assert alice_detail["createDateTime"] == int(alice.created_at.timestamp())
    assert isinstance(alice_detail["updateDateTime"], int)
    assert alice_detail["roleList"] == []


def test_it_never_sends_null_in_a_user(root, robot, root_api):
    robot.description = ""
    robot.save()
    assert no_nulls(call("GET", users_path(root), root_api).json())
    assert no_nulls(call("GET", users_path(root, "robot"), root_api).json())


def test_it_lists_no_user_of_another_operator(root, alice, outsider, outsider_api):
    response = call("GET", f"/v1/operators/{outsider.operator_id}/users", outsider_api)
    assert response.json() == []


def test_it_returns_one_user(root, alice, root_api):
    body = call("GET", users_path(root, "alice"), root_api).json()
    assert body["userName"] == "alice"
    assert body["authKeyList"] == []


def test_it_answers_404_with_the_contracts_message_for_a_missing_user(root, root_api):
    response = call("GET", users_path(root, "nobody"), root_api)
    assert response.status_code == 404
    assert error_of(response) == {"code": "LKY0404", "message": "SAM User not found."}


@pytest.mark.parametrize(
    "name", ["%00", "a%00b", "%E2%80%AEalice", "x" * 101, "-dash", "caf%C3%A9", "a%20b"]
)
def test_it_answers_404_for_a_name_that_cannot_exist(root, root_api, name):
    response = call("GET", users_path(root, name), root_api)
    assert response.status_code == 404
    assert error_of(response)["message"] == "SAM User not found."


# createUser -------------------------------------------------------------------------------


def test_it_creates_a_user_with_201_and_no_body(root, root_api):
    response = call("POST", users_path(root, "bob"), root_api, {"description": "Bob"})
    assert response.status_code == 201
    assert response.content == b""
    bob = Principal.objects.get(operator=root.operator, user_name="bob")
    assert bob.is_sam
    assert bob.description == "Bob"
    assert not bob.has_usable_password()


def test_it_creates_a_user_without_a_body(root, root_api):
    response = call("POST", users_path(root, "bob"), root_api)
    assert response.status_code == 201
    assert Principal.objects.get(user_name="bob").description == ""


def test_it_audits_the_creation(root, root_api):
    call("POST", users_path(root, "bob"), root_api, {"description": "Bob"})
    entry = AuditEntry.objects.get(action="User:createUser")
    assert (entry.target, entry.outcome, entry.operator_id) == ("bob", "allowed", root.operator_id)


def test_it_answers_400_for_an_existing_name_as_the_contract_does(root, alice, root_api):
    before = snapshot()
    response = call("POST", users_path(root, "alice"), root_api, {"description": "other"})
    assert response.status_code == 400
    assert error_of(response)["message"] == "A user named alice already exists."
    assert snapshot() == before


def test_it_allows_the_same_name_in_another_operator(root, alice, outsider, outsider_api):
    path = f"/v1/operators/{outsider.operator_id}/users/alice"
    assert call("POST", path, outsider_api).status_code == 201
    assert Principal.objects.filter(user_name="alice").count() == 2


@pytest.mark.parametrize(
    "name",
    [
        "%00",
        "bad%00name",
        "%E2%80%AEevil",  # right-to-left override
        "%EF%BB%BFbom",  # zero-width no-break space
        "x" * 101,
        "-leading-dash",
        "caf%C3%A9",
        "with%20space",
        "semi;colon",
        "%F0%9F%94%91",  # an emoji
        "%ED%A0%80",  # the UTF-8 form of a lone surrogate
    ],
)
def test_it_refuses_a_name_outside_the_rule_with_400(root, root_api, name):
    before = snapshot()
    response = call("POST", users_path(root, name), root_api)
    assert response.status_code == 400, response.content
    assert "letters, digits" in error_of(response)["message"]
    assert snapshot() == before


def test_it_accepts_a_name_of_100_characters(root, root_api):
    assert call("POST", users_path(root, "a" * 100), root_api).status_code == 201


def test_it_does_not_treat_default_permissions_as_a_user_name(root, root_api):
    call("POST", users_path(root, "default_permissions"), root_api)
    assert not Principal.objects.filter(user_name="default_permissions").exists()


BAD_BODIES = [
    ("malformed", '{"description": '),
    ("not an object", '["description"]'),
    ("a string", '"description"'),
    ("null body", "null"),
    ("null field", '{"description": null}'),
    ("number", '{"description": 5}'),
    ("boolean", '{"description": true}'),
    ("array", '{"description": ["a"]}'),
    ("object", '{"description": {"a": 1}}'),
    ("unknown field", '{"description": "a", "operatorId": "OP0000000001"}'),
    ("mass assignment", '{"userName": "root", "isRoot": true}'),
    ("duplicate keys", '{"description": "a", "description": "b"}'),
    ("NUL", '{"description": "a\\u0000b"}'),
    ("lone surrogate", '{"description": "\\ud800"}'),
    ("control character", '{"description": "a\\u0007b"}'),
    ("too long", '{"description": "' + "d" * 1001 + '"}'),
    ("NaN", '{"description": NaN}'),
    ("deep nesting", '{"description": ' + "[" * 5000 + "]" * 5000 + "}"),
    ("invalid UTF-8", b'{"description": "\xff\xfe"}'),
]


@pytest.mark.parametrize("label,raw", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_it_refuses_a_bad_create_body_with_400_and_writes_nothing(root, root_api, label, raw):
    before = snapshot()
    response = call("POST", users_path(root, "bob"), root_api, raw=raw)
    assert response.status_code == 400, response.content
    error_of(response)
    assert snapshot() == before


@pytest.mark.parametrize("label,raw", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_it_refuses_a_bad_update_body_with_400_and_writes_nothing(
    root, alice, root_api, label, raw
):
    before = snapshot()
    response = call("PUT", users_path(root, "alice"), root_api, raw=raw)
    assert response.status_code == 400, response.content
    assert snapshot() == before


def test_it_refuses_a_body_over_64_kib_with_413(root, root_api):
    before = snapshot()
    raw = '{"description": "' + "d" * 70_000 + '"}'
    response = call("POST", users_path(root, "bob"), root_api, raw=raw)
    assert response.status_code == 413
    assert error_of(response)["code"] == "LKY0413"
    assert snapshot() == before


def test_it_accepts_unicode_in_a_description(root, alice, root_api):
    text = "\u05e9\u05dc\u05d5\u05dd \u202eRTL\u202c \U0001f511 caf\u00e9"
    assert (
        call("PUT", users_path(root, "alice"), root_api, {"description": text}).status_code == 200
    )
    alice.refresh_from_db()
    assert alice.description == text


# updateUser -------------------------------------------------------------------------------


def test_it_updates_the_description_with_200_and_no_body(root, alice, root_api):
    response = call("PUT", users_path(root, "alice"), root_api, {"description": "new"})
    assert response.status_code == 200
    assert response.content == b""
    alice.refresh_from_db()
    assert alice.description == "new"


def test_it_leaves_the_description_alone_when_none_is_sent(root, alice, root_api):
    assert call("PUT", users_path(root, "alice"), root_api, {}).status_code == 200
    alice.refresh_from_db()
    assert alice.description == "Alice in ops"


def test_it_answers_404_when_updating_a_missing_user(root, root_api):
    response = call("PUT", users_path(root, "nobody"), root_api, {"description": "x"})
    assert response.status_code == 404


# deleteUser / revokeUserAuthTokens ---------------------------------------------------------


def test_it_deletes_a_user_with_204(root, alice, root_api):
    response = call("DELETE", users_path(root, "alice"), root_api)
    assert response.status_code == 204
    assert not Principal.objects.filter(pk=alice.pk).exists()
    assert AuditEntry.objects.filter(action="User:deleteUser", target="alice").exists()


def test_it_ends_a_deleted_users_sessions_at_once(root, alice, alice_api, root_api):
    grant(alice, "User:getUser")
    assert call("GET", users_path(root, "alice"), alice_api).status_code == 200
    call("DELETE", users_path(root, "alice"), root_api)
    assert call("GET", users_path(root, "alice"), alice_api).status_code == 401


def test_it_answers_404_when_deleting_a_missing_user(root, root_api):
    response = call("DELETE", users_path(root, "nobody"), root_api)
    assert response.status_code == 404
    assert error_of(response)["message"] == "SAM User not found."


def test_it_revokes_a_users_tokens_with_204(root, alice, alice_api, root_api):
    grant(alice, "User:getUser")
    assert call("GET", users_path(root, "alice"), alice_api).status_code == 200
    response = call("DELETE", users_path(root, "alice") + "/tokens", root_api)
    assert response.status_code == 204
    assert call("GET", users_path(root, "alice"), alice_api).status_code == 401
    assert not ApiSession.objects.filter(principal=alice, revoked_at__isnull=True).exists()


def test_it_keeps_other_principals_sessions_when_revoking_a_users_tokens(
    root, alice, alice_api, root_api
):
    grant(alice, "User:getUser")
    assert call("GET", users_path(root, "alice"), alice_api).status_code == 200
    assert call("GET", users_path(root), root_api).status_code == 200
    call("DELETE", users_path(root, "alice") + "/tokens", root_api)
    assert call("GET", users_path(root, "alice"), alice_api).status_code == 401
    assert call("GET", users_path(root), root_api).status_code == 200


# Operator ---------------------------------------------------------------------------------


def test_it_returns_the_operator_as_strings(root, root_api):
    response = call("GET", f"/v1/operators/{root.operator_id}", root_api)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "operatorId", "rootOperatorId", "email", "description", "createDate", "updateDate"
    }  # fmt: skip
    assert all(isinstance(v, str) for v in body.values())
    assert body["operatorId"] == root.operator_id
    assert body["email"] == "root@example.com"


def test_it_revokes_every_root_session_with_204(root, root_api, alice_api):
    from django.test import Client

    from tests.conftest import ROOT_PASSWORD, api_login

    other = api_login(Client(), email=root.email, password=ROOT_PASSWORD)
    other_headers = {
        "HTTP_X_SORACOM_API_KEY": other["apiKey"],
        "HTTP_X_SORACOM_TOKEN": other["token"],
    }
    assert call("GET", f"/v1/operators/{root.operator_id}", other_headers).status_code == 200
    response = call("DELETE", f"/v1/operators/{root.operator_id}/tokens", root_api)
    assert response.status_code == 204
    assert call("GET", f"/v1/operators/{root.operator_id}", root_api).status_code == 401
    assert call("GET", f"/v1/operators/{root.operator_id}", other_headers).status_code == 401


def test_it_keeps_sam_sessions_when_revoking_the_root_tokens(root, alice, root_api, alice_api):
    grant(alice, "User:getUser")
    operator = f"/v1/operators/{root.operator_id}"
    assert call("GET", users_path(root, "alice"), alice_api).status_code == 200
    assert call("GET", operator, root_api).status_code == 200
    call("DELETE", f"{operator}/tokens", root_api)
    assert call("GET", operator, root_api).status_code == 401
    assert call("GET", users_path(root, "alice"), alice_api).status_code == 200


def test_it_lists_a_users_live_authkeys_without_secrets(root, alice, root_api):
    key, secret = authkeys.generate(None, root, alice)
    body = call("GET", users_path(root, "alice"), root_api).json()
    assert body["authKeyList"] == [
        {
            "authKeyId": key.key_id,
            "createDateTime": int(key.created_at.timestamp()),
            "status": "active",  # Latchkey's own, additive (docs/authkeys.md)
        }
    ]
    assert secret not in json.dumps(call("GET", users_path(root), root_api).json())


def test_it_revokes_a_deleted_users_authkeys(root, alice, root_api):
    key, secret = authkeys.generate(None, root, alice)
    call("DELETE", users_path(root, "alice"), root_api)
    key.refresh_from_db()
    assert key.slot is None
    assert key.revoked_at is not None
    exchange = call("POST", "/v1/auth", {}, {"authKeyId": key.key_id, "authKey": secret})
    assert exchange.status_code == 401


@pytest.mark.parametrize("method", ["PATCH", "HEAD", "OPTIONS"])
def test_it_answers_a_method_a_path_does_not_serve_with_a_json_405(root, root_api, method):
    response = call(method, users_path(root, "alice"), root_api)
    assert response.status_code == 405
    assert response["Allow"] == "DELETE, GET, POST, PUT"
    if method != "HEAD":
        assert error_of(response) == {"code": "LKY0405", "message": "Method not allowed."}


# Concurrency (PostgreSQL) -------------------------------------------------------------------

needs_postgres = pytest.mark.skipif(
    "postgresql" not in __import__("django.conf").conf.settings.DATABASES["default"]["ENGINE"],
    reason="needs PostgreSQL (DATABASE_URL)",
)


def concurrently(count: int, send) -> list[int]:
    """Fire `send` from `count` threads at once; return the statuses (a thread's error raises)."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(count)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            statuses.append(send().status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return statuses


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_creates_one_user_when_twenty_requests_race_for_a_name(root, root_api):
    statuses = concurrently(20, lambda: call("POST", users_path(root, "bob"), root_api))
    assert sorted(statuses) == [201] + [400] * 19
    assert Principal.objects.filter(user_name="bob").count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_sets_one_first_password_when_twenty_requests_race(root, robot, root_api):
    path = users_path(root, "robot") + "/password"
    statuses = concurrently(
        20, lambda: call("POST", path, root_api, {"password": "a-Brand-new-passw0rd"})
    )
    assert sorted(statuses) == [201] + [409] * 19


# Paging -------------------------------------------------------------------------------------


def test_it_pages_users_with_the_next_key_header(root, root_api):
    for name in ("u1", "u2", "u3"):
        call("POST", users_path(root, name), root_api)
    first = call("GET", users_path(root) + "?limit=2", root_api)
    assert [u["userName"] for u in first.json()] == ["u1", "u2"]
    assert first["x-soracom-next-key"] == "u2"
    rest = call("GET", users_path(root) + "?limit=2&last_evaluated_key=u2", root_api)
    assert [u["userName"] for u in rest.json()] == ["u3"]
    assert "x-soracom-next-key" not in rest


def test_it_lists_every_user_without_a_limit(root, alice, robot, root_api):
    response = call("GET", users_path(root), root_api)
    assert len(response.json()) == 2
    assert "x-soracom-next-key" not in response


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=-1", "limit=abc", "limit=1e3"])
def test_it_refuses_a_bad_limit_with_400(root, root_api, query):
    response = call("GET", users_path(root) + "?" + query, root_api)
    assert response.status_code == 400
    error_of(response)


@pytest.mark.parametrize("key", ["%00", "%ED%A0%80", "a%20b", "x" * 101])
def test_it_refuses_a_next_key_that_is_not_a_user_name(root, root_api, key):
    response = call("GET", users_path(root) + "?limit=1&last_evaluated_key=" + key, root_api)
    assert response.status_code == 400
    error_of(response)
