"""Inline and default permissions (soracom-api.md §4.6), immediate effect, self-escalation,
and the published soracom-api client driving roles and permissions."""

import json

import pytest
from django.test import Client

from accounts.models import Operator, Principal
from security import roles
from security.models import AuditEntry
from tests.api.harness import call, error_of
from tests.api.test_soracom_client import run, soracom_python  # noqa: F401 (fixtures)
from tests.conftest import ROOT_PASSWORD, api_login

EMPTY = '{"statements":[]}'


def doc(*statements) -> str:
    return json.dumps({"statements": list(statements)})


ALL = doc({"effect": "allow", "api": "*"})
LIST_USERS = doc({"effect": "allow", "api": "User:listUsers"})


def base(operator) -> str:
    return f"/v1/operators/{operator.id}"


# Access first -------------------------------------------------------------------------


def test_it_answers_404_to_another_operator(outsider_api, operator, alice):
    response = call("GET", f"{base(operator)}/users/alice/permission", outsider_api)
    assert response.status_code == 404


def test_it_refuses_a_sam_user_reading_default_permissions(alice_api, operator):
    response = call("GET", f"{base(operator)}/users/default_permissions", alice_api)
    assert response.status_code == 403


def test_it_refuses_a_sam_user_changing_its_own_inline_permission(alice_api, operator, alice):
    response = call(
        "PUT", f"{base(operator)}/users/alice/permission", alice_api, {"permission": ALL}
    )
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.inline_permission == ""


# Inline permission ------------------------------------------------------------------------


def test_it_answers_an_empty_document_when_there_is_no_inline_permission(root_api, operator, alice):
    body = call("GET", f"{base(operator)}/users/alice/permission", root_api).json()
    assert body == {"permission": EMPTY}


