"""`console_action` decides a console action exactly as the API decides its twin: the same
name, the twin's HTTP method and its path variables (operator_id included), and for a
console-only page every API read whose data it shows."""

import json

import pytest
from django.test import Client

from accounts import policy
from accounts.models import Principal
from security.models import AuditEntry

HX = {"HTTP_HX_REQUEST": "true"}


def signed_in_with(user: Principal, *statements: dict) -> Client:
    policy.clear_cache()
    user.inline_permission = json.dumps({"statements": list(statements)})
    user.save()
    user.operator.bump_policy_version()
    client = Client()
    client.force_login(user, backend="accounts.backends.SamUserBackend")
    return client


def test_it_decides_a_console_delete_as_a_delete(alice, robot):
    client = signed_in_with(
        alice,
        {"effect": "allow", "api": "*"},
        {"effect": "deny", "api": "*", "condition": "httpMethod('DELETE')"},
    )
    assert client.post("/security/users/robot/delete", **HX).status_code == 403
    assert Principal.objects.filter(pk=robot.pk).exists()


def test_it_decides_a_console_update_as_a_put(alice, robot):
    client = signed_in_with(
        alice,
        {"effect": "allow", "api": "*"},
        {"effect": "deny", "api": "*", "condition": "httpMethod('PUT')"},
    )
    response = client.post("/security/users/robot/update", {"description": "changed"}, **HX)
    assert response.status_code == 403
    robot.refresh_from_db()
    assert robot.description == "CI pipeline"


def test_it_lets_a_read_only_persona_open_pages(alice, robot):
    client = signed_in_with(
        alice, {"effect": "allow", "api": "*", "condition": "httpMethod('GET')"}
    )
    assert client.get("/security/users/robot/").status_code == 200
    assert client.post("/security/users/robot/delete", **HX).status_code == 403


def test_it_gives_conditions_the_operator_id_path_variable(alice, robot):
    own = f"pathVariable('operator_id') == '{alice.operator_id}'"
    client = signed_in_with(alice, {"effect": "allow", "api": "User:getUser", "condition": own})
    assert client.get("/security/users/robot/").status_code == 200


@pytest.mark.parametrize("page", ["effective", "simulate"])
def test_it_refuses_a_policy_page_to_a_persona_without_the_api_reads(alice, robot, page):
    client = signed_in_with(
        alice,
        {"effect": "allow", "api": ["User:getEffectivePermission", "User:simulatePermission"]},
    )
    response = client.get(f"/security/users/robot/permissions/{page}", **HX)
    assert response.status_code == 403
    denied = AuditEntry.objects.get(outcome=AuditEntry.Outcome.DENIED)
    assert denied.action == "User:getUserPermission"


@pytest.mark.parametrize("page", ["effective", "simulate"])
def test_it_shows_a_policy_page_to_a_persona_with_the_api_reads(alice, robot, page):
    client = signed_in_with(
        alice,
        {
            "effect": "allow",
            "api": [
                "User:getEffectivePermission",
                "User:simulatePermission",
                "User:getUserPermission",
                "Role:listUserRoles",
                "User:getDefaultPermissions",
            ],
        },
    )
    assert client.get(f"/security/users/robot/permissions/{page}", **HX).status_code == 200
