"""SAM user and root passwords over the JSON API (soracom-api.md §4.2, §4.4)."""

import pytest
from django.test import Client

from accounts.models import Principal
from security.models import AuditEntry
from tests.api.harness import call, error_of, snapshot
from tests.api.test_users_api import grant, users_path
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD

NEW_PASSWORD = "a-Brand-new-passw0rd"


def password_path(user, name: str) -> str:
    return users_path(user, name) + "/password"


def operator_password_path(root) -> str:
    return f"/v1/operators/{root.operator_id}/password"


def can_sign_in(user: Principal, password: str) -> bool:
    if user.is_root:
        body = {"email": user.email, "password": password}
    else:
        body = {"operatorId": user.operator_id, "userName": user.user_name, "password": password}
    return Client().post("/v1/auth", body, content_type="application/json").status_code == 200


# Access ------------------------------------------------------------------------------------


def test_it_answers_another_operators_password_calls_like_missing_ones(root, alice, outsider_api):
    change = {"currentPassword": SAM_PASSWORD, "newPassword": NEW_PASSWORD}
    bodies = {"POST": {"password": NEW_PASSWORD}, "GET": None, "PUT": change, "DELETE": None}
    for method, body in bodies.items():
        foreign = call(method, password_path(alice, "alice"), outsider_api, body)
        missing = call(method, password_path(alice, "nobody"), outsider_api, body)
        assert foreign.status_code == 404
        assert foreign.content == missing.content
    alice.refresh_from_db()
    assert alice.check_password(SAM_PASSWORD)


def test_it_refuses_another_users_password_without_permission(alice, robot, alice_api):
    grant(alice, "User:createUserPassword", "User:updateUserPassword")
    response = call("POST", password_path(robot, "robot"), alice_api, {"password": NEW_PASSWORD})
    assert response.status_code == 403
    robot.refresh_from_db()
    assert not robot.has_usable_password()


def test_it_keeps_the_root_password_root_only(root, alice, alice_api):
    grant(alice, "*", own=False)
    body = {"currentPassword": ROOT_PASSWORD, "newPassword": NEW_PASSWORD}
    response = call("POST", operator_password_path(root), alice_api, body)
    assert response.status_code == 403
    assert can_sign_in(root, ROOT_PASSWORD)


# createUserPassword ------------------------------------------------------------------------


def test_it_creates_a_first_password_with_201_and_no_body(root, robot, root_api):
    response = call("POST", password_path(robot, "robot"), root_api, {"password": NEW_PASSWORD})
    assert response.status_code == 201
    assert response.content == b""
    assert can_sign_in(robot, NEW_PASSWORD)
    assert AuditEntry.objects.filter(action="User:createUserPassword", target="robot").exists()


def test_it_answers_409_when_the_user_already_has_a_password(root, alice, root_api):
    before = snapshot()
    response = call("POST", password_path(alice, "alice"), root_api, {"password": NEW_PASSWORD})
    assert response.status_code == 409
    assert snapshot() == before


@pytest.mark.parametrize(
    "password",
    ["shortpw1", "password123", "1234567890123", "x" * 257, "nul\u0000in-the-middle-here"],
)
def test_it_refuses_a_weak_or_odd_password_without_echoing_it(root, robot, root_api, password):
    before = snapshot()
    response = call("POST", password_path(robot, "robot"), root_api, {"password": password})
    assert response.status_code == 400
    assert password not in error_of(response)["message"]
    assert snapshot() == before


BAD_BODIES = [
    ("malformed", '{"password": '),
    ("empty object", "{}"),
    ("null", '{"password": null}'),
    ("number", '{"password": 1234567890}'),
    ("array", '{"password": ["a-Brand-new-passw0rd"]}'),
    ("unknown field", '{"password": "a-Brand-new-passw0rd", "hasPassword": false}'),
    ("duplicate keys", '{"password": "a-Brand-new-passw0rd", "password": "b-Brand-new-passw0rd"}'),
    ("lone surrogate", '{"password": "a-Brand-new-passw0rd\\udc00"}'),
]


