"""GET /v1/audit_logs/api (soracom-api.md §4.9)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from security import audit, auditlog
from security.models import AuditEntry

pytestmark = pytest.mark.django_db

URL = "/v1/audit_logs/api"


def get(headers: dict, **params):
    return Client().get(URL, params, **headers)


def _no_nulls(value) -> bool:
    if value is None:
        return False
    if isinstance(value, dict):
        return all(_no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nulls(v) for v in value)
    return True


def _at(entry: AuditEntry, at: datetime) -> None:
    """Move an entry in time (bypassing the append-only guard, test set-up only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE security_auditentry SET at = %s WHERE id = %s", [at, entry.pk])
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def test_it_refuses_a_call_without_a_token(db):
    response = Client().get(URL)
    assert response.status_code == 401


def test_it_refuses_a_sam_user_without_permission(alice_api):
    response = get(alice_api)
    assert response.status_code == 403
    assert response.json()["code"] == "LKY0403"


def test_it_returns_only_the_callers_operators_entries(root_api, outsider_api, outsider):
    body = get(outsider_api).json()
    assert {item["operatorId"] for item in body} == {outsider.operator_id}


def test_it_lists_newest_first_with_the_contract_fields(root_api, root, operator):
    audit.record(None, "User:createUser", operator=operator, principal=root, target="bob")
    body = get(root_api).json()
    assert body[0]["apiName"] == "User:createUser"
    assert body[1]["apiName"] == "Auth:auth"  # the sign-in that made root_api
    first = body[0]
    assert {
        "apiKind",
        "operatorId",
        "remoteIpAddress",
        "requestPath",
        "requestedTimeEpochMs",
    } <= set(first)
    assert first["userName"] == ""  # root
    assert isinstance(first["requestedTimeEpochMs"], int)
    assert first["requestedTimeEpochMs"] >= body[1]["requestedTimeEpochMs"]


def test_it_never_returns_null(root_api, operator, alice):
    audit.record(None, "Auth:auth", operator=operator, outcome="failed")
    audit.record(None, "User:getUser", operator=operator, principal=alice)
    body = get(root_api).json()
    assert _no_nulls(body)


def test_it_names_the_sam_user_and_the_authkey(root_api, operator, alice):
    key_id = "keyId-" + "c" * 32
    audit.record(None, "User:listUsers", operator=operator, principal=alice, auth_key_id=key_id)
    item = get(root_api).json()[0]
    assert (item["userName"], item["authKeyId"], item["actorKind"]) == ("alice", key_id, "authkey")


def test_it_filters_by_api_name(root_api, root, operator):
    audit.record(None, "User:createUser", operator=operator, principal=root)
    body = get(root_api, api_kind="Auth:auth").json()
    assert {item["apiName"] for item in body} == {"Auth:auth"}


def test_it_filters_by_request_path(root_api):
    body = get(root_api, api_kind="/v1/auth").json()
    assert body and all(item["requestPath"].startswith("/v1/auth") for item in body)


def test_it_filters_by_time_range(root_api, root, operator):
    old = audit.record(None, "User:createUser", operator=operator, principal=root, target="old")
    _at(old, datetime(2020, 1, 1, tzinfo=UTC))
    ms = auditlog.epoch_ms(datetime(2020, 1, 1, tzinfo=UTC))
    body = get(root_api, from_epoch_ms=ms, to_epoch_ms=ms).json()
    assert [item["target"] for item in body] == ["old"]


def test_it_pages_with_the_next_key_header(root_api, root, operator):
    for n in range(5):
        entry = audit.record(
            None, "User:updateUser", operator=operator, principal=root, target=f"u{n}"
        )
        _at(entry, datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=n))
    seen = []
    key = None
    for _ in range(10):
        params = {"limit": 2, "api_kind": "User:updateUser"}
        if key:
            params["last_evaluated_key"] = key
        response = get(root_api, **params)
        seen += [item["target"] for item in response.json()]
        key = response.get("x-soracom-next-key")
        if not key:
            break
    assert seen == ["u4", "u3", "u2", "u1", "u0"]


