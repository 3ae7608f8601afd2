"""The console's password dialogs do exactly what the API's password operations do (issue 9.1).

createUserPassword gives a first password and refuses when one exists (the API's 409);
updateUserPassword needs the current password and is throttled; deleteUserPassword refuses
when there is none (the API's 404). Each dialog is authorized under its own name, and the
audit entry names the operation that was authorized.
"""

import json

import pytest
from django.test import Client

from accounts import policy
from accounts.models import Principal
from security.models import AuditEntry
from tests.conftest import SAM_PASSWORD

HX = {"HTTP_HX_REQUEST": "true"}
NEW = "Fresh-Password-42"
SET = {"new_password": NEW, "confirm_password": NEW}


def change(current: str, new: str = NEW) -> dict:
    return {"current_password": current, "new_password": new, "confirm_password": new}


def allowed_only(user: Principal, *statements: dict) -> Client:
    """Sign a SAM user in whose inline permission is exactly these statements."""
    policy.clear_cache()
    user.inline_permission = json.dumps({"statements": list(statements)})
    user.save()
    user.operator.bump_policy_version()
    client = Client()
    client.force_login(user, backend="accounts.backends.SamUserBackend")
    return client


@pytest.fixture
def admin(operator, alice) -> Principal:
    """alice's target: a SAM user holding allow "*" (the account worth taking over)."""
    user = Principal.objects.create_sam_user(operator, "admin")
    user.set_password(SAM_PASSWORD)
    user.inline_permission = json.dumps({"statements": [{"effect": "allow", "api": "*"}]})
    user.save()
    return user


def work(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, outcome=AuditEntry.Outcome.ALLOWED))


# The takeover (issue 9.1) ---------------------------------------------------------------


def test_it_refuses_a_first_password_for_a_user_who_has_one(alice, admin):
    client = allowed_only(alice, {"effect": "allow", "api": "User:createUserPassword"})
    response = client.post("/security/users/admin/password", SET, **HX)
    assert response.status_code == 409
    admin.refresh_from_db()
    assert admin.check_password(SAM_PASSWORD)
    assert work("User:createUserPassword") == []


def test_it_refuses_a_first_password_for_a_user_who_has_one_even_to_root(root_client, alice):
    response = root_client.post("/security/users/alice/password", SET, **HX)
    assert response.status_code == 409
    assert b"already has a password" in response.content
    alice.refresh_from_db()
    assert alice.check_password(SAM_PASSWORD)


def test_it_says_before_any_post_that_the_user_already_has_a_password(root_client, alice):
    response = root_client.get("/security/users/alice/password", **HX)
    assert response.status_code == 409
    assert b'name="new_password"' not in response.content


def test_it_forbids_the_change_dialog_to_a_holder_of_createUserPassword_only(alice, admin):
    client = allowed_only(alice, {"effect": "allow", "api": "User:createUserPassword"})
    response = client.post("/security/users/admin/password/change", change(SAM_PASSWORD), **HX)
    assert response.status_code == 403
    admin.refresh_from_db()
    assert admin.check_password(SAM_PASSWORD)
    denied = AuditEntry.objects.get(outcome=AuditEntry.Outcome.DENIED)
    assert denied.action == "User:updateUserPassword"


def test_it_honours_a_deny_of_updateUserPassword_in_every_password_dialog(alice, admin):
    client = allowed_only(
        alice,
        {"effect": "allow", "api": "*"},
        {"effect": "deny", "api": "User:updateUserPassword"},
    )
    assert client.post("/security/users/admin/password", SET).status_code == 409
    changed = client.post("/security/users/admin/password/change", change(SAM_PASSWORD))
    assert changed.status_code == 403
    admin.refresh_from_db()
    assert admin.check_password(SAM_PASSWORD)
    assert work("User:updateUserPassword") == work("User:createUserPassword") == []


# First password ---------------------------------------------------------------------------


def test_it_gives_a_first_password_under_createUserPassword(root_client, robot):
    response = root_client.post("/security/users/robot/password", SET, **HX)
    assert response.status_code == 200  # the dialog that says what to send the user
    assert b"Password set for robot" in response.content
    robot.refresh_from_db()
    assert robot.check_password(NEW)
    assert [e.target for e in work("User:createUserPassword")] == ["robot"]


def test_it_offers_the_first_password_form_without_javascript(root_client, robot):
    response = root_client.get("/security/users/robot/password")
    assert b"<html" in response.content
    assert b'name="confirm_password"' in response.content
    assert b'name="current_password"' not in response.content


# Change -------------------------------------------------------------------------------------


def test_it_changes_a_password_given_the_current_one(root_client, alice):
    response = root_client.post("/security/users/alice/password/change", change(SAM_PASSWORD))
    assert response.status_code == 302
    assert response.url == "/security/users/alice/"
    alice.refresh_from_db()
    assert alice.check_password(NEW)
    assert [e.target for e in work("User:updateUserPassword")] == ["alice"]


def test_it_asks_for_the_current_password_in_the_change_dialog(root_client, alice):
    response = root_client.get("/security/users/alice/password/change", **HX)
    assert response.status_code == 200
    assert b'name="current_password"' in response.content
    assert b"<html" not in response.content


def test_it_refuses_a_change_with_a_wrong_current_password(root_client, alice):
    response = root_client.post(
        "/security/users/alice/password/change", change("not-the-password"), **HX
    )
    assert response.status_code == 400
    assert b"current password is wrong" in response.content
    alice.refresh_from_db()
    assert alice.check_password(SAM_PASSWORD)
    failed = AuditEntry.objects.get(action="User:updateUserPassword")
    assert failed.outcome == AuditEntry.Outcome.FAILED


def test_it_throttles_guesses_of_the_current_password_as_the_api_does(root_client, alice, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    url = "/security/users/alice/password/change"
    statuses = [
        root_client.post(url, change("not-the-password"), **HX).status_code for _ in range(4)
    ]
    assert statuses == [400, 400, 400, 429]
    throttled = root_client.post(url, change(SAM_PASSWORD), **HX)
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    alice.refresh_from_db()
    assert alice.check_password(SAM_PASSWORD)


def test_it_answers_404_for_a_change_when_there_is_no_password(root_client, robot):
    response = root_client.post("/security/users/robot/password/change", change("x"), **HX)
    assert response.status_code == 404
    robot.refresh_from_db()
    assert not robot.has_password
    assert work("User:updateUserPassword") == []


def test_it_never_echoes_the_current_password(root_client, alice):
    canary = "Canary-Current-Value-7"
    response = root_client.post("/security/users/alice/password/change", change(canary), **HX)
    assert canary.encode() not in response.content


# Removal ----------------------------------------------------------------------------------


def test_it_refuses_to_remove_a_password_that_does_not_exist(root_client, robot):
    response = root_client.post("/security/users/robot/password/delete", **HX)
    assert response.status_code == 404
    assert b"Password registration is required." in response.content
    assert work("User:deleteUserPassword") == []