@pytest.mark.parametrize("label,raw", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_it_refuses_a_bad_create_password_body(root, robot, root_api, label, raw):
    before = snapshot()
    response = call("POST", password_path(robot, "robot"), root_api, raw=raw)
    assert response.status_code == 400, response.content
    assert "Brand-new" not in error_of(response)["message"]
    assert snapshot() == before


# hasUserPassword ---------------------------------------------------------------------------


def test_it_says_whether_a_user_has_a_password(root, alice, robot, root_api):
    assert call("GET", password_path(alice, "alice"), root_api).json() == {"hasPassword": True}
    assert call("GET", password_path(robot, "robot"), root_api).json() == {"hasPassword": False}


def test_it_answers_404_for_the_password_of_a_missing_user(root, root_api):
    response = call("GET", password_path(root, "nobody"), root_api)
    assert error_of(response) == {"code": "LKY0404", "message": "SAM User not found."}


# updateUserPassword ------------------------------------------------------------------------


def test_it_changes_a_password_given_the_current_one(root, alice, root_api):
    body = {"currentPassword": SAM_PASSWORD, "newPassword": NEW_PASSWORD}
    response = call("PUT", password_path(alice, "alice"), root_api, body)
    assert response.status_code == 200
    assert response.content == b""
    assert can_sign_in(alice, NEW_PASSWORD)
    assert not can_sign_in(alice, SAM_PASSWORD)


def test_it_lets_a_user_change_its_own_password_with_the_documented_statement(alice, alice_api):
    grant(alice, "User:updateUserPassword")
    body = {"currentPassword": SAM_PASSWORD, "newPassword": NEW_PASSWORD}
    assert call("PUT", password_path(alice, "alice"), alice_api, body).status_code == 200
    assert can_sign_in(alice, NEW_PASSWORD)


def test_it_refuses_a_wrong_current_password_and_keeps_the_old_one(root, alice, root_api):
    body = {"currentPassword": "not-the-password", "newPassword": NEW_PASSWORD}
    response = call("PUT", password_path(alice, "alice"), root_api, body)
    assert response.status_code == 400
    assert error_of(response)["message"] == "The current password is wrong."
    assert can_sign_in(alice, SAM_PASSWORD)
    entry = AuditEntry.objects.get(action="User:updateUserPassword")
    assert entry.outcome == "failed"


def test_it_throttles_guesses_of_the_current_password(root, alice, root_api, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    body = {"currentPassword": "not-the-password", "newPassword": NEW_PASSWORD}
    statuses = [
        call("PUT", password_path(alice, "alice"), root_api, body).status_code for _ in range(4)
    ]
    assert statuses == [400, 400, 400, 429]
    right = {"currentPassword": SAM_PASSWORD, "newPassword": NEW_PASSWORD}
    throttled = call("PUT", password_path(alice, "alice"), root_api, right)
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    alice.refresh_from_db()
    assert alice.check_password(SAM_PASSWORD)


def test_it_refuses_a_weak_new_password_without_spending_a_guess(root, alice, root_api, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 1
    weak = {"currentPassword": "not-the-password", "newPassword": "short"}
    assert call("PUT", password_path(alice, "alice"), root_api, weak).status_code == 400
    right = {"currentPassword": SAM_PASSWORD, "newPassword": NEW_PASSWORD}
    assert call("PUT", password_path(alice, "alice"), root_api, right).status_code == 200


def test_it_answers_404_when_changing_a_password_that_does_not_exist(root, robot, root_api):
    body = {"currentPassword": "anything-at-all", "newPassword": NEW_PASSWORD}
    response = call("PUT", password_path(robot, "robot"), root_api, body)
    assert response.status_code == 404
    assert error_of(response)["message"] == "Password registration is required."


UPDATE_BAD_BODIES = [
    ("missing new", '{"currentPassword": "sam-Password-5678"}'),
    ("missing current", '{"newPassword": "a-Brand-new-passw0rd"}'),
    ("null new", '{"currentPassword": "sam-Password-5678", "newPassword": null}'),
    ("number", '{"currentPassword": 5678, "newPassword": "a-Brand-new-passw0rd"}'),
    ("snake case", '{"current_password": "sam-Password-5678", "new_password": "a-Brand-new-x1"}'),
    ("over-long current", '{"currentPassword": "' + "c" * 300 + '", "newPassword": "a-Brand-n3w"}'),
]


@pytest.mark.parametrize("label,raw", UPDATE_BAD_BODIES, ids=[b[0] for b in UPDATE_BAD_BODIES])
def test_it_refuses_a_bad_update_password_body(root, alice, root_api, label, raw):
    response = call("PUT", password_path(alice, "alice"), root_api, raw=raw)
    assert response.status_code == 400, response.content
    assert "sam-Password" not in error_of(response)["message"]
    assert can_sign_in(alice, SAM_PASSWORD)


# deleteUserPassword ------------------------------------------------------------------------


def test_it_removes_a_password_with_204(root, alice, root_api):
    response = call("DELETE", password_path(alice, "alice"), root_api)
    assert response.status_code == 204
    alice.refresh_from_db()
    assert not alice.has_usable_password()
    assert not can_sign_in(alice, SAM_PASSWORD)


def test_it_answers_404_with_the_contracts_message_when_there_is_no_password(root, robot, root_api):
    response = call("DELETE", password_path(robot, "robot"), root_api)
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "LKY0404",
        "message": "Password registration is required.",
    }


# updateOperatorPassword --------------------------------------------------------------------


def test_it_changes_the_root_password(root, root_api):
    body = {"currentPassword": ROOT_PASSWORD, "newPassword": NEW_PASSWORD}
    response = call("POST", operator_password_path(root), root_api, body)
    assert response.status_code == 200
    assert response.content == b""
    assert can_sign_in(root, NEW_PASSWORD)
    assert AuditEntry.objects.filter(action="Operator:updateOperatorPassword").exists()


def test_it_refuses_a_wrong_current_root_password(root, root_api):
    body = {"currentPassword": "not-the-password", "newPassword": NEW_PASSWORD}
    response = call("POST", operator_password_path(root), root_api, body)
    assert response.status_code == 400
    assert can_sign_in(root, ROOT_PASSWORD)


@pytest.mark.parametrize("label,raw", UPDATE_BAD_BODIES, ids=[b[0] for b in UPDATE_BAD_BODIES])
def test_it_refuses_a_bad_operator_password_body(root, root_api, label, raw):
    response = call("POST", operator_password_path(root), root_api, raw=raw)
    assert response.status_code == 400, response.content
    assert can_sign_in(root, ROOT_PASSWORD)


def test_it_ends_the_users_console_sessions_when_its_password_changes(
    root, alice, alice_client, root_api
):
    assert alice_client.get("/security/users/").status_code != 302  # signed in
    body = {"currentPassword": SAM_PASSWORD, "newPassword": NEW_PASSWORD}
    call("PUT", password_path(alice, "alice"), root_api, body)
    response = alice_client.get("/security/users/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
