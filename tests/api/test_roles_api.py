"""Roles and attachments under /v1/operators/{operator_id} (soracom-api.md §4.7)."""

import json

import pytest

from accounts.models import Operator, Role, RoleAttachment
from security import roles
from security.models import AuditEntry
from tests.api.harness import call, error_of, no_nulls

ALL_USERS = json.dumps({"statements": [{"effect": "allow", "api": "User:*"}]})
EMPTY = '{"statements":[]}'


def base(operator) -> str:
    return f"/v1/operators/{operator.id}"


@pytest.fixture
def reader(root) -> Role:
    return roles.create_role(None, root, "reader", ALL_USERS, "Reads users")


def version(operator) -> int:
    return Operator.objects.get(pk=operator.pk).policy_version


# Access first -------------------------------------------------------------------------


def test_it_answers_404_to_another_operator(outsider_api, operator, reader):
    response = call("GET", f"{base(operator)}/roles/reader", outsider_api)
    assert response.status_code == 404
    assert error_of(response)["code"] == "LKY0404"


def test_it_answers_the_outsider_like_a_missing_role(outsider_api, root_api, operator, reader):
    foreign = call("DELETE", f"{base(operator)}/roles/reader", outsider_api)
    missing = call("DELETE", f"{base(operator)}/roles/nope", root_api)
    assert foreign.status_code == missing.status_code == 404
    assert Role.objects.filter(pk=reader.pk).exists()


def test_it_refuses_a_sam_user_without_permission(alice_api, operator):
    response = call("POST", f"{base(operator)}/roles/mine", alice_api, {"permission": EMPTY})
    assert response.status_code == 403
    assert "Role:createRole" in error_of(response)["message"]
    assert not Role.objects.exists()


def test_it_records_the_refusal_in_the_audit_log(alice_api, operator):
    call("GET", f"{base(operator)}/roles", alice_api)
    entry = AuditEntry.objects.filter(action="Role:listRoles").get()
    assert entry.outcome == "denied"
    assert entry.user_name == "alice"


# Roles ----------------------------------------------------------------------------------


def test_it_creates_a_role_with_200_and_its_id(root_api, operator):
    response = call(
        "POST",
        f"{base(operator)}/roles/ops",
        root_api,
        {"permission": ALL_USERS, "description": "d"},
    )
    assert response.status_code == 200
    assert response.json() == {"roleId": "ops"}
    role = Role.objects.get(operator=operator, role_id="ops")
    assert (role.permission, role.description) == (ALL_USERS, "d")


def test_it_refuses_a_duplicate_role_id(root_api, operator, reader):
    response = call("POST", f"{base(operator)}/roles/reader", root_api, {"permission": EMPTY})
    assert response.status_code == 400
    assert "already exists" in error_of(response)["message"]
    assert Role.objects.get(pk=reader.pk).permission == ALL_USERS


def test_it_refuses_an_invalid_role_id(root_api, operator):
    response = call("POST", f"{base(operator)}/roles/-bad", root_api, {"permission": EMPTY})
    assert response.status_code == 400
    assert not Role.objects.exists()


def test_it_lets_two_operators_use_the_same_role_id(root_api, outsider_api, operator, outsider):
    call("POST", f"{base(operator)}/roles/same", root_api, {"permission": EMPTY})
    other = f"/v1/operators/{outsider.operator_id}/roles/same"
    assert call("POST", other, outsider_api, {"permission": EMPTY}).status_code == 200
    assert Role.objects.filter(role_id="same").count() == 2


def test_it_lists_roles_without_their_permission(root_api, operator, reader):
    response = call("GET", f"{base(operator)}/roles", root_api)
    assert response.status_code == 200
    [item] = response.json()
    assert item["roleId"] == item["roleName"] == "reader"
    assert item["owner"] == "operator"
    assert "permission" not in item
    assert isinstance(item["createDateTime"], int)


def test_it_filters_roles_by_owner(root_api, operator, reader):
    assert call("GET", f"{base(operator)}/roles?owner=soracom", root_api).json() == []
    assert len(call("GET", f"{base(operator)}/roles?owner=all", root_api).json()) == 1
    assert call("GET", f"{base(operator)}/roles?owner=me", root_api).status_code == 400