def test_it_sets_and_reads_an_inline_permission_as_a_string(root_api, operator, alice):
    response = call(
        "PUT", f"{base(operator)}/users/alice/permission", root_api, {"permission": LIST_USERS}
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.inline_permission == LIST_USERS
    body = call("GET", f"{base(operator)}/users/alice/permission", root_api).json()
    assert body == {"permission": LIST_USERS}


def test_it_accepts_the_contracts_description_field(root_api, operator, alice):
    body = {"permission": LIST_USERS, "description": "why"}
    assert (
        call("PUT", f"{base(operator)}/users/alice/permission", root_api, body).status_code == 200
    )
    alice.refresh_from_db()
    assert alice.inline_permission == LIST_USERS
    assert AuditEntry.objects.filter(action="User:updateUserPermission", target="alice").exists()


def test_it_deletes_an_inline_permission_with_204(root_api, operator, alice, root):
    roles.set_inline_permission(None, root, alice, LIST_USERS)
    response = call("DELETE", f"{base(operator)}/users/alice/permission", root_api)
    assert response.status_code == 204
    alice.refresh_from_db()
    assert alice.inline_permission == ""


def test_it_refuses_a_bad_inline_permission_and_keeps_the_old_one(root_api, operator, alice, root):
    roles.set_inline_permission(None, root, alice, LIST_USERS)
    bad = doc({"effect": "allow", "api": "*", "condition": "samUserName == "})
    response = call(
        "PUT", f"{base(operator)}/users/alice/permission", root_api, {"permission": bad}
    )
    assert response.status_code == 400
    assert error_of(response)["message"].startswith("Statement 1: condition:")
    alice.refresh_from_db()
    assert alice.inline_permission == LIST_USERS


def test_it_answers_404_for_a_missing_user(root_api, operator):
    response = call(
        "PUT", f"{base(operator)}/users/ghost/permission", root_api, {"permission": ALL}
    )
    assert response.status_code == 404


# Default permissions ----------------------------------------------------------------------


def test_it_updates_default_permissions_with_202_from_permissions(root_api, operator):
    response = call(
        "PUT", f"{base(operator)}/users/default_permissions", root_api, {"permissions": LIST_USERS}
    )
    assert response.status_code == 202
    assert Operator.objects.get(pk=operator.pk).default_permissions == LIST_USERS
    body = call("GET", f"{base(operator)}/users/default_permissions", root_api).json()
    assert body == {"defaultPermissions": LIST_USERS}


def test_it_refuses_default_permissions_sent_as_default_permissions(root_api, operator):
    body = {"defaultPermissions": LIST_USERS}
    response = call("PUT", f"{base(operator)}/users/default_permissions", root_api, body)
    assert response.status_code == 400
    assert Operator.objects.get(pk=operator.pk).default_permissions == ""


def test_it_deletes_default_permissions_with_204(root_api, operator, root):
    roles.set_default_permissions(None, root, LIST_USERS)
    assert (
        call("DELETE", f"{base(operator)}/users/default_permissions", root_api).status_code == 204
    )
    assert Operator.objects.get(pk=operator.pk).default_permissions == ""
    body = call("GET", f"{base(operator)}/users/default_permissions", root_api).json()
    assert body == {"defaultPermissions": EMPTY}


# Changes apply on the next request, to tokens already issued ------------------------------


def test_it_applies_an_attached_role_to_a_token_already_issued(
    root_api, alice_api, operator, alice, root
):
    users_url = f"{base(operator)}/users"
    assert call("GET", users_url, alice_api).status_code == 403
    roles.create_role(None, root, "lister", LIST_USERS)
    call("POST", f"{users_url}/alice/roles", root_api, {"roleId": "lister"})
    assert call("GET", users_url, alice_api).status_code == 200
    call("DELETE", f"{users_url}/alice/roles/lister", root_api)
    assert call("GET", users_url, alice_api).status_code == 403


def test_it_applies_a_default_deny_on_the_next_request(root_api, alice_api, operator, alice, root):
    roles.set_inline_permission(None, root, alice, ALL)
    assert call("GET", f"{base(operator)}/roles", alice_api).status_code == 200
    deny = doc({"effect": "deny", "api": "Role:*"})
    call("PUT", f"{base(operator)}/users/default_permissions", root_api, {"permissions": deny})
    assert call("GET", f"{base(operator)}/roles", alice_api).status_code == 403
    assert call("GET", f"{base(operator)}/users", alice_api).status_code == 200


def test_it_governs_a_sam_users_authkey_by_its_permissions(root_api, operator, alice, root):
    generated = call("POST", f"{base(operator)}/users/alice/auth_keys", root_api).json()
    data = api_login(Client(), authKeyId=generated["authKeyId"], authKey=generated["authKey"])
    key_api = {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}
    assert call("GET", f"{base(operator)}/users", key_api).status_code == 403
    roles.set_inline_permission(None, root, alice, LIST_USERS)
    assert call("GET", f"{base(operator)}/users", key_api).status_code == 200


def test_it_lets_a_self_only_statement_reach_only_the_callers_own_user(
    alice_api, operator, alice, robot, root
):
    self_only = doc(
        {
            "effect": "allow",
            "api": ["User:getUser", "User:listUserAuthKeys"],
            "condition": "pathVariable('user_name') == samUserName",
        }
    )
    roles.set_inline_permission(None, root, alice, self_only)
    assert call("GET", f"{base(operator)}/users/alice", alice_api).status_code == 200
    assert call("GET", f"{base(operator)}/users/robot", alice_api).status_code == 403
    assert call("GET", f"{base(operator)}/users/alice/auth_keys", alice_api).status_code == 200


# Root-only ---------------------------------------------------------------------------------


def test_it_refuses_root_only_operations_to_a_sam_user_holding_everything(
    alice_api, operator, alice, root
):
    roles.set_inline_permission(None, root, alice, ALL)
    assert call("GET", f"{base(operator)}/auth_keys", alice_api).status_code == 403
    assert call("POST", f"{base(operator)}/auth_keys", alice_api).status_code == 403
    body = {"currentPassword": ROOT_PASSWORD, "newPassword": "Stolen-Passw0rd-123"}
    assert call("POST", f"{base(operator)}/password", alice_api, body).status_code == 403
    assert call("DELETE", f"{base(operator)}/tokens", alice_api).status_code == 403
    assert Principal.objects.get(pk=root.pk).check_password(ROOT_PASSWORD)


# Self-escalation is visible -----------------------------------------------------------------


def test_it_flags_a_sam_user_changing_its_own_permission(alice_api, operator, alice, root):
    roles.set_inline_permission(
        None, root, alice, doc({"effect": "allow", "api": ["User:*Permission", "Role:*"]})
    )
    response = call(
        "PUT", f"{base(operator)}/users/alice/permission", alice_api, {"permission": ALL}
    )
    assert response.status_code == 200
    entry = AuditEntry.objects.filter(action="User:updateUserPermission", user_name="alice").get()
    assert entry.details.get("selfEscalation") is True
    assert entry.target == "alice"


def test_it_flags_a_sam_user_attaching_a_role_to_itself(alice_api, operator, alice, root):
    roles.set_inline_permission(None, root, alice, doc({"effect": "allow", "api": "Role:*"}))
    roles.create_role(None, root, "admin", ALL)
    response = call("POST", f"{base(operator)}/users/alice/roles", alice_api, {"roleId": "admin"})
    assert response.status_code == 200
    entry = AuditEntry.objects.filter(action="Role:attachRole", user_name="alice").get()
    assert entry.details == {"roleId": "admin", "selfEscalation": True}


def test_it_flags_a_sam_user_editing_a_role_it_holds(alice_api, operator, alice, root):
    role = roles.create_role(None, root, "mine", doc({"effect": "allow", "api": "Role:*"}))
    roles.attach_role(None, root, alice, role)
    response = call("PUT", f"{base(operator)}/roles/mine", alice_api, {"permission": ALL})
    assert response.status_code == 200
    entry = AuditEntry.objects.filter(action="Role:updateRole", user_name="alice").get()
    assert entry.details["selfEscalation"] is True


def test_it_does_not_flag_root(root_api, operator, alice):
    call("PUT", f"{base(operator)}/users/alice/permission", root_api, {"permission": ALL})
    entry = AuditEntry.objects.filter(action="User:updateUserPermission").get()
    assert "selfEscalation" not in entry.details
    assert entry.actor_kind == "root"


# The published client ------------------------------------------------------------------------


def _role_call(method: str, **kwargs) -> dict:
    return {
        "api": "RoleApi",
        "method": method,
        "kwargs": {"operator_id": "$last:operatorId", **kwargs},
    }


def _user_call(method: str, **kwargs) -> dict:
    return {
        "api": "UserApi",
        "method": method,
        "kwargs": {"operator_id": "$last:operatorId", **kwargs},
    }


def _model(name: str, **fields) -> dict:
    return {"$model": name, "fields": fields}


@pytest.mark.django_db(transaction=True)
def test_it_serves_roles_and_permissions_to_the_soracom_api_client(run, root, alice):  # noqa: F811
    results = run(
        {"auth": {"email": root.email, "password": ROOT_PASSWORD}},
        _role_call(
            "create_role",
            role_id="ops",
            create_or_update_role_request=_model(
                "CreateOrUpdateRoleRequest", permission=LIST_USERS, description="Ops"
            ),
        ),
        _role_call("list_roles"),
        _role_call("get_role", role_id="ops"),
        _role_call(
            "attach_role",
            user_name="alice",
            attach_role_request=_model("AttachRoleRequest", role_id="ops"),
        ),
        _role_call("list_user_roles", user_name="alice"),
        _role_call("list_role_attached_users", role_id="ops"),
        _user_call(
            "update_user_permission",
            user_name="alice",
            set_user_permission_request=_model("SetUserPermissionRequest", permission=ALL),
        ),
        _user_call("get_user_permission", user_name="alice"),
        _user_call(
            "update_default_permissions",
            update_default_permissions_request=_model(
                "UpdateDefaultPermissionsRequest", permissions=LIST_USERS
            ),
        ),
        _user_call("get_default_permissions"),
        _role_call("delete_role", role_id="ops"),
        _role_call("detach_role", user_name="alice", role_id="ops"),
        _role_call("delete_role", role_id="ops"),
    )
    assert [r["ok"] for r in results] == [True] * 11 + [False, True, True], results
    assert results[1]["value"] == {"role_id": "ops"}
    assert results[2]["value"][0]["role_id"] == "ops"
    assert results[3]["value"]["permission"] == LIST_USERS
    assert results[5]["value"][0]["role_id"] == "ops"
    assert results[6]["value"][0]["user_name"] == "alice"
    assert results[8]["value"] == {"permission": ALL}
    assert results[10]["value"] == {"default_permissions": LIST_USERS}
    assert results[11]["status"] == 400  # still attached
