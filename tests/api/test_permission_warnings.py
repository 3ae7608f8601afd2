"""A saved permission naming no operation is warned about: X-Latchkey-Warning in the API."""

import json

import pytest

from accounts.models import Role
from security import roles
from tests.api.harness import call

TYPO = json.dumps({"statements": [{"effect": "allow", "api": "User:getUsr"}]})
KNOWN = json.dumps({"statements": [{"effect": "allow", "api": ["User:getUser", "Role:list*"]}]})


def base(operator) -> str:
    return f"/v1/operators/{operator.id}"


@pytest.fixture
def reader(root) -> Role:
    return roles.create_role(None, root, "reader", KNOWN, "")


def test_it_warns_in_a_header_when_a_role_names_no_operation(root_api, operator):
    response = call("POST", f"{base(operator)}/roles/typo", root_api, {"permission": TYPO})
    assert response.status_code == 200
    assert response.json() == {"roleId": "typo"}
    assert response["X-Latchkey-Warning"] == (
        "Statement 1: 'User:getUsr' matches no known API operation. Did you mean 'User:getUser'?"
    )


def test_it_saves_the_document_it_warns_about(root_api, operator):
    call("POST", f"{base(operator)}/roles/typo", root_api, {"permission": TYPO})
    assert Role.objects.get(role_id="typo").permission == TYPO


def test_it_sends_no_warning_for_known_names_and_globs(root_api, operator):
    response = call("POST", f"{base(operator)}/roles/fine", root_api, {"permission": KNOWN})
    assert response.status_code == 200
    assert "X-Latchkey-Warning" not in response


def test_it_warns_about_a_glob_that_matches_nothing(root_api, operator, reader):
    document = json.dumps({"statements": [{"effect": "deny", "api": "Usr:*"}]})
    response = call("PUT", f"{base(operator)}/roles/reader", root_api, {"permission": document})
    assert response.status_code == 200
    assert response["X-Latchkey-Warning"] == "Statement 1: 'Usr:*' matches no known API operation."


def test_it_warns_on_an_inline_permission(root_api, operator, alice):
    url = f"{base(operator)}/users/alice/permission"
    response = call("PUT", url, root_api, {"permission": TYPO})
    assert response.status_code == 200
    assert "'User:getUsr'" in response["X-Latchkey-Warning"]
    alice.refresh_from_db()
    assert alice.inline_permission == TYPO


def test_it_warns_on_default_permissions(root_api, operator):
    url = f"{base(operator)}/users/default_permissions"
    response = call("PUT", url, root_api, {"permissions": TYPO})
    assert response.status_code == 202
    assert response.content == b""
    assert "'User:getUsr'" in response["X-Latchkey-Warning"]


def test_it_bounds_the_warning_header(root_api, operator):
    names = [f"Nope:op{i}" for i in range(40)]
    document = json.dumps({"statements": [{"effect": "allow", "api": names}]})
    response = call("POST", f"{base(operator)}/roles/many", root_api, {"permission": document})
    header = response["X-Latchkey-Warning"]
    assert header.count("matches no known API operation") == 10
    assert header.endswith("; and 30 more")


def test_it_refuses_a_malformed_name_instead_of_warning(root_api, operator):
    document = json.dumps({"statements": [{"effect": "allow", "api": "User getUser"}]})
    response = call("POST", f"{base(operator)}/roles/bad", root_api, {"permission": document})
    assert response.status_code == 400
    assert not Role.objects.filter(role_id="bad").exists()