def test_it_gets_a_role_with_its_permission(root_api, operator, reader):
    body = call("GET", f"{base(operator)}/roles/reader", root_api).json()
    assert body["permission"] == ALL_USERS
    assert body["description"] == "Reads users"
    assert no_nulls(body)


def test_it_updates_a_role_and_bumps_the_policy_version(root_api, operator, reader):
    before = version(operator)
    response = call("PUT", f"{base(operator)}/roles/reader", root_api, {"permission": EMPTY})
    assert response.status_code == 200
    assert response.content == b""
    reader.refresh_from_db()
    assert reader.permission == EMPTY
    assert reader.description == "Reads users"  # absent description: unchanged
    assert version(operator) > before


def test_it_answers_404_when_updating_a_missing_role(root_api, operator):
    response = call("PUT", f"{base(operator)}/roles/none", root_api, {"permission": EMPTY})
    assert response.status_code == 404


def test_it_deletes_an_unattached_role_with_204(root_api, operator, reader):
    assert call("DELETE", f"{base(operator)}/roles/reader", root_api).status_code == 204
    assert not Role.objects.exists()


def test_it_refuses_to_delete_an_attached_role_naming_the_users(
    root_api, operator, reader, root, alice
):
    roles.attach_role(None, root, alice, reader)
    response = call("DELETE", f"{base(operator)}/roles/reader", root_api)
    assert response.status_code == 400
    assert "still in use" in error_of(response)["message"]
    assert "alice" in error_of(response)["message"]
    assert Role.objects.filter(pk=reader.pk).exists()


def test_it_answers_400_for_versions_of_an_operator_role(root_api, operator, reader):
    assert call("GET", f"{base(operator)}/roles/reader/versions", root_api).status_code == 400
    assert call("GET", f"{base(operator)}/roles/none/versions", root_api).status_code == 404


def test_it_lists_the_users_a_role_is_attached_to(root_api, operator, reader, root, alice, robot):
    roles.attach_role(None, root, alice, reader)
    body = call("GET", f"{base(operator)}/roles/reader/users", root_api).json()
    assert [u["userName"] for u in body] == ["alice"]
    assert body[0]["roleList"][0]["roleId"] == "reader"
    assert no_nulls(body)


# Attachments ----------------------------------------------------------------------------


def test_it_attaches_a_role_with_200(root_api, operator, reader, alice):
    before = version(operator)
    response = call("POST", f"{base(operator)}/users/alice/roles", root_api, {"roleId": "reader"})
    assert response.status_code == 200
    assert RoleAttachment.objects.filter(role=reader, principal=alice).exists()
    assert version(operator) > before


def test_it_refuses_to_attach_twice(root_api, operator, reader, alice, root):
    roles.attach_role(None, root, alice, reader)
    response = call("POST", f"{base(operator)}/users/alice/roles", root_api, {"roleId": "reader"})
    assert response.status_code == 400
    assert RoleAttachment.objects.count() == 1


def test_it_refuses_an_attach_past_the_roles_a_user_may_hold(root_api, operator, alice, root):
    for i in range(roles.MAX_ROLES_PER_USER):
        roles.attach_role(None, root, alice, roles.create_role(None, root, f"r{i}", EMPTY))
    roles.create_role(None, root, "one-more", EMPTY)
    before = version(operator)
    response = call("POST", f"{base(operator)}/users/alice/roles", root_api, {"roleId": "one-more"})
    assert response.status_code == 400
    assert f"({roles.MAX_ROLES_PER_USER})" in error_of(response)["message"]
    assert RoleAttachment.objects.filter(principal=alice).count() == roles.MAX_ROLES_PER_USER
    assert version(operator) == before


def test_it_refuses_to_attach_a_missing_role(root_api, operator, alice):
    response = call("POST", f"{base(operator)}/users/alice/roles", root_api, {"roleId": "ghost"})
    assert response.status_code == 400
    assert "not found" in error_of(response)["message"]


def test_it_refuses_to_attach_another_operators_role(root_api, operator, alice, outsider):
    roles.create_role(None, outsider, "theirs", ALL_USERS)
    response = call("POST", f"{base(operator)}/users/alice/roles", root_api, {"roleId": "theirs"})
    assert response.status_code == 400
    assert not RoleAttachment.objects.exists()