def test_it_never_splits_entries_of_one_millisecond_across_pages(root_api, root, operator):
    same = datetime(2024, 5, 5, tzinfo=UTC)
    for n in range(3):
        entry = audit.record(
            None, "User:updateUser", operator=operator, principal=root, target=f"s{n}"
        )
        _at(entry, same)
    newest = audit.record(None, "User:updateUser", operator=operator, principal=root, target="new")
    _at(newest, same + timedelta(seconds=1))
    first = get(root_api, limit=2, api_kind="User:updateUser")
    assert [i["target"] for i in first.json()] == ["new"]
    second = get(
        root_api,
        limit=2,
        api_kind="User:updateUser",
        last_evaluated_key=first["x-soracom-next-key"],
    )
    assert sorted(i["target"] for i in second.json()) == ["s0", "s1", "s2"]
    assert "x-soracom-next-key" not in second


def test_it_has_no_next_key_on_the_last_page(root_api):
    response = get(root_api, limit=1000)
    assert "x-soracom-next-key" not in response


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5", ""])
def test_it_refuses_a_limit_out_of_range(root_api, limit):
    response = get(root_api, limit=limit)
    assert response.status_code == 400
    assert response.json()["code"] == "LKY0400"


@pytest.mark.parametrize(
    "params",
    [
        {"from_epoch_ms": "x"},
        {"to_epoch_ms": "-5"},
        {"from_epoch_ms": "2000", "to_epoch_ms": "1000"},
        {"last_evaluated_key": "' OR 1=1 --"},
        {"api_kind": "a\r\nb"},
    ],
)
def test_it_refuses_bad_parameters(root_api, params):
    assert get(root_api, **params).status_code == 400


def test_it_refuses_a_repeated_parameter(root_api):
    response = Client().get(URL + "?limit=1&limit=2", **root_api)
    assert response.status_code == 400


def test_it_shows_a_staff_actor_as_support(root_api, operator, db):
    from accounts.models import Principal

    staff = Principal.objects.create_staff(
        "helpdesk", "x-Password-123456", Principal.StaffRole.SUPPORT
    )
    audit.record(
        None,
        "Support:revokeAuthKey",
        operator=operator,
        principal=staff,
        details={"reason": "leaked"},
    )
    item = get(root_api).json()[0]
    assert item["userName"] == "support:helpdesk"
    assert item["reason"] == "leaked"


def test_it_gives_the_api_kind_in_the_contracts_form(root_api, root, operator):
    audit.record(None, "User:createUser", operator=operator, principal=root, target="bob")
    body = get(root_api).json()
    assert (body[0]["apiKind"], body[0]["apiName"]) == (
        "/v1/operators/{operator_id}/users/{user_name}",
        "User:createUser",
    )
    assert (body[1]["apiKind"], body[1]["apiName"]) == ("/v1/auth", "Auth:auth")


def test_it_gives_a_console_action_the_kind_of_its_api_twin(root_api, root_client):
    root_client.post("/security/users/new", {"user_name": "bob", "description": ""})
    item = get(root_api).json()[0]
    assert (item["apiName"], item["requestPath"]) == ("User:createUser", "/security/users/new")
    assert item["apiKind"] == "/v1/operators/{operator_id}/users/{user_name}"


def test_it_filters_by_api_kind_including_console_twins(root_api, root, operator):
    # A console action records its API name, not an API path: the kind still finds it.
    audit.record(None, "User:createUser", operator=operator, principal=root, target="bob")
    audit.record(None, "User:deleteUser", operator=operator, principal=root, target="bob")
    audit.record(None, "Role:createRole", operator=operator, principal=root, target="r")
    body = get(root_api, api_kind="/v1/operators/{operator_id}/users/{user_name}").json()
    assert [item["apiName"] for item in body] == ["User:deleteUser", "User:createUser"]