def test_it_answers_404_when_attaching_to_a_missing_user(root_api, operator, reader):
    response = call("POST", f"{base(operator)}/users/ghost/roles", root_api, {"roleId": "reader"})
    assert response.status_code == 404


def test_it_lists_a_users_roles_with_their_permission(root_api, operator, reader, alice, root):
    roles.attach_role(None, root, alice, reader)
    [item] = call("GET", f"{base(operator)}/users/alice/roles", root_api).json()
    assert item["roleId"] == "reader"
    assert item["permission"] == ALL_USERS


def test_it_detaches_a_role_with_200(root_api, operator, reader, alice, root):
    roles.attach_role(None, root, alice, reader)
    response = call("DELETE", f"{base(operator)}/users/alice/roles/reader", root_api)
    assert response.status_code == 200
    assert not RoleAttachment.objects.exists()


def test_it_answers_404_when_detaching_a_role_not_attached(root_api, operator, reader, alice):
    response = call("DELETE", f"{base(operator)}/users/alice/roles/reader", root_api)
    assert response.status_code == 404


# Bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"permission": '{"statements": [}'}, "not valid JSON"),
        ({"permission": '{"statements":[{"effect":"allow","api":5}]}'}, "Statement 1"),
        (
            {
                "permission": json.dumps(
                    {
                        "statements": [
                            {"effect": "allow", "api": "*", "condition": "__import__('os')"}
                        ]
                    }
                )
            },
            "Statement 1: condition",
        ),
        (
            {"permission": '{"statements":[{"effect":"allow","api":"*","condition":"nope(1)"}]}'},
            "unknown function",
        ),
        (
            {
                "permission": '{"statements":[{"effect":"allow","api":"*","condition":"'
                + "(" * 1000
                + '"}]}'
            },
            "Statement 1",
        ),
        ({"permission": {"statements": []}}, "permission"),
        ({"permission": None}, "permission"),
        ({"permission": EMPTY, "owner": "x"}, "Unknown field"),
        ({}, "Missing field"),
    ],
)
def test_it_refuses_bad_input_and_saves_nothing(root_api, operator, body, fragment):
    response = call("POST", f"{base(operator)}/roles/bad", root_api, body)
    assert response.status_code == 400
    assert fragment in error_of(response)["message"]
    assert not Role.objects.exists()


def test_it_refuses_10000_statements_and_saves_nothing(root_api, operator):
    document = json.dumps({"statements": [{"effect": "deny", "api": "*"}] * 10_000})
    response = call("POST", f"{base(operator)}/roles/big", root_api, {"permission": document})
    assert response.status_code in (400, 413)  # over 64 KiB the body itself is refused
    assert not Role.objects.exists()


def test_it_refuses_101_statements_naming_the_cap(root_api, operator):
    document = json.dumps({"statements": [{"effect": "deny", "api": "*"}] * 101})
    response = call("POST", f"{base(operator)}/roles/big", root_api, {"permission": document})
    assert response.status_code == 400
    assert "at most 100" in error_of(response)["message"]


def test_it_refuses_a_huge_condition(root_api, operator):
    condition = "samUserName == '" + "a" * 60_000 + "'"
    document = json.dumps({"statements": [{"effect": "allow", "api": "*", "condition": condition}]})
    response = call("POST", f"{base(operator)}/roles/huge", root_api, {"permission": document})
    assert response.status_code == 400
    assert not Role.objects.exists()


def test_it_accepts_a_pattern_that_matches_no_operation_when_well_formed(root_api, operator):
    document = json.dumps({"statements": [{"effect": "allow", "api": "Sim:listSims"}]})
    response = call("POST", f"{base(operator)}/roles/future", root_api, {"permission": document})
    assert response.status_code == 200


def test_it_refuses_a_malformed_pattern(root_api, operator):
    document = json.dumps({"statements": [{"effect": "allow", "api": "User:list Users"}]})
    response = call("POST", f"{base(operator)}/roles/typo", root_api, {"permission": document})
    assert response.status_code == 400
    assert "is not an API name" in error_of(response)["message"]
